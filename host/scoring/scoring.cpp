#include "scoring/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_map>

#include "store/score_run_repository.hpp"
#include "store/sqlite_tuning.hpp"

namespace crm::host {
namespace {

constexpr std::array<const char*, 4> kTierNames = {"strategic", "key", "potential", "general"};
constexpr std::array<const char*, 3> kAbcNames = {"A", "B", "C"};
constexpr std::array<const char*, 4> kStageNames = {"development", "initial", "stable", "strategic"};

template <std::size_t N>
const char* code_name(const std::array<const char*, N>& names, double code) {
  if (std::isnan(code) || code < 0 || code >= static_cast<double>(N)) {
    return nullptr;
  }
  return names[static_cast<std::size_t>(code)];
}

// The label of an output code, nullptr when the column has none or the code is out of range.
const char* output_label_text(std::string_view column, double code) {
  if (column == "tier") {
    return code_name(kTierNames, code);
  }
  if (column == "abc_class") {
    return code_name(kAbcNames, code);
  }
  if (column == "stage") {
    return code_name(kStageNames, code);
  }
  return nullptr;
}

// Keeps the five contributions of largest magnitude (the ones that explain a score).
void keep_top(std::array<std::pair<std::int16_t, float>, 5>& top, std::int16_t feature, double points) {
  if (points == 0 || std::isnan(points)) {
    return;
  }
  const auto weakest = std::min_element(top.begin(), top.end(), [](const auto& left, const auto& right) {
    return std::fabs(left.second) < std::fabs(right.second);
  });
  if (std::fabs(points) > std::fabs(weakest->second)) {
    *weakest = {feature, static_cast<float>(points)};
  }
}

// Overwrites the batch's columns named like a scorer output feature with the first earlier scorer's output
// of that name (rows [begin, begin + batch size)); left unknown when no scorer gave one.
void fill_scorer_outputs(const std::vector<ScorerOutcome>& earlier, std::size_t begin, FeatureBatch& batch) {
  const auto& derived = scorer_output_feature_names();
  for (std::size_t k = 0; k < batch.feature_names.size(); ++k) {
    if (std::find(derived.begin(), derived.end(), batch.feature_names[k]) == derived.end()) {
      continue;
    }
    for (const ScorerOutcome& outcome : earlier) {
      const std::vector<double>* column = outcome.output(batch.feature_names[k]);
      if (column == nullptr) {
        continue;
      }
      std::vector<double>& values = batch.columns[k];
      std::copy_n(column->begin() + static_cast<std::ptrdiff_t>(begin), values.size(), values.begin());
      break;
    }
  }
}

}  // namespace

RunComparison::RunComparison(ScoreRunRepository& runs, std::int64_t run_id,
                             const std::vector<std::int64_t>& customer_ids)
    : customer_ids_(customer_ids),
      had_row_(customer_ids.size(), 0),
      score_(customer_ids.size(), std::nan("")),
      band_(customer_ids.size()) {
  const std::size_t count = customer_ids.size();
  // The feature build lists customers by ascending id; a lookup table covers any other order.
  const bool ascending = std::is_sorted(customer_ids.begin(), customer_ids.end());
  std::unordered_map<std::int64_t, std::size_t> position;
  if (!ascending) {
    position.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      position.emplace(customer_ids[i], i);
    }
  }
  RowScan<PreviousScoreRow> rows = runs.scan_scores_of_run_before(run_id);
  for (PreviousScoreRow row; rows.next(row);) {
    std::size_t at = count;
    if (ascending) {
      const auto found = std::lower_bound(customer_ids.begin(), customer_ids.end(), row.customer_id);
      if (found != customer_ids.end() && *found == row.customer_id) {
        at = static_cast<std::size_t>(found - customer_ids.begin());
      }
    } else if (const auto found = position.find(row.customer_id); found != position.end()) {
      at = found->second;
    }
    if (at == count) {
      continue;
    }
    had_row_[at] = 1;
    if (row.score) {
      score_[at] = *row.score;
    }
    if (row.band) {
      band_[at] = std::string(*row.band);
    }
  }
}

std::optional<double> RunComparison::compare(std::size_t position, std::optional<double> score,
                                             std::optional<std::string_view> band) {
  if (had_row_[position] == 0) {
    return std::nullopt;
  }
  if (band && (!band_[position] || *band_[position] != *band)) {
    changes_.push_back(
        {customer_ids_[position], band_[position].value_or(std::string()), std::string(*band), score.value_or(0.0)});
  }
  if (score && !std::isnan(score_[position])) {
    return *score - score_[position];
  }
  return std::nullopt;
}

std::vector<BandChange> RunComparison::take_changes() {
  std::sort(changes_.begin(), changes_.end(), [](const BandChange& left, const BandChange& right) {
    return std::tie(left.score, left.customer_id) < std::tie(right.score, right.customer_id);
  });
  return std::move(changes_);
}

const std::vector<double>* ScorerOutcome::output(std::string_view name) const {
  for (std::size_t c = 0; c < output_names.size(); ++c) {
    if (output_names[c] == name) {
      return &outputs[c];
    }
  }
  return nullptr;
}

std::vector<std::string> split_reason_codes(std::string_view stored) {
  std::vector<std::string> codes;
  std::size_t start = 0;
  while (start < stored.size()) {
    const std::size_t end = std::min(stored.find(',', start), stored.size());
    if (end > start) {
      codes.emplace_back(stored.substr(start, end - start));
    }
    start = end + 1;
  }
  return codes;
}

std::string output_label(std::string_view column, double code) {
  const char* text = output_label_text(column, code);
  return text == nullptr ? std::string() : std::string(text);
}

std::vector<LoadedPlugin*> loaded_scorers(PluginHost& plugins) {
  return plugins.plugins_of_kind(CRM_KIND_SCORER);
}

std::vector<std::string> load_stored_models(Store& store, PluginHost& plugins,
                                            std::map<std::string, std::string>& model_labels) {
  std::vector<std::string> untrained;
  ScoreRunRepository models(store.database());
  for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
    if (!is_trainable(*scorer)) {
      continue;
    }
    const std::optional<StoredModel> stored = models.newest_model(scorer->id());
    if (!stored) {
      untrained.push_back(scorer->id());
      continue;
    }
    load_model(*scorer, stored->model);
    model_labels[scorer->id()] = fmt::format("{}+model {}", scorer->record().version, stored->id);
  }
  return untrained;
}

ScoringResult score_customers(PluginHost& plugins, const CustomerFeatures& features, const ScoringSettings& settings,
                              bool explain, const std::function<void(std::size_t, std::size_t)>& progress,
                              const std::vector<std::string>& untrained) {
  ScoringResult result;
  std::vector<LoadedPlugin*> scorers;
  for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
    if (std::find(untrained.begin(), untrained.end(), scorer->id()) != untrained.end()) {
      result.skipped.push_back(fmt::format("{}: no trained model yet; run `crmhost train`", scorer->id()));
    } else {
      scorers.push_back(scorer);
    }
  }
  // A scorer that reads other scorers' outputs (scorer_output_feature_names) runs after the others, which
  // are kept in load order: the host hands it their output columns as features.
  const auto reads_outputs = [](LoadedPlugin* scorer) {
    const std::vector<std::string> wanted = required_features(*scorer);
    return std::any_of(wanted.begin(), wanted.end(), [](const std::string& name) {
      const auto& derived = scorer_output_feature_names();
      return std::find(derived.begin(), derived.end(), name) != derived.end();
    });
  };
  std::stable_partition(scorers.begin(), scorers.end(), [&](LoadedPlugin* scorer) { return !reads_outputs(scorer); });
  const std::size_t customer_count = features.size();
  const std::size_t total_steps = scorers.size() * customer_count;
  std::size_t done = 0;
  for (LoadedPlugin* scorer : scorers) {
    ScorerOutcome outcome;
    outcome.scorer_id = scorer->id();
    outcome.model = scorer->record().version;
    outcome.reason_names = reason_codes(*scorer);
    outcome.output_names = output_column_names(*scorer);
    outcome.feature_names = requested_features(*scorer, features.names);
    outcome.scores.reserve(customer_count);
    outcome.outputs.resize(outcome.output_names.size());
    const bool with_contributions = explain && scorer->has_capability(CRM_CAP_EXPLAIN);
    try {
      for (std::size_t begin = 0; begin < customer_count; begin += settings.batch_size) {
        const std::size_t end = std::min(customer_count, begin + settings.batch_size);
        FeatureBatch input = features.slice(begin, end, outcome.feature_names);
        fill_scorer_outputs(result.scorers, begin, input);
        const ScoreResult batch = score_batch(*scorer, input, with_contributions);
        outcome.scores.insert(outcome.scores.end(), batch.scores.begin(), batch.scores.end());
        outcome.reasons.insert(outcome.reasons.end(), batch.reasons.begin(), batch.reasons.end());
        for (std::size_t c = 0; c < batch.output_columns.size(); ++c) {
          outcome.outputs[c].insert(outcome.outputs[c].end(), batch.output_columns[c].begin(),
                                    batch.output_columns[c].end());
        }
        if (with_contributions) {
          const std::size_t rows = end - begin;
          for (std::size_t i = 0; i < rows; ++i) {
            auto& top = outcome.top_contributions.emplace_back();
            top.fill({-1, 0.0F});
            for (std::size_t k = 0; k < outcome.feature_names.size(); ++k) {
              keep_top(top, static_cast<std::int16_t>(k), batch.contributions[k * rows + i]);
            }
          }
        }
        done += end - begin;
        if (progress) {
          progress(done, total_steps);
        }
      }
    } catch (const PluginCallError& e) {
      result.skipped.push_back(fmt::format("{}: {}", scorer->id(), e.what()));
      continue;
    }
    result.scorers.push_back(std::move(outcome));
  }
  for (std::size_t s = 0; s < result.scorers.size(); ++s) {
    if (result.scorers[s].scorer_id == settings.primary_scorer) {
      result.primary = s;
    }
  }
  if (!result.primary && !result.scorers.empty()) {
    result.primary = 0;
  }
  return result;
}

StoredScoringRun store_scoring_run(Store& store, const CustomerFeatures& features, const ScoringResult& result,
                                   const ScoringSettings& settings, std::int64_t now_ms,
                                   const RunCalibration* calibration) {
  Database& db = store.database();
  const LargeWrites large_writes(db);
  Transaction transaction(db);
  nlohmann::json scorers = nlohmann::json::object();
  for (const ScorerOutcome& outcome : result.scorers) {
    scorers[outcome.scorer_id] = outcome.model;
  }
  const std::string primary_id = result.primary ? result.scorers[*result.primary].scorer_id : std::string();
  ScoreRunRepository runs(db);
  std::optional<ScoreRunCalibration> run_calibration;
  if (calibration != nullptr) {
    run_calibration = ScoreRunCalibration{calibration->id, calibration->horizon_days};
  }
  const std::int64_t run_id = runs.begin_run(
      {features.as_of_ms, now_ms, primary_id, scorers.dump(), static_cast<std::int64_t>(features.size())},
      run_calibration);
  // Tier, stage, class and the yearly purchases while alive come from whichever scorer outputs them.
  const std::vector<double>* tier = nullptr;
  const std::vector<double>* stage = nullptr;
  const std::vector<double>* abc = nullptr;
  const std::vector<double>* purchases_per_year = nullptr;
  for (const ScorerOutcome& outcome : result.scorers) {
    tier = tier != nullptr ? tier : outcome.output("tier");
    stage = stage != nullptr ? stage : outcome.output("stage");
    abc = abc != nullptr ? abc : outcome.output("abc_class");
    purchases_per_year =
        purchases_per_year != nullptr ? purchases_per_year : outcome.output("purchases_per_year_if_alive");
  }
  std::string reasons;
  std::string scores_json;
  std::string explain_json;
  const ScorerOutcome* primary = result.primary ? &result.scorers[*result.primary] : nullptr;
  RunComparison previous(runs, run_id, features.customer_ids);
  // A run has a handful of bands: counted by name in place, without a string per customer.
  std::vector<std::pair<std::string_view, std::int64_t>> band_counts;
  const auto count_band = [&band_counts](std::string_view band) {
    for (auto& [name, count] : band_counts) {
      if (name == band) {
        ++count;
        return;
      }
    }
    band_counts.emplace_back(band, 1);
  };
  for (std::size_t i = 0; i < features.size(); ++i) {
    CustomerScoreRow row;
    row.run_id = run_id;
    row.customer_id = features.customer_ids[i];
    if (primary != nullptr && !std::isnan(primary->scores[i])) {
      row.score = primary->scores[i];
      row.band = band_of(settings, primary->scores[i]).name;
      const double probability =
          calibration != nullptr ? calibration->map.apply(churn_risk_of_score(primary->scores[i])) : std::nan("");
      if (!std::isnan(probability)) {
        row.churn_probability = probability;
      }
    }
    const auto label = [&](const std::vector<double>* column,
                           std::string_view name) -> std::optional<std::string_view> {
      const char* text = column != nullptr ? output_label_text(name, (*column)[i]) : nullptr;
      return text == nullptr ? std::nullopt : std::optional<std::string_view>(text);
    };
    row.tier = label(tier, "tier");
    row.stage = label(stage, "stage");
    row.abc_class = label(abc, "abc_class");
    // Appended in place: this runs once per customer, and a temporary string per scorer and per
    // contribution showed in the profile of storing a run.
    reasons.clear();
    scores_json.assign("{");
    for (const ScorerOutcome& outcome : result.scorers) {
      if (!outcome.reasons.empty()) {
        for (std::size_t bit = 0; bit < outcome.reason_names.size(); ++bit) {
          if ((outcome.reasons[i] >> bit & 1U) != 0) {
            reasons += reasons.empty() ? "" : ",";
            reasons += outcome.reason_names[bit];
          }
        }
      }
      const double score = outcome.scores[i];
      scores_json += scores_json.size() > 1 ? ",\"" : "\"";
      scores_json += outcome.scorer_id;
      scores_json += "\":";
      if (std::isnan(score)) {
        scores_json += "null";
      } else {
        fmt::format_to(std::back_inserter(scores_json), "{:.2f}", score);
      }
    }
    scores_json += "}";
    row.reasons = reasons;
    row.scores_json = scores_json;
    if (primary != nullptr && !primary->top_contributions.empty()) {
      auto top = primary->top_contributions[i];
      std::sort(top.begin(), top.end(),
                [](const auto& left, const auto& right) { return std::fabs(left.second) > std::fabs(right.second); });
      explain_json.assign("[");
      for (const auto& [feature, points] : top) {
        if (feature >= 0) {
          explain_json += explain_json.size() > 1 ? ",[\"" : "[\"";
          explain_json += primary->feature_names[static_cast<std::size_t>(feature)];
          fmt::format_to(std::back_inserter(explain_json), "\",{:.2f}]", points);
        }
      }
      explain_json += "]";
      row.explain_json = explain_json;
    }
    if (purchases_per_year != nullptr && std::isfinite((*purchases_per_year)[i])) {
      row.purchases_per_year = (*purchases_per_year)[i];
    }
    count_band(row.band.value_or(std::string_view()));
    runs.add_score(row);
    CustomerSortKeyRow key;
    key.run_id = run_id;
    key.customer_id = row.customer_id;
    key.band = row.band;
    key.score = row.score;
    key.value = features.revenue_last_year.empty() ? 0.0 : features.revenue_last_year[i];
    key.score_change = previous.compare(i, row.score, row.band);
    runs.add_sort_key(key);
  }
  std::map<std::string, std::int64_t> band_totals;
  for (const auto& [band, count] : band_counts) {
    band_totals.emplace(band, count);
  }
  std::vector<BandChange> changes = previous.take_changes();
  runs.finish_run(run_id, now_ms, band_totals, changes);
  transaction.commit();
  return {run_id, std::move(changes)};
}

std::int64_t store_model(Store& store, const std::string& scorer_id, const std::string& scorer_version,
                         std::int64_t trained_ms, std::int64_t as_of_ms, int horizon_days, std::size_t customer_count,
                         const std::string& model) {
  return ScoreRunRepository(store.database())
      .add_model({scorer_id, scorer_version, trained_ms, as_of_ms, static_cast<std::int64_t>(horizon_days),
                  static_cast<std::int64_t>(customer_count), model});
}

}  // namespace crm::host
