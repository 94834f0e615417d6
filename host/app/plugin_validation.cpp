#include "app/plugin_validation.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <utility>

#include "core/config.hpp"
#include "crm/record_layout.hpp"
#include "loader/channel_call.hpp"
#include "loader/host_services.hpp"
#include "loader/manifest.hpp"
#include "loader/plugin_call_guard.hpp"
#include "loader/plugin_host.hpp"
#include "loader/scorer_call.hpp"
#include "scoring/features.hpp"
#include "scoring/settings.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Synthetic data is dated here, so that two runs of the kit see the same input.
constexpr std::int64_t kSyntheticAsOfMs = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
constexpr std::uint64_t kSeed = 20'240'101;
constexpr std::size_t kMaxProblemsShown = 3;
constexpr std::size_t kMaxBadConfigurations = 6;
constexpr std::size_t kOneMebibyte = 1024 * 1024;

// Records one result and tells the caller at once (a progress line per check).
class Recorder {
 public:
  Recorder(PluginValidation& result, const PluginValidationOptions& options) : result_(result), options_(options) {}
  void add(const std::string& plugin, const std::string& kind, std::string check, CheckOutcome outcome,
           std::string detail) {
    result_.checks.push_back({plugin, kind, std::move(check), outcome, std::move(detail)});
    if (options_.on_check) {
      options_.on_check(result_.checks.back());
    }
  }

 private:
  PluginValidation& result_;
  const PluginValidationOptions& options_;
};

// One plugin host loading only the file under test, with everything its plugins borrow.
struct HostUnderTest {
  HostUnderTest(Logger& logger, const Clock& clock) : host(logger, clock, state, cancelled) {}
  InMemoryStateStore state;
  std::atomic<bool> cancelled{false};
  PluginHost host;
};

std::optional<json> config_for(const PluginValidationOptions& options, const std::string& id) {
  if (!options.config) {
    return std::nullopt;
  }
  const json& config = *options.config;
  if (config.contains("plugins") && config["plugins"].is_object()) {
    const json& plugins = config["plugins"];
    if (plugins.contains(id) && plugins[id].is_object() && plugins[id].contains("config")) {
      return plugins[id]["config"];
    }
    return std::nullopt;
  }
  return config;
}

std::unique_ptr<HostUnderTest> load_file(const PluginValidationOptions& options, const json& plugin_settings,
                                         Logger& logger, const Clock& clock) {
  auto loaded = std::make_unique<HostUnderTest>(logger, clock);
  PluginHostOptions host_options;
  host_options.plugin_files = {options.file};
  host_options.plugin_settings = plugin_settings;
  host_options.config_dir = options.config_dir;
  host_options.environment = options.environment;
  host_options.available_features = feature_names(FeatureSettings{});
  host_options.allow_writable_plugins = options.allow_writable_plugins;
  loaded->host.load(host_options);
  return loaded;
}

// plugins.<id> for every plugin of the library: its configuration when one was given, and the isolation.
json settings_for(const PluginValidationOptions& options, const std::vector<std::string>& ids) {
  json settings = json::object();
  for (const std::string& id : ids) {
    json entry = {{"isolation", options.isolation}};
    if (const auto config = config_for(options, id)) {
      entry["config"] = *config;
    }
    settings[id] = std::move(entry);
  }
  return settings;
}

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

std::string number_text(double value) {
  return std::isnan(value) ? std::string("NaN") : fmt::format("{}", value);
}

// ------------------------------------------------------------------ scorers

// Plausible values for the host's features: one generative customer (tenure, orders, last purchase), the
// features derived from it, so that learning scorers fit and rhythm-based ones see sane rhythms.
FeatureBatch synthetic_batch(std::size_t customer_count, const std::vector<std::string>& names, std::uint64_t seed) {
  FeatureBatch batch;
  batch.as_of_ms = kSyntheticAsOfMs;
  batch.feature_names = names;
  batch.columns.assign(names.size(), std::vector<double>(customer_count, 0.0));
  batch.customer_ids.reserve(customer_count);
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t i = 0; i < customer_count; ++i) {
    batch.customer_ids.push_back(fmt::format("c{}", i));
    const double tenure = 60.0 + 1400.0 * unit(random);
    const double orders = 1.0 + std::floor(-std::log(1.0 - unit(random) * 0.999) * 6.0);
    const double span = orders > 1 ? tenure * unit(random) : 0.0;
    const double recency = tenure - span;
    const double interval = orders > 1 ? span / (orders - 1) : std::nan("");
    const double spend = orders * (20.0 + 480.0 * unit(random));
    for (std::size_t k = 0; k < names.size(); ++k) {
      const std::string& name = names[k];
      double value = 0.0;
      if (name == "tenure_days") {
        value = tenure;
      } else if (name == "recency_days") {
        value = recency;
      } else if (name == "order_count") {
        value = orders;
      } else if (name == "repeat_purchases") {
        value = orders - 1;
      } else if (name == "purchase_span_days") {
        value = span;
      } else if (name == "mean_interpurchase_days") {
        value = interval;
      } else if (name == "recency_ratio") {
        value = orders > 1 ? recency / std::max(interval, 1.0) : std::nan("");
      } else if (name == "monetary_total") {
        value = spend;
      } else if (name.find("rank") != std::string::npos || name.find("share") != std::string::npos) {
        value = unit(random);
      } else if (name.find("change") != std::string::npos) {
        value = 2.0 * unit(random) - 1.0;
      } else if (name.find("csat") != std::string::npos) {
        value = std::round(40.0 + 60.0 * unit(random));
      } else if (name == "nps" || name.find("nps_") == 0) {
        value = std::round(-50.0 + 130.0 * unit(random));
      } else if (name.find("monetary") != std::string::npos || name.find("spend") != std::string::npos) {
        value = spend * unit(random);
      } else if (name.find("changed") != std::string::npos) {
        value = unit(random) < 0.1 ? 1.0 : 0.0;
      } else if (name.find("days") != std::string::npos) {
        value = std::round(365.0 * unit(random));
      } else {
        value = std::floor(12.0 * unit(random));  // counts: orders, logins, complaints in a window
      }
      batch.columns[k][i] = value;
    }
  }
  return batch;
}

// Extreme but finite values in every column, cycling so that each customer meets others.
FeatureBatch extreme_batch(const std::vector<std::string>& names) {
  static constexpr double kExtremes[] = {0.0, -1.0, 1.0, 1e12, -1e12, 1e-300, 36'500.0, -36'500.0, 0.5, 1e6, -0.0};
  constexpr std::size_t kCount = std::size(kExtremes);
  FeatureBatch batch;
  batch.as_of_ms = kSyntheticAsOfMs;
  batch.feature_names = names;
  const std::size_t customer_count = kCount * kCount;
  batch.columns.assign(names.size(), std::vector<double>(customer_count, 0.0));
  for (std::size_t i = 0; i < customer_count; ++i) {
    batch.customer_ids.push_back(fmt::format("x{}", i));
    for (std::size_t k = 0; k < names.size(); ++k) {
      batch.columns[k][i] = kExtremes[(i + k * (i / kCount + 1)) % kCount];
    }
  }
  return batch;
}

struct Scored {
  std::optional<ScoreResult> result;
  std::string error;  // why there is no result
};

Scored try_score(LoadedPlugin& scorer, const FeatureBatch& batch) {
  Scored scored;
  try {
    scored.result = score_batch(scorer, batch, false);
  } catch (const PluginCallError& e) {
    scored.error = fmt::format("{} ({} status)", e.what(), status_name(e.status()));
  } catch (const std::exception& e) {
    scored.error = e.what();
  }
  return scored;
}

// The first customer whose outputs differ between two results of the same input, described; "" when none.
std::string first_difference(const FeatureBatch& batch, const ScoreResult& first, const ScoreResult& second,
                             const std::vector<std::string>& column_names) {
  for (std::size_t i = 0; i < batch.customer_ids.size(); ++i) {
    if (!same_value(first.scores[i], second.scores[i])) {
      return fmt::format("customer {} scored {} then {}", batch.customer_ids[i], number_text(first.scores[i]),
                         number_text(second.scores[i]));
    }
    if (!first.reasons.empty() && first.reasons[i] != second.reasons[i]) {
      return fmt::format("customer {} had reason bits {:#x} then {:#x}", batch.customer_ids[i], first.reasons[i],
                         second.reasons[i]);
    }
    for (std::size_t c = 0; c < first.output_columns.size(); ++c) {
      if (!same_value(first.output_columns[c][i], second.output_columns[c][i])) {
        return fmt::format("customer {} had {} {} then {}", batch.customer_ids[i], column_names[c],
                           number_text(first.output_columns[c][i]), number_text(second.output_columns[c][i]));
      }
    }
  }
  return {};
}

std::vector<double> synthetic_labels(const FeatureBatch& batch, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> labels(batch.customer_ids.size(), 0.0);
  const auto recency = std::find(batch.feature_names.begin(), batch.feature_names.end(), "recency_days");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    double risk = 0.3;
    if (recency != batch.feature_names.end()) {
      const double days = batch.columns[static_cast<std::size_t>(recency - batch.feature_names.begin())][i];
      risk = std::clamp(days / 900.0, 0.05, 0.95);
    }
    labels[i] = unit(random) < risk ? 1.0 : 0.0;
  }
  return labels;
}

void check_scorer(LoadedPlugin& scorer, Recorder& recorder, const PluginValidationOptions& options) {
  const std::string& id = scorer.id();
  const std::string kind = "scorer";
  const auto add = [&](const char* check, CheckOutcome outcome, std::string detail) {
    recorder.add(id, kind, check, outcome, std::move(detail));
  };
  const std::vector<std::string> features = required_features(scorer);
  const std::vector<std::string> codes = reason_codes(scorer);
  const std::vector<std::string> columns = output_column_names(scorer);

  if (is_trainable(scorer)) {
    // Learning scorers score nothing before a model exists: train first, as `crmhost train` does.
    try {
      const FeatureBatch training = synthetic_batch(2000, features, kSeed + 1);
      const std::string model = train_scorer(scorer, training, synthetic_labels(training, kSeed + 2), 90);
      const FeatureBatch probe = synthetic_batch(500, features, kSeed + 3);
      const Scored before = try_score(scorer, probe);
      if (!before.result) {
        add("train and model round trip", CheckOutcome::fail, "after training, scoring failed: " + before.error);
      } else {
        load_model(scorer, model);
        const Scored after = try_score(scorer, probe);
        if (!after.result) {
          add("train and model round trip", CheckOutcome::fail,
              "after load_model of its own saved model, scoring failed: " + after.error);
        } else if (const std::string difference = first_difference(probe, *before.result, *after.result, columns);
                   !difference.empty()) {
          add("train and model round trip", CheckOutcome::fail,
              fmt::format("the model saved and loaded back scores differently: {}", difference));
        } else {
          add("train and model round trip", CheckOutcome::pass,
              fmt::format("trained on 2000 synthetic customers; a {}-byte model loads back to the same scores",
                          model.size()));
        }
      }
    } catch (const PluginCallError& e) {
      add("train and model round trip", CheckOutcome::fail,
          fmt::format("{} ({} status)", e.what(), status_name(e.status())));
    } catch (const std::exception& e) {
      add("train and model round trip", CheckOutcome::fail, e.what());
    }
  }

  {
    const Scored empty = try_score(scorer, synthetic_batch(0, features, kSeed));
    add("empty batch", empty.result ? CheckOutcome::pass : CheckOutcome::fail,
        empty.result ? "" : "a batch of 0 customers failed: " + empty.error);
  }

  {
    FeatureBatch all_missing = synthetic_batch(10, features, kSeed + 4);
    for (auto& column : all_missing.columns) {
      std::fill(column.begin(), column.end(), std::nan(""));
    }
    FeatureBatch some_missing = synthetic_batch(200, features, kSeed + 5);
    std::mt19937_64 random(kSeed + 6);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (auto& column : some_missing.columns) {
      for (double& value : column) {
        value = unit(random) < 0.3 ? std::nan("") : value;
      }
    }
    const Scored first = try_score(scorer, all_missing);
    const Scored second = first.result ? try_score(scorer, some_missing) : Scored{};
    if (!first.result) {
      add("NaN features", CheckOutcome::fail, "every feature NaN for 10 customers: " + first.error);
    } else if (!second.result) {
      add("NaN features", CheckOutcome::fail, "30 % of the features NaN for 200 customers: " + second.error);
    } else {
      add("NaN features", CheckOutcome::pass, "");
    }
  }

  for (const std::size_t size : options.scorer_batch_sizes) {
    const Scored sized = try_score(scorer, synthetic_batch(size, features, kSeed + 7));
    add(fmt::format("batch size {}", size).c_str(), sized.result ? CheckOutcome::pass : CheckOutcome::fail,
        sized.error);
  }

  const FeatureBatch probe = synthetic_batch(1000, features, kSeed + 8);
  const Scored first = try_score(scorer, probe);
  const Scored second = try_score(scorer, probe);
  if (!first.result || !second.result) {
    add("same input same output", CheckOutcome::fail, first.result ? second.error : first.error);
  } else if (const std::string difference = first_difference(probe, *first.result, *second.result, columns);
             !difference.empty()) {
    add("same input same output", CheckOutcome::fail, difference);
  } else {
    add("same input same output", CheckOutcome::pass, "1000 customers scored twice, bit for bit the same");
  }

  {
    // score_batch refuses a score outside 0-100 naming the customer; extreme inputs find unclamped formulas.
    const Scored extreme = try_score(scorer, extreme_batch(features));
    add("scores in range", extreme.result ? CheckOutcome::pass : CheckOutcome::fail,
        extreme.result ? "every score in [0, 100] or NaN, extreme feature values included"
                       : "with extreme feature values: " + extreme.error);
  }

  {
    std::set<std::string> unique;
    std::string problem;
    for (const std::string& name : features) {
      if (name.empty() || !unique.insert(name).second) {
        problem = fmt::format("feature '{}' is declared twice or empty in required_features", name);
      }
    }
    if (!problem.empty()) {
      add("declared features", CheckOutcome::fail, problem);
    } else if (features.empty()) {
      add("declared features", CheckOutcome::pass, "declares no features, and scores with none given");
    } else if (first.result) {
      // Given exactly its declared features, in another order: a scorer reads them by name.
      FeatureBatch reordered = probe;
      std::reverse(reordered.feature_names.begin(), reordered.feature_names.end());
      std::reverse(reordered.columns.begin(), reordered.columns.end());
      const Scored shuffled = try_score(scorer, reordered);
      if (!shuffled.result) {
        add("declared features", CheckOutcome::fail,
            "given exactly its declared features in another order, it failed: " + shuffled.error);
      } else if (!second.result || !first_difference(probe, *first.result, *second.result, columns).empty()) {
        // Scores that change from call to call cannot tell reading by position from noise (its own check).
        add("declared features", CheckOutcome::pass,
            fmt::format("{} declared; scores from exactly those (order not judged: its scores vary between calls)",
                        features.size()));
      } else if (const std::string difference = first_difference(probe, *first.result, *shuffled.result, columns);
                 !difference.empty()) {
        add("declared features", CheckOutcome::fail,
            "it reads features by position, not by name: with the columns in another order, " + difference);
      } else {
        add("declared features", CheckOutcome::pass,
            fmt::format("{} declared; scores from exactly those, in any order", features.size()));
      }
    } else {
      add("declared features", CheckOutcome::fail, "given exactly its declared features, it failed: " + first.error);
    }
  }

  if (!first.result) {
    add("reason codes", CheckOutcome::fail, "no scores to look at: " + first.error);
    add("output columns", CheckOutcome::fail, "no scores to look at: " + first.error);
    return;
  }
  const ScoreResult& result = *first.result;
  {
    const std::uint64_t allowed = codes.size() >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << codes.size()) - 1;
    std::string problem;
    for (std::size_t i = 0; i < result.reasons.size() && problem.empty(); ++i) {
      if ((result.reasons[i] & ~allowed) != 0) {
        problem = fmt::format("customer {} has reason bits {:#x}, but it declares {} reason code{}",
                              probe.customer_ids[i], result.reasons[i], codes.size(), codes.size() == 1 ? "" : "s");
      }
    }
    add("reason codes", problem.empty() ? CheckOutcome::pass : CheckOutcome::fail,
        problem.empty() ? fmt::format("{} declared; no other bit set", codes.size()) : problem);
  }
  {
    std::string problem;
    const bool any_scored =
        std::any_of(result.scores.begin(), result.scores.end(), [](double score) { return !std::isnan(score); });
    for (std::size_t c = 0; c < result.output_columns.size() && problem.empty(); ++c) {
      const std::vector<double>& column = result.output_columns[c];
      bool filled = false;
      for (std::size_t i = 0; i < column.size() && problem.empty(); ++i) {
        if (std::isinf(column[i])) {
          problem = fmt::format("output column {} is {} for customer {}; give a finite value or NaN", columns[c],
                                column[i], probe.customer_ids[i]);
        }
        filled = filled || !std::isnan(column[i]);
      }
      if (problem.empty() && any_scored && !filled) {
        problem = fmt::format("output column {} is declared but never filled (NaN for all 1000 customers)", columns[c]);
      }
    }
    add("output columns", problem.empty() ? CheckOutcome::pass : CheckOutcome::fail,
        problem.empty() ? fmt::format("{} declared, each filled or NaN", columns.size()) : problem);
  }
}

// ------------------------------------------------------------------ connectors

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    }
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code = byte & 0x1Fu;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code = byte & 0x0Fu;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code = byte & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (std::size_t j = 1; j < length; ++j) {
      const auto next = static_cast<unsigned char>(text[i + j]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3Fu);
    }
    const std::uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// What one fetch gave, copied before the next call on the instance invalidates it.
struct Fetched {
  crm_status status = CRM_STATUS_FATAL;
  std::string message;
  std::map<std::string, std::vector<std::string>> keys;  // by record type: "order" -> "INV-1"; "attribute" -> "C1/tier"
  std::string next_cursor;
  bool has_more = false;
  std::uint64_t source_records = 0;
  std::size_t records = 0;
  std::vector<std::string> problems;  // of records valid, the first few
  std::size_t bad_records = 0;        // records with a problem

  // How much the call read: what it says it read, or at least what it returned.
  [[nodiscard]] std::uint64_t amount() const { return std::max<std::uint64_t>(source_records, records); }
};

std::string_view text_of(crm_str text) {
  return text.data == nullptr ? std::string_view{} : std::string_view(text.data, text.size);
}

void check_record(const crm::RecordLayout& layout, const unsigned char* record, std::uint32_t record_size,
                  std::size_t index, std::int64_t now_ms, Fetched& fetched) {
  constexpr std::int64_t kYear1900Ms = -2'208'988'800'000;
  constexpr std::int64_t kHundredYearsMs = 100LL * 366 * 86'400'000;
  constexpr std::int64_t kSecondsNotMillisecondsBelow = 100'000'000'000;  // 1973-03-03 in ms
  std::vector<std::string> problems;
  std::string external_id;
  std::string customer_id;
  std::string name;
  for (const crm::RecordField& field : layout) {
    const std::size_t width = field.kind == crm::FieldKind::text   ? sizeof(crm_str)
                              : field.kind == crm::FieldKind::time ? sizeof(std::int64_t)
                                                                   : 1;
    if (field.offset + width > record_size) {
      continue;  // a field of a later SDK than the connector's: not sent
    }
    if (field.kind == crm::FieldKind::text) {
      crm_str value{};
      std::memcpy(&value, record + field.offset, sizeof value);
      if (value.data == nullptr && value.size != 0) {
        problems.push_back(fmt::format("{} has size {} but no data", field.name, value.size));
        continue;
      }
      const std::string_view text = text_of(value);
      if (!valid_utf8(text)) {
        problems.push_back(fmt::format("{} is not valid UTF-8", field.name));
      }
      if (std::string_view(field.name) == "external_id") {
        external_id = text;
      } else if (std::string_view(field.name) == "customer_external_id") {
        customer_id = text;
      } else if (std::string_view(field.name) == "name") {
        name = text;
      }
    } else if (field.kind == crm::FieldKind::time) {
      std::int64_t value = 0;
      std::memcpy(&value, record + field.offset, sizeof value);
      if (value == CRM_TIME_UNKNOWN) {
        continue;
      }
      if (value == 0) {
        problems.push_back(fmt::format("{} is 0 (1970-01-01); an unknown time is CRM_TIME_UNKNOWN", field.name));
      } else if (value > 0 && value < kSecondsNotMillisecondsBelow) {
        problems.push_back(fmt::format("{} is {}, which looks like seconds, not milliseconds", field.name, value));
      } else if (value < kYear1900Ms || value > now_ms + kHundredYearsMs) {
        problems.push_back(
            fmt::format("{} is {}, not a time (ms since the epoch, or CRM_TIME_UNKNOWN)", field.name, value));
      }
    }
  }
  const std::string_view type = layout.name;
  if (layout.type != CRM_RECORD_ATTRIBUTE && external_id.empty()) {
    problems.emplace_back("external_id is empty");
  }
  if (layout.type != CRM_RECORD_CUSTOMER && customer_id.empty()) {
    problems.emplace_back("customer_external_id is empty");
  }
  if (layout.type == CRM_RECORD_ATTRIBUTE && name.empty()) {
    problems.emplace_back("name is empty");
  }
  // A record without its id is a problem of its own (below), not a record delivered twice.
  if (layout.type == CRM_RECORD_ATTRIBUTE ? !customer_id.empty() && !name.empty() : !external_id.empty()) {
    fetched.keys[std::string(type)].push_back(layout.type == CRM_RECORD_ATTRIBUTE ? customer_id + "/" + name
                                                                                  : external_id);
  }
  if (!problems.empty()) {
    ++fetched.bad_records;
    if (fetched.problems.size() < kMaxProblemsShown) {
      fetched.problems.push_back(fmt::format("{} record {} ({}): {}", type, index,
                                             external_id.empty() ? "no id" : external_id, fmt::join(problems, ", ")));
    }
  }
}

Fetched fetch_once(LoadedPlugin& connector, const std::string& cursor, std::int64_t now_ms) {
  Fetched fetched;
  const crm_connector_api* api = connector.connector_api();
  crm_batch batch{};
  batch.struct_size = sizeof(crm_batch);
  ErrorBuffer error;
  {
    const auto lock = connector.call_lock();
    const PluginCallScope in_plugin(connector.id(), "fetch");
    try {
      fetched.status =
          api->fetch(connector.instance(), connector.host_table(), to_crm_str(cursor), &batch, error.get());
    } catch (...) {
      fetched.status = CRM_STATUS_FATAL;
      fetched.message = "the connector threw an exception across the C boundary";
      return fetched;
    }
  }
  fetched.message = error.message();
  if (fetched.status != CRM_STATUS_OK) {
    return fetched;
  }
  fetched.next_cursor = std::string(text_of(batch.next_cursor));
  fetched.has_more = batch.has_more;
  fetched.source_records = batch.source_records;
  const std::vector<crm_record_type> declared(api->record_types, api->record_types + api->record_type_count);
  for (std::size_t s = 0; s < batch.set_count && batch.sets != nullptr; ++s) {
    const crm_record_set& set = batch.sets[s];
    fetched.records += set.count;
    const crm::RecordLayout* layout = crm::record_layout(set.type);
    std::string set_problem;
    if (layout == nullptr) {
      set_problem = fmt::format("a record set of unknown type {}", set.type);
    } else if (std::find(declared.begin(), declared.end(), set.type) == declared.end()) {
      set_problem = fmt::format("it sends {} records but does not declare that record type", layout->name);
    } else if (set.count > 0 && (set.records == nullptr || set.record_size == 0)) {
      set_problem = fmt::format("a set of {} {} records has no records or a record_size of 0", set.count, layout->name);
    }
    if (!set_problem.empty()) {
      fetched.bad_records += set.count;
      fetched.problems.push_back(set_problem);
      continue;
    }
    const auto* base = static_cast<const unsigned char*>(set.records);
    for (std::size_t i = 0; i < set.count; ++i) {
      check_record(*layout, base + i * set.record_size, set.record_size, i, now_ms, fetched);
    }
  }
  return fetched;
}

std::string fetch_failure(const Fetched& fetched) {
  return fmt::format("{} error: {}", status_name(fetched.status), fetched.message);
}

// The top-level "type" of a schema property, for a value of another type.
json wrong_type_value(const json& property) {
  const std::string type =
      property.contains("type") && property["type"].is_string() ? property["type"].get<std::string>() : std::string();
  if (type == "string") {
    return 12345;
  }
  if (type == "integer" || type == "number") {
    return "not a number";
  }
  if (type == "boolean") {
    return "yes";
  }
  if (type == "array" || type == "object") {
    return "x";
  }
  if (property.contains("enum")) {
    return "not-one-of-the-enum";
  }
  return nullptr;
}

bool host_handles(const json& property) {
  return property.is_object() && (property.value("x-crm-secret", false) || property.contains("x-crm-host-setting"));
}

// Configurations a correct connector must refuse as a configuration error, derived from its schema and the
// given configuration: each required field dropped, a field of the wrong type, a path that does not exist.
// The label of the bad configuration naming a path that does not exist: a missing path may also be a share
// not mounted yet, so RETRIABLE is an answer too (never FATAL, never OK).
constexpr std::string_view kMissingPathLabel = "naming a path that does not exist";

std::vector<std::pair<std::string, json>> bad_configurations(const json& schema, const json& base) {
  std::vector<std::pair<std::string, json>> variants;
  std::set<std::string> seen;
  const auto add = [&](std::string what, json config) {
    if (variants.size() < kMaxBadConfigurations && seen.insert(config.dump()).second) {
      variants.emplace_back(std::move(what), std::move(config));
    }
  };
  const json properties =
      schema.contains("properties") && schema["properties"].is_object() ? schema["properties"] : json::object();
  for (const auto& [name, property] : properties.items()) {
    if (property.is_object() && property.value("x-crm-path", false) && !host_handles(property)) {
      json config = base;
      config[name] = "/nonexistent/crmhost-validate/" + name;
      add(fmt::format("{} {}", name, kMissingPathLabel), std::move(config));
    }
  }
  if (schema.contains("required") && schema["required"].is_array()) {
    for (const json& required : schema["required"]) {
      if (!required.is_string()) {
        continue;
      }
      json config = base;
      config.erase(required.get<std::string>());
      add(fmt::format("without the required field {}", required.get<std::string>()), std::move(config));
    }
  }
  for (const auto& [name, property] : properties.items()) {
    if (host_handles(property)) {
      continue;
    }
    json wrong = wrong_type_value(property);
    if (wrong.is_null()) {
      continue;
    }
    std::string label = fmt::format("{} of the wrong type ({})", name, wrong.dump());
    json config = base;
    config[name] = std::move(wrong);
    add(std::move(label), std::move(config));
  }
  return variants;
}

void check_bad_configuration(const std::string& id, const ManifestPlugin& declared,
                             const PluginValidationOptions& options, const std::vector<std::string>& library_ids,
                             Recorder& recorder, Logger& logger, const Clock& clock) {
  const json base = config_for(options, id).value_or(json::object());
  const auto variants =
      bad_configurations(declared.config_schema.value_or(json::object()), base.is_object() ? base : json::object());
  if (variants.empty()) {
    recorder.add(id, "connector", "bad configuration", CheckOutcome::skip,
                 "its config schema has no required field, typed property or path to break");
    return;
  }
  std::vector<std::string> seen;
  for (const auto& [what, config] : variants) {
    json settings = json::object();
    for (const std::string& other : library_ids) {
      settings[other] = {{"enabled", false}};
    }
    settings[id] = {{"config", config}, {"isolation", options.isolation}};
    const std::unique_ptr<HostUnderTest> loaded = load_file(options, settings, logger, clock);
    const auto record = std::find_if(loaded->host.records().begin(), loaded->host.records().end(),
                                     [&](const PluginRecord& candidate) { return candidate.id == id; });
    if (record == loaded->host.records().end()) {
      recorder.add(id, "connector", "bad configuration", CheckOutcome::fail, what + ": the plugin did not load again");
      return;
    }
    if (record->config_invalid) {
      seen.push_back(what + ": refused by its schema");
      continue;
    }
    if (record->state == PluginState::refused) {
      if (record->create_status == CRM_STATUS_CONFIG) {
        seen.push_back(what + ": CONFIG at create");
        continue;
      }
      recorder.add(id, "connector", "bad configuration", CheckOutcome::fail,
                   fmt::format("{}: create must return CONFIG, but {}", what, record->reason));
      return;
    }
    LoadedPlugin* connector = loaded->host.find(id);
    if (connector == nullptr) {
      recorder.add(id, "connector", "bad configuration", CheckOutcome::fail,
                   fmt::format("{}: not loaded ({})", what, record->reason));
      return;
    }
    const Fetched fetched = fetch_once(*connector, "", clock.now_ms());
    if (fetched.status == CRM_STATUS_CONFIG) {
      seen.push_back(what + ": CONFIG at the first fetch");
      continue;
    }
    if (fetched.status == CRM_STATUS_RETRIABLE && what.find(kMissingPathLabel) != std::string::npos) {
      seen.push_back(what + ": RETRIABLE at the first fetch (may be a share not mounted yet)");
      continue;
    }
    recorder.add(id, "connector", "bad configuration", CheckOutcome::fail,
                 fmt::format("{}: the first fetch must return CONFIG, but it returned {}", what,
                             fetched.status == CRM_STATUS_OK ? std::string("OK") : fetch_failure(fetched)));
    return;
  }
  recorder.add(id, "connector", "bad configuration", CheckOutcome::pass, fmt::format("{}", fmt::join(seen, "; ")));
}

void check_connector(const std::string& id, LoadedPlugin* connector, const ManifestPlugin& declared,
                     const PluginValidationOptions& options, const std::vector<std::string>& library_ids,
                     HostUnderTest& loaded, Recorder& recorder, Logger& logger, const Clock& clock) {
  const std::string kind = "connector";
  check_bad_configuration(id, declared, options, library_ids, recorder, logger, clock);
  const char* const source_checks[] = {"cursor round trip", "cancellation", "records valid"};
  const auto all = [&](CheckOutcome outcome, const std::string& detail) {
    for (const char* check : source_checks) {
      recorder.add(id, kind, check, outcome, detail);
    }
  };
  if (!config_for(options, id)) {
    all(CheckOutcome::skip, "needs --config (a configuration pointing at a real source)");
    return;
  }
  if (connector == nullptr) {
    all(CheckOutcome::skip, "not loaded with the configuration given (see its load check)");
    return;
  }
  const Fetched first = fetch_once(*connector, "", clock.now_ms());
  if (first.status != CRM_STATUS_OK) {
    all(CheckOutcome::fail, "the first fetch from \"\" failed: " + fetch_failure(first));
    return;
  }
  const Fetched second = fetch_once(*connector, first.next_cursor, clock.now_ms());

  // Cursor round trip: from the cursor it returned, nothing of the first batch comes again.
  if (second.status != CRM_STATUS_OK) {
    recorder.add(id, kind, "cursor round trip", CheckOutcome::fail,
                 fmt::format("fetching from its own cursor {} failed: {}", first.next_cursor, fetch_failure(second)));
  } else if (first.records == 0) {
    recorder.add(id, kind, "cursor round trip", CheckOutcome::skip,
                 "the source gave no records; point --config at a source with records");
  } else {
    // The source's own records are the type the batch holds most of; records derived from them (the
    // customer of each order line) may come again as updates of what the host has.
    std::string main_type;
    for (const auto& [type, keys] : first.keys) {
      if (main_type.empty() || keys.size() > first.keys.at(main_type).size()) {
        main_type = type;
      }
    }
    const std::vector<std::string> none;
    const std::vector<std::string>& delivered_keys = main_type.empty() ? none : first.keys.at(main_type);
    const std::vector<std::string>& later_keys = second.keys.count(main_type) != 0 ? second.keys.at(main_type) : none;
    const std::set<std::string> delivered(delivered_keys.begin(), delivered_keys.end());
    const auto again = std::find_if(later_keys.begin(), later_keys.end(),
                                    [&](const std::string& key) { return delivered.count(key) != 0; });
    const bool incremental = connector->has_capability(CRM_CAP_INCREMENTAL);
    if (again == later_keys.end()) {
      recorder.add(id, kind, "cursor round trip", CheckOutcome::pass,
                   fmt::format("{} records, then {} more from cursor {}; no {} record delivered twice", first.records,
                               second.records, first.next_cursor, main_type));
    } else if (!first.has_more && !incremental) {
      recorder.add(id, kind, "cursor round trip", CheckOutcome::pass,
                   "not incremental (it does not declare the incremental capability): after its last batch it "
                   "reads its source again, as declared");
    } else {
      recorder.add(id, kind, "cursor round trip", CheckOutcome::fail,
                   fmt::format("{} {} (first batch, has_more {}) came again from its cursor {}", main_type, *again,
                               first.has_more, first.next_cursor));
    }
  }

  // Cancellation: at a batch boundary with the flag set, the fetch says CANCELLED or stops early.
  {
    const std::string boundary = first.has_more ? first.next_cursor : std::string();
    const Fetched& baseline = first.has_more ? second : first;
    if (baseline.status != CRM_STATUS_OK) {
      recorder.add(id, kind, "cancellation", CheckOutcome::fail, "no batch to compare: " + fetch_failure(baseline));
    } else if (baseline.amount() < 2) {
      recorder.add(id, kind, "cancellation", CheckOutcome::skip,
                   fmt::format("the batch after cursor \"{}\" holds {} record(s), too few to see it stop early; point "
                               "--config at a larger source",
                               boundary, baseline.amount()));
    } else {
      loaded.cancelled.store(true);
      const Fetched cancelled = fetch_once(*connector, boundary, clock.now_ms());
      loaded.cancelled.store(false);
      if (cancelled.status == CRM_STATUS_CANCELLED) {
        recorder.add(id, kind, "cancellation", CheckOutcome::pass, "returned CANCELLED");
      } else if (cancelled.status != CRM_STATUS_OK) {
        recorder.add(id, kind, "cancellation", CheckOutcome::fail,
                     "with is_cancelled() true, fetch must return CANCELLED or stop early, but it failed: " +
                         fetch_failure(cancelled));
      } else if (cancelled.amount() < baseline.amount()) {
        recorder.add(id, kind, "cancellation", CheckOutcome::pass,
                     fmt::format("stopped early: read {} of the {} records of that batch", cancelled.amount(),
                                 baseline.amount()));
      } else {
        recorder.add(id, kind, "cancellation", CheckOutcome::fail,
                     fmt::format("ignores cancellation: with is_cancelled() true, fetch from cursor \"{}\" still read "
                                 "all {} records of the batch (has_more {}); check host->is_cancelled() while reading",
                                 boundary, cancelled.amount(), cancelled.has_more));
      }
    }
  }

  // Records valid, over both batches.
  const std::size_t records = first.records + (second.status == CRM_STATUS_OK ? second.records : 0);
  const std::size_t bad = first.bad_records + (second.status == CRM_STATUS_OK ? second.bad_records : 0);
  std::vector<std::string> problems = first.problems;
  for (const std::string& problem : second.problems) {
    if (problems.size() < kMaxProblemsShown) {
      problems.push_back(problem);
    }
  }
  if (records == 0 && problems.empty()) {
    recorder.add(id, kind, "records valid", CheckOutcome::skip,
                 "the source gave no records; point --config at a source with records");
  } else if (bad > 0 || !problems.empty()) {
    recorder.add(id, kind, "records valid", CheckOutcome::fail,
                 fmt::format("{} of {} records bad: {}", bad, records, fmt::join(problems, "; ")));
  } else {
    recorder.add(id, kind, "records valid", CheckOutcome::pass,
                 fmt::format("{} records: ids set, UTF-8, times plausible", records));
  }
}

// ------------------------------------------------------------------ channels

Notification probe_notification(const std::string& id, const std::string& check, const Clock& clock) {
  Notification notification;
  notification.severity = CRM_SEVERITY_WARNING;
  notification.idempotency_key = fmt::format("crm-validate-{}-{}-{}", id, check, clock.now_ms());
  notification.title = "crmhost plugins validate: " + check;
  notification.text = "A message from crmhost's conformance kit (crmhost plugins validate).";
  notification.markdown = "**crmhost plugins validate**: a message from the conformance kit.";
  notification.recipients = {"validate@example.invalid"};
  notification.created_ms = clock.now_ms();
  notification.labels_json = R"({"customer_id":"c1","level":"yellow","reason":"validate"})";
  return notification;
}

std::string delivery_text(const DeliveryResult& result) {
  if (result.outcome == DeliveryOutcome::delivered) {
    return "delivered";
  }
  return fmt::format("{}{}", outcome_name(result.outcome), result.error.empty() ? "" : ": " + result.error);
}

bool permanent_config_or_data(const DeliveryResult& result) {
  return result.outcome == DeliveryOutcome::permanent && !result.stopped_channel &&
         (result.error.rfind("config error", 0) == 0 || result.error.rfind("data error", 0) == 0);
}

void check_channel(const std::string& id, const PluginValidationOptions& options, const json& settings,
                   Recorder& recorder, Logger& logger, const Clock& clock) {
  const std::string kind = "channel";
  // A fresh instance per check: a FATAL in one check stops the channel for the rest of its process.
  const auto fresh = [&]() -> std::pair<std::unique_ptr<HostUnderTest>, LoadedPlugin*> {
    auto loaded = load_file(options, settings, logger, clock);
    LoadedPlugin* channel = loaded->host.find(id);
    return {std::move(loaded), channel};
  };
  {
    auto [loaded, channel] = fresh();
    if (channel == nullptr) {
      return;
    }
    Notification notification = probe_notification(id, "empty-recipients", clock);
    notification.recipients.clear();
    const DeliveryResult result = send_notification(*channel, notification);
    const bool handled = result.outcome == DeliveryOutcome::delivered || permanent_config_or_data(result);
    recorder.add(id, kind, "empty recipients", handled ? CheckOutcome::pass : CheckOutcome::fail,
                 handled ? delivery_text(result)
                         : "with no recipients, send must return OK, CONFIG or DATA, but: " + delivery_text(result));
  }
  {
    auto [loaded, channel] = fresh();
    const std::size_t limit = channel->channel_api()->max_message_bytes;
    const std::size_t size = limit > 0 ? static_cast<std::size_t>(limit) + 1 : kOneMebibyte;
    Notification notification = probe_notification(id, "oversized-text", clock);
    std::string text;
    text.reserve(size + 4);
    while (text.size() < size) {
      text += text.size() % 64 == 0 ? "\n" : "é";  // two-byte characters, so a cut can split one
    }
    notification.text = text;
    notification.markdown = text;
    const DeliveryResult result = send_notification(*channel, notification);
    const bool handled = result.outcome == DeliveryOutcome::delivered || result.outcome == DeliveryOutcome::partial ||
                         permanent_config_or_data(result);
    recorder.add(id, kind, "oversized text", handled ? CheckOutcome::pass : CheckOutcome::fail,
                 fmt::format("{} bytes (max_message_bytes {}): {}", text.size(), limit, delivery_text(result)));
  }
  {
    auto [loaded, channel] = fresh();
    const Notification notification = probe_notification(id, "idempotency", clock);
    const DeliveryResult first = send_notification(*channel, notification);
    const DeliveryResult second = send_notification(*channel, notification);
    const auto accepted = [](const DeliveryResult& result) {
      return result.outcome == DeliveryOutcome::delivered || result.outcome == DeliveryOutcome::partial;
    };
    if (accepted(first) && accepted(second)) {
      recorder.add(id, kind, "idempotency key", CheckOutcome::pass,
                   "the same message sent twice with key " + notification.idempotency_key + " was accepted twice");
    } else {
      recorder.add(id, kind, "idempotency key", CheckOutcome::fail,
                   fmt::format("the same message sent twice with the same key must be accepted both times: first {}, "
                               "then {}",
                               delivery_text(first), delivery_text(second)));
    }
  }
}

}  // namespace

std::string_view check_outcome_name(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::pass:
      return "pass";
    case CheckOutcome::fail:
      return "fail";
    case CheckOutcome::skip:
      return "skip";
  }
  return "?";
}

std::size_t PluginValidation::count(CheckOutcome outcome) const {
  return static_cast<std::size_t>(
      std::count_if(checks.begin(), checks.end(), [&](const CheckResult& check) { return check.outcome == outcome; }));
}

PluginValidation validate_plugin_file(const PluginValidationOptions& options, Logger& logger, const Clock& clock) {
  if (options.config && !options.config->is_object()) {
    throw ConfigError("--config must hold a JSON object: the plugin's configuration, or a crmhost configuration");
  }
  PluginValidation result;
  result.file = options.file;
  Recorder recorder(result, options);

  Manifest manifest;
  std::vector<std::string> ids;
  try {
    manifest = read_manifest(fs::path(options.file).replace_extension(".json"));
    for (const ManifestPlugin& plugin : manifest.plugins) {
      ids.push_back(plugin.id);
    }
  } catch (const ManifestError&) {
    // The loader refuses the library with the manifest's problem, below.
  }
  const json settings = settings_for(options, ids);
  const std::unique_ptr<HostUnderTest> loaded = load_file(options, settings, logger, clock);

  for (const PluginRecord& record : loaded->host.records()) {
    const std::string plugin = record.id.empty() ? options.file.filename().string() : record.id;
    // Its settings carry the isolation, so without --config the loader sees settings that break the schema:
    // that plugin only needs configuration, as one with no settings at all would.
    const bool needs_config =
        record.state == PluginState::unconfigured ||
        (record.state == PluginState::refused && record.config_invalid && !config_for(options, record.id));
    if (record.state == PluginState::refused && !needs_config) {
      recorder.add(plugin, record.kind, "load", CheckOutcome::fail, record.reason);
      continue;
    }
    recorder.add(plugin, record.kind, "load", CheckOutcome::pass,
                 needs_config ? fmt::format("{} {}, ABI {}; needs configuration: {}", record.kind, record.version,
                                            record.abi, record.reason)
                              : fmt::format("{} {}, ABI {}", record.kind, record.version, record.abi));
    LoadedPlugin* instance = loaded->host.find(record.id);
    const auto declared = std::find_if(manifest.plugins.begin(), manifest.plugins.end(),
                                       [&](const ManifestPlugin& candidate) { return candidate.id == record.id; });
    if (record.kind == "connector" && declared != manifest.plugins.end()) {
      check_connector(record.id, instance, *declared, options, ids, *loaded, recorder, logger, clock);
    } else if (instance == nullptr && record.kind == "channel") {
      for (const char* check : {"empty recipients", "oversized text", "idempotency key"}) {
        recorder.add(plugin, record.kind, check, CheckOutcome::skip,
                     "needs --config (a configuration pointing at a receiver)");
      }
    } else if (instance == nullptr) {
      recorder.add(plugin, record.kind, "checks of its kind", CheckOutcome::skip,
                   "needs --config (it cannot start without configuration)");
    } else if (record.kind == "scorer") {
      check_scorer(*instance, recorder, options);
    } else if (record.kind == "channel") {
      check_channel(record.id, options, settings, recorder, logger, clock);
    }
  }
  if (loaded->host.records().empty()) {
    recorder.add(options.file.filename().string(), "", "load", CheckOutcome::fail, "nothing was found to load");
  }
  return result;
}

}  // namespace crm::host
