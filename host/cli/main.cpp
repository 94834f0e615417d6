#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alert_engine.hpp"
#include "app/host_config.hpp"
#include "cli/exit_codes.hpp"
#include "cli/plugin_table.hpp"
#include "cli/progress.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/dates.hpp"
#include "core/logger.hpp"
#include "loader/plugin_call_guard.hpp"
#include "loader/plugin_host.hpp"
#include "scoring/backtest.hpp"
#include "scoring/features.hpp"
#include "scoring/known_labels.hpp"
#include "scoring/scoring.hpp"
#include "store/job_lock.hpp"
#include "store/store.hpp"
#include "sync/sync_engine.hpp"
#include "winback/campaigns.hpp"
#include "winback/lost_customers.hpp"

namespace {

using namespace crm::host;  // NOLINT(google-build-using-namespace): the entry point of the host

std::atomic<bool> g_cancelled{false};
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int signal_number) {
  g_stop_signal.store(signal_number);
  g_cancelled.store(true);
}

// 128 + the signal, as a shell reports a process the signal killed: cron and
// systemd tell Ctrl-C (130) from a SIGTERM (143).
int cancelled_exit_code() {
  return g_stop_signal.load() == SIGTERM ? kExitTerminated : kExitCancelled;
}

// A failure the command itself recognised, with its own exit code: a value
// on the command line that cannot be right (2), something it names that the
// store does not have (8), a plugin the job needed refused (4).
class CommandError : public std::runtime_error {
 public:
  CommandError(int exit_code, const std::string& message) : std::runtime_error(message), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

struct GlobalOptions {
  std::string config_path;
  std::vector<std::string> plugin_dirs;
  bool no_default_plugin_dir = false;
  std::string db_path;
  std::string log_level;
  bool verbose = false;
};

// What every command needs: time, logs, configuration, where plugins are.
struct Session {
  SystemClock clock;
  Logger logger{clock};
  HostConfig config;
  PluginHostOptions plugin_options;
  std::optional<std::filesystem::path> database;
};

// The configuration file when --config is not given: $CRMHOST_CONFIG (which
// must exist), else ./crmhost.json, else /etc/crmhost/config.json, else none.
std::optional<std::filesystem::path> find_config(const GlobalOptions& options) {
  if (!options.config_path.empty()) {
    return std::filesystem::path(options.config_path);
  }
  const char* from_environment = std::getenv("CRMHOST_CONFIG");  // NOLINT(concurrency-mt-unsafe): before any thread
  if (from_environment != nullptr && *from_environment != '\0') {
    if (!std::filesystem::is_regular_file(from_environment)) {
      throw ConfigError(
          fmt::format("CRMHOST_CONFIG names {}, which is not a file; fix the variable or unset it", from_environment));
    }
    return std::filesystem::path(from_environment);
  }
  for (const char* candidate : {"crmhost.json", "/etc/crmhost/config.json"}) {
    if (std::filesystem::is_regular_file(candidate)) {
      return std::filesystem::path(candidate);
    }
  }
  return std::nullopt;
}

void prepare(const GlobalOptions& options, Session& session, LogLevel default_level) {
  if (const std::optional<std::filesystem::path> config_path = find_config(options)) {
    session.config = load_host_config(*config_path);
    session.plugin_options.config_dir = std::filesystem::absolute(*config_path).parent_path();
  }
  std::string level_name = options.log_level;
  if (level_name.empty() && session.config.log_level) {
    level_name = *session.config.log_level;
  }
  session.logger.set_threshold(level_name.empty() ? default_level : parse_log_level(level_name).value());
  if (!options.no_default_plugin_dir) {
    session.plugin_options.plugin_dirs.push_back(default_plugin_dir());
  }
  for (const auto& directory : session.config.plugin_dirs) {
    session.plugin_options.plugin_dirs.push_back(directory);
  }
  for (const auto& directory : options.plugin_dirs) {
    session.plugin_options.plugin_dirs.emplace_back(directory);
  }
  session.plugin_options.plugin_settings = session.config.plugins;
  session.plugin_options.unknown_plugin_ids_are_errors = true;
  session.plugin_options.allow_writable_plugins = session.config.allow_writable_plugins;
  session.plugin_options.available_features = feature_names(session.config.features);
  session.plugin_options.host_settings = plugin_visible_settings(session.config.value_classes);
  if (!options.db_path.empty()) {
    session.database = options.db_path;
  } else if (session.config.database) {
    session.database = session.config.database;
  } else {
    session.database = std::filesystem::path("crm.db");
  }
}

// Holding the job lock proves no other job runs: runs still marked running were cut short.
void close_interrupted_runs(Session& session, Store& store, const JobLock& held) {
  const std::vector<InterruptedRun> runs = store.close_interrupted_runs(held, session.clock.now_ms());
  if (!runs.empty()) {
    session.logger.log(LogLevel::warn, "host", describe_interrupted_runs(runs));
  }
}

// Says on stderr which plugins of the kinds a command needs were refused (a
// library whose kind is unknown might have been one) and counts them: the
// command carries on without them, and exits 4 (kExitPartial) when it ends.
std::size_t report_refusals(const PluginHost& host, std::initializer_list<std::string_view> kinds) {
  std::size_t refused = 0;
  for (const PluginRecord& record : host.records()) {
    if (record.state != PluginState::refused ||
        (!record.kind.empty() && std::find(kinds.begin(), kinds.end(), record.kind) == kinds.end())) {
      continue;
    }
    std::cerr << fmt::format("crmhost: plugin '{}' refused: {}\n",
                             record.id.empty() ? record.file.filename().string() : record.id, record.reason);
    ++refused;
  }
  return refused;
}

int command_plugins(const GlobalOptions& options, bool as_json) {
  Session session;
  // The table already shows every refusal; log lines would only repeat them.
  prepare(options, session, LogLevel::error);
  InMemoryStateStore state;
  PluginHost host(session.logger, session.clock, state, g_cancelled);
  host.load(session.plugin_options);
  if (as_json) {
    std::cout << plugin_records_json(host.records()).dump(2) << '\n';
  } else {
    print_plugin_table(std::cout, host.records());
  }
  return kExitOk;
}

SyncOptions sync_options(const Session& session, ProgressLine& progress) {
  SyncOptions options;
  options.match_keys = parse_match_keys(session.config.match_keys);
  options.max_attempts = session.config.sync_max_attempts;
  options.initial_backoff_ms = session.config.sync_initial_backoff_ms;
  options.max_backoff_ms = session.config.sync_max_backoff_ms;
  options.on_progress = [&progress](const SyncSummary& summary) {
    const double seconds = static_cast<double>(std::max<std::int64_t>(summary.duration_ms, 1)) / 1000.0;
    progress.update(fmt::format("{}: {} read, {} stored, {} quarantined, {:.0f} records/s", summary.connector_id,
                                summary.source_records, summary.fetched, summary.quarantined,
                                static_cast<double>(summary.source_records) / seconds));
  };
  return options;
}

nlohmann::json sync_summary_json(const SyncSummary& summary) {
  return {{"connector", summary.connector_id},  {"status", summary.status},
          {"message", summary.message},         {"read", summary.source_records},
          {"fetched", summary.fetched},         {"inserted", summary.counts.inserted},
          {"updated", summary.counts.updated},  {"unchanged", summary.counts.unchanged},
          {"quarantined", summary.quarantined}, {"skipped", summary.skipped()},
          {"cursor", summary.cursor},           {"duration_ms", summary.duration_ms}};
}

std::string sync_summary_line(const SyncSummary& summary) {
  std::string line = fmt::format(
      "{}: {}, read {}, fetched {} (inserted {}, updated {}, unchanged {}), quarantined {}, skipped {}, cursor {}, "
      "{:.1f} s",
      summary.connector_id, summary.status, summary.source_records, summary.fetched, summary.counts.inserted,
      summary.counts.updated, summary.counts.unchanged, summary.quarantined, summary.skipped(),
      summary.cursor.empty() ? "-" : summary.cursor, static_cast<double>(summary.duration_ms) / 1000.0);
  if (!summary.message.empty()) {
    line += ": " + summary.message;
  }
  return line;
}

// Syncs every loaded connector, or only `only_id`. Throws ConfigError when `only_id` is not usable.
std::vector<SyncSummary> sync_connectors(Session& session, Store& store, PluginHost& host, const std::string& only_id) {
  std::vector<LoadedPlugin*> connectors = host.plugins_of_kind(CRM_KIND_CONNECTOR);
  if (!only_id.empty()) {
    LoadedPlugin* chosen = host.find(only_id);
    if (chosen == nullptr || chosen->descriptor().kind != CRM_KIND_CONNECTOR) {
      for (const PluginRecord& record : host.records()) {
        if (record.id != only_id) {
          continue;
        }
        const std::string problem =
            fmt::format("connector '{}' cannot sync ({}{})", only_id, plugin_state_name(record.state),
                        record.reason.empty() ? "" : ": " + record.reason);
        if (record.state == PluginState::refused) {
          throw CommandError(kExitPartial, problem);
        }
        if (record.kind != "connector") {
          throw CommandError(kExitUsage, fmt::format("plugin '{}' is a {}, not a connector", only_id, record.kind));
        }
        throw ConfigError(problem);
      }
      throw CommandError(kExitNotFound,
                         fmt::format("no plugin '{}' was found; `crmhost plugins` lists the connectors", only_id));
    }
    connectors = {chosen};
  }
  ProgressLine progress;
  SyncEngine engine(store, session.logger, session.clock, g_cancelled, sync_options(session, progress));
  std::vector<SyncSummary> summaries;
  for (LoadedPlugin* connector : connectors) {
    summaries.push_back(engine.sync(*connector));
    progress.clear();
    if (g_cancelled.load()) {
      break;
    }
  }
  return summaries;
}

int command_sync(const GlobalOptions& options, const std::string& connector_id, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  const JobLock one_job_at_a_time(session.database->string(), "sync", session.clock.now_ms());
  Store store(session.database->string());
  close_interrupted_runs(session, store, one_job_at_a_time);
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);
  const std::size_t refused = connector_id.empty() ? report_refusals(host, {"connector"}) : 0;
  const std::vector<SyncSummary> summaries = sync_connectors(session, store, host, connector_id);
  nlohmann::json report = nlohmann::json::array();
  bool failed = false;
  for (const SyncSummary& summary : summaries) {
    failed = failed || summary.status == "failed";
    if (as_json) {
      report.push_back(sync_summary_json(summary));
    } else {
      std::cout << sync_summary_line(summary) << '\n';
    }
  }
  if (as_json) {
    std::cout << report.dump(2) << '\n';
  } else if (summaries.empty()) {
    std::cout << (refused > 0 ? fmt::format("no connector could run: {} refused; see `crmhost plugins`\n", refused)
                              : std::string("no connector is configured; see `crmhost plugins`\n"));
  }
  if (g_cancelled.load()) {
    return cancelled_exit_code();
  }
  if (failed) {
    return kExitSyncFailed;
  }
  return refused > 0 ? kExitPartial : kExitOk;
}

int command_quarantine_list(const GlobalOptions& options, const std::string& connector_id, bool include_released,
                            bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  const auto entries = store.list_quarantine(connector_id, !include_released);
  if (as_json) {
    nlohmann::json list = nlohmann::json::array();
    for (const QuarantineEntry& entry : entries) {
      list.push_back({{"id", entry.id},
                      {"connector", entry.plugin_id},
                      {"reason", entry.reason},
                      {"created_ms", entry.created_ms},
                      {"reprocessed_ms", entry.reprocessed_ms ? nlohmann::json(*entry.reprocessed_ms) : nullptr},
                      {"raw_record", entry.raw_record}});
    }
    std::cout << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kExitOk;
  }
  for (const QuarantineEntry& entry : entries) {
    std::cout << fmt::format("{:>6}  {:<16}  {}{}\n", entry.id, entry.plugin_id, entry.reason,
                             entry.reprocessed_ms ? "  (released)" : "");
  }
  std::cout << fmt::format("{} record(s)\n", entries.size());
  return kExitOk;
}

int command_quarantine_retry(const GlobalOptions& options, const std::string& connector_id, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);
  const std::size_t refused = report_refusals(host, {"connector"});
  ProgressLine progress;
  SyncEngine engine(store, session.logger, session.clock, g_cancelled, sync_options(session, progress));
  nlohmann::json report = nlohmann::json::array();
  bool connector_failed = false;
  for (LoadedPlugin* connector : host.plugins_of_kind(CRM_KIND_CONNECTOR)) {
    if (!connector_id.empty() && connector->id() != connector_id) {
      continue;
    }
    const RetrySummary summary = engine.retry_quarantine(*connector);
    connector_failed = connector_failed || !summary.fatal_message.empty();
    report.push_back({{"connector", connector->id()},
                      {"released", summary.released},
                      {"still_bad", summary.still_bad},
                      {"unsupported", summary.unsupported},
                      {"not_tried", summary.not_tried},
                      {"fatal_error", summary.fatal_message}});
    if (!as_json) {
      std::cout << fmt::format(
          "{}: {} released, {} still quarantined{}{}\n", connector->id(), summary.released, summary.still_bad,
          summary.unsupported > 0 ? fmt::format(", {} cannot be retried by this connector", summary.unsupported) : "",
          summary.fatal_message.empty() ? ""
                                        : fmt::format("; stopped after a fatal error ({}), {} not tried",
                                                      summary.fatal_message, summary.not_tried));
    }
  }
  if (as_json) {
    std::cout << report.dump(2) << '\n';
  }
  if (connector_failed) {
    return kExitSyncFailed;
  }
  return refused > 0 ? kExitPartial : kExitOk;
}

int command_version(bool as_json) {
  const nlohmann::json version = {{"crmhost", CRM_HOST_VERSION},
                                  {"abi", fmt::format("{}.{}", CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR)}};
  if (as_json) {
    std::cout << version.dump(2) << '\n';
  } else {
    std::cout << fmt::format("crmhost {} (plugin ABI {})\n", version["crmhost"].get<std::string>(),
                             version["abi"].get<std::string>());
  }
  return kExitOk;
}

// What is wrong with a "YYYY-MM-DD" date, or "" when it is a calendar date.
std::string date_problem(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d-%u-%u%c", &year, &month, &day, &tail) != 3) {
    return fmt::format("'{}' is not a date; use YYYY-MM-DD", text);
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!date.ok()) {
    return fmt::format("'{}' is not a calendar date (YYYY-MM-DD)", text);
  }
  return {};
}

// "YYYY-MM-DD" (UTC midnight) to ms since the epoch; a bad date is a usage error naming the option.
std::int64_t parse_date_ms(const std::string& text, const char* option) {
  if (const std::string problem = date_problem(text); !problem.empty()) {
    throw CommandError(kExitUsage, fmt::format("{} {}", option, problem));
  }
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  std::sscanf(text.c_str(), "%d-%u-%u", &year, &month, &day);
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::sys_days{date}.time_since_epoch()).count();
}

std::int64_t as_of_or_today(const std::string& as_of, const Clock& clock) {
  if (!as_of.empty()) {
    return parse_date_ms(as_of, "--as-of");
  }
  // Today's features cover everything up to now: the day ends at midnight UTC.
  return (clock.now_ms() / kMillisecondsPerDay + 1) * kMillisecondsPerDay;
}

nlohmann::json json_number(double value) {
  return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(std::round(value * 10000) / 10000);
}

// One scoring pass as `score` and `run` do it: features, every scorer, the run stored.
struct ScoringPass {
  std::int64_t run_id = 0;
  std::int64_t as_of_ms = 0;
  std::size_t customers = 0;
  std::string primary_scorer;
  std::map<std::string, std::size_t> bands;
  std::map<std::string, std::size_t> tiers;
  std::size_t unscored = 0;
  std::vector<std::string> skipped;
  std::vector<BandChange> changes;
};

ScoringPass run_scoring(Session& session, Store& store, PluginHost& host, std::int64_t as_of_ms) {
  ScoringPass pass;
  pass.as_of_ms = as_of_ms;
  std::map<std::string, std::string> models;
  const std::vector<std::string> untrained = load_stored_models(store, host, models);
  ProgressLine progress;
  progress.update("computing features");
  const CustomerFeatures features = build_features(store.database(), session.config.features, as_of_ms);
  ScoringResult result = score_customers(
      host, features, session.config.scoring, true,
      [&](std::size_t done, std::size_t total) { progress.update(fmt::format("scoring {}/{}", done, total)); },
      untrained);
  for (ScorerOutcome& outcome : result.scorers) {
    if (const auto found = models.find(outcome.scorer_id); found != models.end()) {
      outcome.model = found->second;
    }
  }
  progress.update("storing scores");
  pass.run_id = store_scoring_run(store, features, result, session.config.scoring, session.clock.now_ms());
  progress.clear();
  pass.changes = band_changes(store, pass.run_id);
  pass.customers = features.size();
  pass.skipped = result.skipped;
  for (const BandRule& band : session.config.scoring.bands) {
    pass.bands[band.name] = 0;
  }
  if (result.primary) {
    pass.primary_scorer = result.scorers[*result.primary].scorer_id;
    for (const double score : result.scorers[*result.primary].scores) {
      if (std::isnan(score)) {
        ++pass.unscored;
      } else {
        ++pass.bands[band_of(session.config.scoring, score).name];
      }
    }
  }
  Statement tiers = store.database().prepare(
      "SELECT tier, count(*) FROM customer_scores WHERE run_id = ?1 AND tier IS NOT NULL GROUP BY tier");
  tiers.bind(1, pass.run_id);
  while (tiers.step()) {
    pass.tiers[tiers.column_text(0)] = static_cast<std::size_t>(tiers.column_int64(1));
  }
  return pass;
}

int command_score(const GlobalOptions& options, const std::string& as_of, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);
  const std::size_t refused = report_refusals(host, {"scorer"});
  if (loaded_scorers(host).empty()) {
    if (refused > 0) {
      throw CommandError(kExitPartial, fmt::format("no scorer could run: {} refused; see `crmhost plugins`", refused));
    }
    throw ConfigError("no scorer plugin is loaded; see `crmhost plugins`");
  }
  const ScoringPass pass = run_scoring(session, store, host, as_of_or_today(as_of, session.clock));
  const std::int64_t run_id = pass.run_id;
  const std::int64_t as_of_ms = pass.as_of_ms;
  const std::vector<BandChange>& changes = pass.changes;
  std::map<std::string, std::size_t> bands = pass.bands;
  const std::size_t unscored = pass.unscored;
  const std::size_t customer_count = pass.customers;
  nlohmann::json report = {{"run_id", run_id},
                           {"as_of", utc_date_text(as_of_ms)},
                           {"customers", customer_count},
                           {"primary_scorer", pass.primary_scorer},
                           {"bands", bands},
                           {"tiers", pass.tiers},
                           {"unscored", unscored},
                           {"skipped", pass.skipped}};
  nlohmann::json changed = nlohmann::json::array();
  for (const BandChange& change : changes) {
    changed.push_back({{"customer_id", change.customer_id},
                       {"from", change.from_band.empty() ? nlohmann::json(nullptr) : nlohmann::json(change.from_band)},
                       {"to", change.to_band},
                       {"score", json_number(change.score)}});
  }
  report["band_changes"] = changed;
  if (as_json) {
    std::cout << report.dump(2) << '\n';
  } else {
    std::cout << fmt::format("scored {} customers as of {} (run {}, bands by {})\n", customer_count,
                             utc_date_text(as_of_ms), run_id, report["primary_scorer"].get<std::string>());
    for (const BandRule& band : session.config.scoring.bands) {
      std::cout << fmt::format(
          "  {:<8} {:>9}  (score >= {:g}; owner {}{})\n", band.name, bands[band.name], band.min_score, band.owner,
          band.response_hours > 0 ? fmt::format(", respond within {} h", band.response_hours) : std::string());
    }
    if (unscored > 0) {
      std::cout << fmt::format("  {:<8} {:>9}  (no signal to score yet)\n", "unscored", unscored);
    }
    for (const std::string& skipped : pass.skipped) {
      std::cout << "  skipped " << skipped << '\n';
    }
    std::cout << fmt::format("{} customer(s) changed band since the last run\n", changes.size());
    for (std::size_t i = 0; i < changes.size() && i < 20; ++i) {
      std::cout << fmt::format("  customer {}: {} -> {} ({:.1f})\n", changes[i].customer_id,
                               changes[i].from_band.empty() ? "new" : changes[i].from_band, changes[i].to_band,
                               changes[i].score);
    }
    if (changes.size() > 20) {
      std::cout << fmt::format("  ... and {} more (--json lists all)\n", changes.size() - 20);
    }
  }
  return refused > 0 ? kExitPartial : kExitOk;
}

// A customer named on the command line: the store's id, or SOURCE:EXTERNAL_ID
// as the connector knows it (then the unified customer). Throws CommandError:
// kExitUsage when the text is neither form, kExitNotFound when the store has no such customer.
std::int64_t find_customer(Store& store, const std::string& text) {
  const std::size_t colon = text.find(':');
  Statement query = store.database().prepare(
      colon == std::string::npos
          ? "SELECT id FROM customers WHERE id = ?1"
          : "SELECT coalesce(unified_id, id) FROM customers WHERE source = ?1 AND external_id = ?2");
  if (colon == std::string::npos) {
    char* end = nullptr;
    const long long id = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') {
      throw CommandError(kExitUsage, fmt::format("customer '{}' is neither a store id nor SOURCE:EXTERNAL_ID", text));
    }
    query.bind(1, static_cast<std::int64_t>(id));
  } else {
    query.bind(1, std::string_view(text).substr(0, colon)).bind(2, std::string_view(text).substr(colon + 1));
  }
  if (!query.step()) {
    throw CommandError(kExitNotFound, fmt::format("no customer '{}' in the store", text));
  }
  return query.column_int64(0);
}

int command_explain(const GlobalOptions& options, const std::string& customer, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  const std::int64_t customer_id = find_customer(store, customer);
  std::vector<std::string> known_as;
  Statement names = store.database().prepare(
      "SELECT source || ':' || external_id FROM customers WHERE coalesce(unified_id, id) = ?1 ORDER BY id");
  names.bind(1, customer_id);
  while (names.step()) {
    known_as.push_back(names.column_text(0));
  }
  Statement query = store.database().prepare(
      "SELECT s.run_id, r.as_of_ms, s.score, s.band, s.tier, s.stage, s.abc_class, s.reasons, s.scores_json, "
      "s.explain_json, r.primary_scorer, r.scorers_json FROM customer_scores s JOIN score_runs r ON r.id = s.run_id "
      "WHERE s.customer_id = ?1 AND r.finished_ms IS NOT NULL ORDER BY r.id DESC LIMIT 2");
  query.bind(1, customer_id);
  if (!query.step()) {
    throw CommandError(kExitNotFound,
                       fmt::format("customer {} has no score yet; run `crmhost score` (a customer is the store's id or "
                                   "SOURCE:EXTERNAL_ID)",
                                   customer_id));
  }
  const auto text_or_empty = [&](int column) {
    return query.column_is_null(column) ? std::string() : query.column_text(column);
  };
  const double score = query.column_is_null(2) ? std::nan("") : query.column_double(2);
  const std::string band = text_or_empty(3);
  nlohmann::json report = {{"customer_id", customer_id},
                           {"known_as", known_as},
                           {"run_id", query.column_int64(0)},
                           {"as_of", utc_date_text(query.column_int64(1))},
                           {"score", json_number(score)},
                           {"band", band},
                           {"tier", text_or_empty(4)},
                           {"stage", text_or_empty(5)},
                           {"abc_class", text_or_empty(6)},
                           {"scores", nlohmann::json::parse(text_or_empty(8).empty() ? "{}" : text_or_empty(8))},
                           {"models", nlohmann::json::parse(text_or_empty(11).empty() ? "{}" : text_or_empty(11))},
                           {"primary_scorer", text_or_empty(10)}};
  for (const BandRule& rule : session.config.scoring.bands) {
    if (rule.name == band) {
      report["owner"] = rule.owner;
      report["response_hours"] = rule.response_hours;
    }
  }
  nlohmann::json reasons = nlohmann::json::array();
  for (const std::string& code : split_reason_codes(text_or_empty(7))) {
    reasons.push_back({{"code", code}, {"text", plain_label(session.config.scoring, code)}});
  }
  report["reasons"] = reasons;
  nlohmann::json drivers = nlohmann::json::array();
  if (!text_or_empty(9).empty()) {
    for (const auto& pair : nlohmann::json::parse(text_or_empty(9))) {
      const std::string feature = pair[0].get<std::string>();
      drivers.push_back(
          {{"feature", feature}, {"text", plain_label(session.config.scoring, feature)}, {"points", pair[1]}});
    }
  }
  report["top_contributions"] = drivers;
  if (query.step() && !query.column_is_null(3)) {
    report["previous_band"] = query.column_text(3);
  }
  if (as_json) {
    std::cout << report.dump(2) << '\n';
    return kExitOk;
  }
  std::cout << fmt::format(
      "customer {} as of {}: score {} -> band {}{}\n", customer_id, report["as_of"].get<std::string>(),
      std::isnan(score) ? std::string("none") : fmt::format("{:.1f}", score), band.empty() ? "none" : band,
      report.contains("previous_band") && report["previous_band"] != band
          ? fmt::format(" (was {})", report["previous_band"].get<std::string>())
          : std::string());
  if (!known_as.empty()) {
    std::cout << fmt::format("  known as: {}\n", fmt::join(known_as, ", "));
  }
  if (report.contains("owner")) {
    std::cout << fmt::format("  owner: {}{}\n", report["owner"].get<std::string>(),
                             report["response_hours"].get<int>() > 0
                                 ? fmt::format(", respond within {} h", report["response_hours"].get<int>())
                                 : std::string());
  }
  std::cout << fmt::format(
      "  tier: {}   stage: {}   value class: {}\n", text_or_empty(4).empty() ? "-" : text_or_empty(4),
      text_or_empty(5).empty() ? "unknown" : text_or_empty(5), text_or_empty(6).empty() ? "-" : text_or_empty(6));
  for (const auto& [scorer, value] : report["scores"].items()) {
    std::cout << fmt::format("  {}: {}\n", scorer, value.is_null() ? std::string("n/a") : value.dump());
  }
  if (!reasons.empty()) {
    std::cout << "  signals:\n";
    for (const auto& reason : reasons) {
      std::cout << "    - " << reason["text"].get<std::string>() << '\n';
    }
  }
  if (!drivers.empty()) {
    std::cout << "  what moved the score:\n";
    for (const auto& driver : drivers) {
      std::cout << fmt::format("    {:+7.1f} points  {}\n", driver["points"].get<double>(),
                               driver["text"].get<std::string>());
    }
  }
  return kExitOk;
}

int command_train(const GlobalOptions& options, const std::string& as_of, int horizon_days, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);
  const std::size_t refused = report_refusals(host, {"scorer"});
  // Labels need a full horizon of outcome: train on the features a horizon before the date.
  const std::int64_t outcome_end_ms = as_of_or_today(as_of, session.clock);
  const std::int64_t train_as_of_ms = outcome_end_ms - horizon_days * kMillisecondsPerDay;
  ProgressLine progress;
  progress.update("computing features");
  const CustomerFeatures all = build_features(store.database(), session.config.features, train_as_of_ms);
  const std::vector<std::size_t> buyers = buyer_rows(all);
  const std::vector<double> labels_all = churn_labels(store.database(), all, train_as_of_ms, outcome_end_ms);
  std::vector<double> labels;
  labels.reserve(buyers.size());
  for (const std::size_t i : buyers) {
    labels.push_back(labels_all[i]);
  }
  nlohmann::json trained = nlohmann::json::array();
  bool failed = false;
  for (LoadedPlugin* scorer : loaded_scorers(host)) {
    if (!is_trainable(*scorer)) {
      continue;
    }
    progress.update(fmt::format("training {}", scorer->id()));
    try {
      const std::string model =
          train_scorer(*scorer, all.select(buyers, required_features(*scorer)), labels, horizon_days);
      const std::int64_t model_id = store_model(store, scorer->id(), scorer->record().version, session.clock.now_ms(),
                                                train_as_of_ms, horizon_days, buyers.size(), model);
      trained.push_back({{"scorer", scorer->id()}, {"model_id", model_id}, {"status", "trained"}});
    } catch (const PluginCallError& e) {
      failed = true;
      trained.push_back({{"scorer", scorer->id()}, {"status", "failed"}, {"error", e.what()}});
    }
  }
  progress.clear();
  const double churned = static_cast<double>(std::count(labels.begin(), labels.end(), 1.0));
  const nlohmann::json report = {{"features_as_of", utc_date_text(train_as_of_ms)},
                                 {"outcome_until", utc_date_text(outcome_end_ms)},
                                 {"horizon_days", horizon_days},
                                 {"customers", buyers.size()},
                                 {"churned", churned},
                                 {"scorers", trained}};
  if (as_json) {
    std::cout << report.dump(2) << '\n';
  } else {
    std::cout << fmt::format("trained on {} customers as of {} ({} churned by {})\n", buyers.size(),
                             utc_date_text(train_as_of_ms), churned, utc_date_text(outcome_end_ms));
    for (const auto& entry : trained) {
      std::cout << fmt::format("  {}: {}\n", entry["scorer"].get<std::string>(),
                               entry["status"] == "trained"
                                   ? fmt::format("model {}", entry["model_id"].get<std::int64_t>())
                                   : entry["error"].get<std::string>());
    }
    if (trained.empty()) {
      std::cout << "  no loaded scorer learns from history\n";
    }
  }
  if (failed) {
    return kExitFailure;
  }
  return refused > 0 ? kExitPartial : kExitOk;
}

int command_backtest(const GlobalOptions& options, const std::string& as_of, int horizon_days, int lead_step_days,
                     bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);
  const std::size_t refused = report_refusals(host, {"scorer"});
  BacktestOptions backtest;
  backtest.as_of_ms = parse_date_ms(as_of, "--as-of");
  backtest.horizon_days = horizon_days;
  backtest.lead_step_days = lead_step_days;
  ProgressLine progress;
  const std::vector<BacktestRow> rows = run_backtest(store, host, session.config.features, session.config.scoring,
                                                     backtest, [&](const std::string& step) { progress.update(step); });
  progress.clear();
  nlohmann::json report = {{"as_of", as_of}, {"horizon_days", horizon_days}};
  nlohmann::json scorers = nlohmann::json::array();
  for (const BacktestRow& row : rows) {
    nlohmann::json entry = {
        {"scorer", row.scorer_id},
        {"customers", row.customers},
        {"churned", row.churned},
        {"roc_auc", json_number(row.roc_auc)},
        {"precision_top10", json_number(row.precision_top10)},
        {"recall_top10", json_number(row.recall_top10)},
        {"flagged_churned", row.flagged_churned},
        {"median_lead_time_days", json_number(row.median_lead_time_days)},
        {"median_flag_after_last_purchase_days", json_number(row.median_flag_after_last_purchase_days)}};
    if (!row.note.empty()) {
      entry["note"] = row.note;
    }
    scorers.push_back(entry);
  }
  report["scorers"] = scorers;
  const int exit_code = refused > 0 ? kExitPartial : kExitOk;
  if (as_json) {
    std::cout << report.dump(2) << '\n';
    return exit_code;
  }
  std::cout << fmt::format("backtest as of {}, horizon {} days: {} customers, {} churned\n", as_of, horizon_days,
                           rows.empty() ? 0 : rows.front().customers, rows.empty() ? 0 : rows.front().churned);
  std::cout << fmt::format("  {:<18} {:>8} {:>10} {:>10} {:>10} {:>12}\n", "scorer", "ROC-AUC", "prec@10%",
                           "recall@10%", "lead days", "after last");
  const auto cell = [](double value, const char* format) {
    return std::isnan(value) ? std::string("-") : fmt::format(fmt::runtime(format), value);
  };
  for (const BacktestRow& row : rows) {
    std::cout << fmt::format("  {:<18} {:>8} {:>10} {:>10} {:>10} {:>12}{}\n", row.scorer_id,
                             cell(row.roc_auc, "{:.3f}"), cell(row.precision_top10, "{:.3f}"),
                             cell(row.recall_top10, "{:.3f}"), cell(row.median_lead_time_days, "{:.0f}"),
                             cell(row.median_flag_after_last_purchase_days, "{:.0f}"),
                             row.note.empty() ? "" : "  (" + row.note + ")");
  }
  return exit_code;
}

int command_features(const GlobalOptions& options, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  const std::vector<std::string> names = feature_names(session.config.features);
  if (as_json) {
    std::cout << nlohmann::json(names).dump(2) << '\n';
  } else {
    for (const std::string& name : names) {
      std::cout << name << '\n';
    }
  }
  return kExitOk;
}

// Arguments of the win-back commands (churn, dnc, campaigns).
struct WinbackArgs {
  std::string action;
  std::string customer;
  std::string reason;
  std::string note;
  std::string text;
  std::string date;
  std::string by;
  std::string state;
  std::int64_t campaign_id = 0;  // or the task's id for `campaigns done`
  bool eligible_only = false;
  bool as_json = false;
};

// Campaigns run on today's clock, or with --as-of on one that starts at that
// date: a replay of history enrols, waits and measures on the dates it replays.
class CampaignClock {
 public:
  CampaignClock(const Clock& today, const std::string& as_of) : today_(today) {
    if (!as_of.empty()) {
      replay_.emplace(today, parse_date_ms(as_of, "--as-of"));
    }
  }
  [[nodiscard]] const Clock& clock() const { return replay_ ? *replay_ : today_; }

 private:
  const Clock& today_;
  std::optional<ShiftedClock> replay_;
};

nlohmann::json lost_json(const LostCustomer& lost) {
  return {
      {"customer_id", lost.customer_id},
      {"name", lost.name},
      {"churn_date", utc_date_text(lost.churn_date_ms)},
      {"method", lost.method},
      {"evidence", nlohmann::json::parse(lost.evidence, nullptr, false)},
      {"reason", lost.reason},
      {"reason_source", lost.reason_source},
      {"reason_evidence", lost.reason_evidence},
      {"reason_note", lost.reason_note},
      {"why_chain", lost.why_chain},
      {"expected_value", lost.expected_value},
      {"abc_class", lost.abc_class},
      {"eligible", lost.eligible},
      {"exclusion", lost.exclusion},
      {"recovered", lost.recovered_ms ? nlohmann::json(utc_date_text(*lost.recovered_ms)) : nlohmann::json(nullptr)}};
}

nlohmann::json detection_json(const ChurnDetection& counts) {
  return {{"customers_examined", counts.customers_examined},
          {"newly_lost", counts.newly_lost},
          {"still_lost", counts.still_lost},
          {"recovered", counts.recovered},
          {"eligible", counts.eligible},
          {"by_reason", counts.by_reason},
          {"exclusions", counts.exclusions},
          {"mass_churn_events", counts.mass_churn_events},
          {"strategic_alerts_raised", counts.strategic_alerts_raised}};
}

nlohmann::json pass_json(const CampaignPass& pass) {
  return {{"enrolled", pass.enrolled},
          {"holdout", pass.holdout},
          {"excluded", pass.excluded},
          {"steps", pass.steps},
          {"messages", pass.messages},
          {"tasks", pass.tasks},
          {"deferred", pass.deferred},
          {"converted", pass.converted},
          {"completed", pass.completed},
          {"revival_touches", pass.revival_touches},
          {"control_closed", pass.control_closed}};
}

std::string detection_line(const ChurnDetection& counts) {
  std::string reasons;
  for (const auto& [reason, count] : counts.by_reason) {
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", reason, count);
  }
  return fmt::format(
      "churn: {} customers examined, {} newly lost, {} still lost, {} recovered; reasons: {}; {} "
      "eligible for win-back; {} mass-churn event(s)",
      counts.customers_examined, counts.newly_lost, counts.still_lost, counts.recovered,
      reasons.empty() ? "-" : reasons, counts.eligible, counts.mass_churn_events);
}

std::string pass_line(const CampaignPass& pass) {
  return fmt::format(
      "campaigns: {} enrolled ({} more held out as control), {} excluded, {} step(s): {} message(s), {} "
      "task(s); {} waiting on caps or quiet hours; {} converted, {} completed; {} left the control group; {} revival "
      "touch(es)",
      pass.enrolled, pass.holdout, pass.excluded, pass.steps, pass.messages, pass.tasks, pass.deferred, pass.converted,
      pass.completed, pass.control_closed, pass.revival_touches);
}

int command_churn(const GlobalOptions& options, const WinbackArgs& args) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  AlertEngine alerts(store, host, session.logger, session.clock, session.config.alerts, session.config.scoring);
  LostCustomers lost(store, &alerts, session.logger, session.clock, session.config.winback);
  if (args.action == "detect") {
    const ChurnDetection counts = lost.detect(as_of_or_today(args.date, session.clock));
    std::cout << (args.as_json ? detection_json(counts).dump(2) : detection_line(counts)) << '\n';
    return kExitOk;
  }
  if (args.action == "list") {
    nlohmann::json rows = nlohmann::json::array();
    if (!args.as_json) {
      std::cout << fmt::format("{:>7}  {:<10}  {:<18} {:<6} {:>10}  {:<3} {}\n", "id", "lost on", "reason", "by",
                               "value", "abc", "status");
    }
    for (const LostCustomer& row : lost.list(args.eligible_only)) {
      rows.push_back(lost_json(row));
      if (!args.as_json) {
        std::cout << fmt::format("{:>7}  {}  {:<18} {:<6} {:>10.2f}  {:<3} {}\n", row.customer_id,
                                 utc_date_text(row.churn_date_ms), row.reason, row.reason_source, row.expected_value,
                                 row.abc_class,
                                 row.recovered_ms ? "recovered"
                                 : row.eligible   ? "eligible"
                                                  : "excluded: " + row.exclusion);
      }
    }
    if (args.as_json) {
      std::cout << nlohmann::json{{"lost_customers", rows}}.dump(2) << '\n';
    }
    return kExitOk;
  }
  if (args.action == "causes") {
    nlohmann::json rows = nlohmann::json::array();
    for (const RootCause& cause : lost.root_causes()) {
      rows.push_back({{"cause", cause.cause},
                      {"customers", cause.customers},
                      {"by_reason", cause.by_reason},
                      {"expected_value", cause.expected_value}});
      if (!args.as_json) {
        std::string reasons;
        for (const auto& [reason, count] : cause.by_reason) {
          reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", reason, count);
        }
        std::cout << fmt::format("{:>4} customer(s), worth {:.2f} ({}): {}\n", cause.customers.size(),
                                 cause.expected_value, reasons, cause.cause);
      }
    }
    if (args.as_json) {
      std::cout << nlohmann::json{{"root_causes", rows}}.dump(2) << '\n';
    } else if (rows.empty()) {
      std::cout << "no 5 Why chain recorded yet (`crmhost churn why CUSTOMER TEXT`)\n";
    }
    return kExitOk;
  }
  const std::int64_t customer = find_customer(store, args.customer);
  if (args.action == "mark") {
    lost.mark(customer, args.date.empty() ? session.clock.now_ms() : parse_date_ms(args.date, "--date"), args.note,
              args.by);
  } else if (args.action == "reason") {
    if (!lost.set_reason(customer, args.reason, args.note, args.by)) {
      throw CommandError(kExitNotFound,
                         fmt::format("customer {} is not a lost customer (run `crmhost churn detect`)", customer));
    }
  } else if (args.action == "why") {
    if (!lost.add_why(customer, args.text)) {
      throw CommandError(kExitNotFound, fmt::format("customer {} is not a lost customer", customer));
    }
  }
  const std::optional<LostCustomer> row = lost.find(customer);
  if (!row) {
    throw CommandError(kExitNotFound, fmt::format("customer {} is not a lost customer", customer));
  }
  if (args.as_json) {
    std::cout << lost_json(*row).dump(2) << '\n';
    return kExitOk;
  }
  std::cout << fmt::format(
      "customer {} ({}) lost on {} ({})\n  reason: {} ({}{}){}\n  value: {:.2f} expected, class "
      "{}\n  {}\n",
      row->customer_id, row->name.empty() ? "-" : row->name, utc_date_text(row->churn_date_ms), row->method,
      row->reason.empty() ? "not assessed" : row->reason, row->reason_source,
      row->reason_evidence.empty() ? "" : ": " + row->reason_evidence,
      row->reason_note.empty() ? "" : "\n  note: " + row->reason_note, row->expected_value, row->abc_class,
      row->recovered_ms ? "recovered on " + utc_date_text(*row->recovered_ms)
      : row->eligible   ? std::string("eligible for win-back")
                        : "not pursued: " + row->exclusion);
  for (std::size_t i = 0; i < row->why_chain.size(); ++i) {
    std::cout << fmt::format("  why {}: {}\n", i + 1, row->why_chain[i]);
  }
  return kExitOk;
}

int command_dnc(const GlobalOptions& options, const WinbackArgs& args) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  CampaignEngine campaigns(store, session.logger, session.clock, session.config.winback);
  if (args.action == "list") {
    nlohmann::json rows = nlohmann::json::array();
    Statement query = store.database().prepare(
        "SELECT customer_id, reason, coalesce(added_by, ''), added_ms FROM do_not_contact ORDER BY customer_id");
    while (query.step()) {
      rows.push_back({{"customer_id", query.column_int64(0)},
                      {"reason", query.column_text(1)},
                      {"added_by", query.column_text(2)},
                      {"added", utc_date_text(query.column_int64(3))}});
      if (!args.as_json) {
        std::cout << fmt::format("{:>7}  {}  {} ({})\n", query.column_int64(0), utc_date_text(query.column_int64(3)),
                                 query.column_text(1), query.column_text(2));
      }
    }
    if (args.as_json) {
      std::cout << nlohmann::json{{"do_not_contact", rows}}.dump(2) << '\n';
    }
    return kExitOk;
  }
  const std::int64_t customer = find_customer(store, args.customer);
  if (args.action == "add") {
    campaigns.add_do_not_contact(customer, args.reason, args.by);
  } else if (!campaigns.remove_do_not_contact(customer)) {
    throw CommandError(kExitNotFound, fmt::format("customer {} is not on the do-not-contact list", customer));
  }
  if (args.as_json) {
    std::cout << nlohmann::json{{"customer_id", customer}, {"done", args.action}}.dump(2) << '\n';
  } else {
    std::cout << fmt::format("customer {} {} the do-not-contact list\n", customer,
                             args.action == "add" ? "added to" : "removed from");
  }
  return kExitOk;
}

nlohmann::json report_json(const CampaignReport& report) {
  return {{"campaign_id", report.campaign_id},
          {"playbook", report.playbook},
          {"enrolled", report.enrolled},
          {"holdout", report.holdout},
          {"contacted", report.contacted},
          {"recovered", report.recovered},
          {"holdout_recovered", report.holdout_recovered},
          {"recovery_rate", report.recovery_rate},
          {"holdout_recovery_rate", report.holdout_recovery_rate},
          {"uplift", report.uplift_measured ? nlohmann::json(report.uplift) : nlohmann::json(nullptr)},
          {"uplift_95",
           report.uplift_measured ? nlohmann::json{report.uplift_low, report.uplift_high} : nlohmann::json(nullptr)},
          {"cost", report.cost},
          {"revenue_recovered", report.revenue_recovered},
          {"benefit_cost_ratio", report.benefit_cost_ratio}};
}

int command_campaigns(const GlobalOptions& options, const WinbackArgs& args) {
  Session session;
  prepare(options, session, LogLevel::warn);
  std::optional<JobLock> one_job_at_a_time;
  if (args.action == "run") {
    one_job_at_a_time.emplace(session.database->string(), "campaigns run", session.clock.now_ms());
  }
  Store store(session.database->string());
  if (one_job_at_a_time) {
    close_interrupted_runs(session, store, *one_job_at_a_time);
  }
  const CampaignClock campaign_clock(session.clock, args.action == "run" ? args.date : std::string());
  CampaignEngine campaigns(store, session.logger, campaign_clock.clock(), session.config.winback);
  if (args.action == "run") {
    PluginHost host(session.logger, session.clock, store, g_cancelled);
    host.load(session.plugin_options);
    const std::size_t refused = report_refusals(host, {"channel"});
    const CampaignPass pass = campaigns.run();
    AlertEngine delivery(store, host, session.logger, session.clock, session.config.alerts, session.config.scoring);
    const DeliveryCounts delivered = delivery.deliver();
    if (args.as_json) {
      nlohmann::json out = pass_json(pass);
      out["delivered"] = delivered.delivered;
      out["retrying"] = delivered.retried;
      std::cout << out.dump(2) << '\n';
    } else {
      std::cout << pass_line(pass)
                << fmt::format("; {} notification(s) delivered, {} retrying\n", delivered.delivered, delivered.retried);
    }
    return refused > 0 ? kExitPartial : kExitOk;
  }
  if (args.action == "tasks") {
    // The owners' tasks the playbooks created (the senior person's dialogue, the competitor analysis).
    nlohmann::json rows = nlohmann::json::array();
    Statement query = store.database().prepare(
        "SELECT t.id, t.customer_id, t.owner, t.title, t.created_ms, coalesce(t.due_ms, 0), t.state, "
        "coalesce(e.campaign_id, 0), coalesce(t.done_ms, 0), coalesce(t.done_by, ''), coalesce(t.outcome, '') FROM "
        "tasks t LEFT JOIN enrolments e ON e.id = t.enrolment_id WHERE ?1 = '' OR t.state = ?1 ORDER BY t.id");
    query.bind(1, args.state);
    while (query.step()) {
      nlohmann::json row = {{"id", query.column_int64(0)},
                            {"customer_id", query.column_int64(1)},
                            {"owner", query.column_text(2)},
                            {"title", query.column_text(3)},
                            {"created", utc_date_text(query.column_int64(4))},
                            {"due", utc_date_text(query.column_int64(5))},
                            {"state", query.column_text(6)},
                            {"campaign_id", query.column_int64(7)}};
      const bool done = query.column_int64(8) != 0;
      if (done) {
        row["done"] = utc_date_text(query.column_int64(8));
        row["done_by"] = query.column_text(9);
        row["outcome"] = query.column_text(10);
      }
      if (!args.as_json) {
        std::cout << fmt::format("{:>6}  due {}  {:<5} {:<24} {}{}\n", query.column_int64(0),
                                 utc_date_text(query.column_int64(5)), query.column_text(6), query.column_text(2),
                                 query.column_text(3),
                                 done ? fmt::format("\n        done {} by {}: {}", utc_date_text(query.column_int64(8)),
                                                    query.column_text(9), query.column_text(10))
                                      : std::string());
      }
      rows.push_back(std::move(row));
    }
    if (args.as_json) {
      std::cout << nlohmann::json{{"tasks", rows}}.dump(2) << '\n';
    }
    return kExitOk;
  }
  if (args.action == "done") {
    if (!campaigns.complete_task(args.campaign_id, args.note, args.by)) {
      throw CommandError(kExitNotFound, fmt::format("no task {} (see `crmhost campaigns tasks`)", args.campaign_id));
    }
    if (args.as_json) {
      std::cout << nlohmann::json{{"task_id", args.campaign_id}, {"state", "done"}}.dump(2) << '\n';
    } else {
      std::cout << fmt::format("task {} done\n", args.campaign_id);
    }
    return kExitOk;
  }
  if (args.action == "list" || args.action == "status") {
    nlohmann::json rows = nlohmann::json::array();
    for (const CampaignRow& row : campaigns.list()) {
      if (args.action == "status" && row.id != args.campaign_id) {
        continue;
      }
      // Each version's results beside the others', kept for the next campaign (domain.md 6.5).
      const std::optional<CampaignReport> results = campaigns.report(row.id);
      rows.push_back({{"id", row.id},
                      {"playbook", row.playbook_id},
                      {"version", row.playbook_version},
                      {"budget", row.budget},
                      {"spent", row.spent},
                      {"enrolments", row.enrolments_by_state},
                      {"recovery_rate", results->recovery_rate},
                      {"benefit_cost_ratio", results->benefit_cost_ratio},
                      {"uplift", results->uplift_measured ? nlohmann::json(results->uplift) : nlohmann::json()}});
      if (!args.as_json) {
        std::string states;
        for (const auto& [state, count] : row.enrolments_by_state) {
          states += fmt::format("{}{} {}", states.empty() ? "" : ", ", state, count);
        }
        std::cout << fmt::format(
            "{:>4}  {} v{}  spent {:.2f}{}  enrolments: {}\n      recovered {:.1f} %, uplift {}, "
            "benefit/cost {:.2f}\n",
            row.id, row.playbook_id, row.playbook_version, row.spent,
            row.budget > 0 ? fmt::format(" of {:.2f}", row.budget) : std::string(), states.empty() ? "-" : states,
            results->recovery_rate * 100,
            results->uplift_measured ? fmt::format("{:+.1f} points", results->uplift * 100)
                                     : std::string("not measured"),
            results->benefit_cost_ratio);
      }
    }
    if (args.action == "status" && rows.empty()) {
      throw CommandError(kExitNotFound, fmt::format("no campaign {} (see `crmhost campaigns list`)", args.campaign_id));
    }
    if (args.as_json) {
      std::cout << (args.action == "status" ? rows[0] : nlohmann::json{{"campaigns", rows}}).dump(2) << '\n';
    }
    return kExitOk;
  }
  const std::optional<CampaignReport> report = campaigns.report(args.campaign_id);
  if (!report) {
    throw CommandError(kExitNotFound, fmt::format("no campaign {} (see `crmhost campaigns list`)", args.campaign_id));
  }
  if (args.as_json) {
    std::cout << report_json(*report).dump(2) << '\n';
    return kExitOk;
  }
  const std::string uplift =
      report->uplift_measured
          ? fmt::format("uplift {:+.1f} points, 95 % interval [{:+.1f}, {:+.1f}]", report->uplift * 100,
                        report->uplift_low * 100, report->uplift_high * 100)
          : std::string("uplift not measured: the campaign needs customers in both its treatment and holdout groups");
  std::cout << fmt::format(
      "campaign {} ({})\n  enrolled {} (holdout {}), contacted {}\n  recovered {} = {:.1f} % (holdout {} = {:.1f} "
      "%)\n  {}\n  cost {:.2f}, revenue recovered {:.2f}, benefit/cost {:.2f}\n",
      report->campaign_id, report->playbook, report->enrolled, report->holdout, report->contacted, report->recovered,
      report->recovery_rate * 100, report->holdout_recovered, report->holdout_recovery_rate * 100, uplift, report->cost,
      report->revenue_recovered, report->benefit_cost_ratio);
  return kExitOk;
}

// The main job: sync every connector, score everyone, raise, escalate and deliver alerts.
int command_run(const GlobalOptions& options, const std::string& as_of, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::info);
  const JobLock one_job_at_a_time(session.database->string(), "run", session.clock.now_ms());
  Store store(session.database->string());
  close_interrupted_runs(session, store, one_job_at_a_time);
  const std::int64_t run_id = store.begin_run("run", session.clock.now_ms());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);

  const std::vector<SyncSummary> syncs = sync_connectors(session, store, host, "");
  nlohmann::json sync_report = nlohmann::json::array();
  bool sync_failed = false;
  for (const SyncSummary& sync : syncs) {
    sync_report.push_back(sync_summary_json(sync));
    sync_failed = sync_failed || sync.status == "failed";
  }
  nlohmann::json summary = {
      {"run_id", run_id},
      {"sync", sync_report},
      {"database", session.database->string()},
      {"loaded", host.plugins().size()},
      {"refused", host.refused_count()},
      {"plugins", plugin_records_json(host.records())["plugins"]},
  };

  std::optional<ScoringPass> scoring;
  if (!g_cancelled.load() && !loaded_scorers(host).empty()) {
    scoring = run_scoring(session, store, host, as_of_or_today(as_of, session.clock));
    summary["scoring"] = {{"run_id", scoring->run_id},       {"as_of", utc_date_text(scoring->as_of_ms)},
                          {"customers", scoring->customers}, {"bands", scoring->bands},
                          {"tiers", scoring->tiers},         {"band_changes", scoring->changes.size()},
                          {"skipped", scoring->skipped}};
  }
  AlertEngine alerts(store, host, session.logger, session.clock, session.config.alerts, session.config.scoring);
  for (const SyncSummary& sync : syncs) {
    if (sync.status == "failed") {
      alerts.raise_sync_failure(sync.connector_id, sync.message);
    }
  }
  AlertCounts raised;
  if (scoring) {
    raised = alerts.evaluate(scoring->run_id);
  }
  const std::size_t escalated = alerts.escalate();
  // Win-back: who is lost as of the date, then the campaigns' due steps; their
  // messages go out with the alerts below.
  std::optional<ChurnDetection> churn;
  std::optional<CampaignPass> campaign_pass;
  if (!g_cancelled.load()) {
    LostCustomers lost(store, &alerts, session.logger, session.clock, session.config.winback);
    churn = lost.detect(as_of_or_today(as_of, session.clock));
    summary["churn"] = detection_json(*churn);
    raised.opened += churn->strategic_alerts_raised;  // mass churn: one alert to the top level
    if (churn->strategic_alerts_raised > 0 && !session.config.scoring.bands.empty()) {
      raised.opened_by_level[session.config.scoring.bands.back().name] += churn->strategic_alerts_raised;
    }
    const CampaignClock campaign_clock(session.clock, as_of);
    CampaignEngine campaigns(store, session.logger, campaign_clock.clock(), session.config.winback);
    campaign_pass = campaigns.run();
    summary["campaigns"] = pass_json(*campaign_pass);
  }
  const DeliveryCounts delivered = alerts.deliver();
  const std::size_t dead_total = alerts.outbox("dead").size();
  summary["alerts"] = {{"opened", raised.opened},        {"opened_by_level", raised.opened_by_level},
                       {"reminded", raised.renotified},  {"resolved", raised.resolved},
                       {"escalated", escalated},         {"delivered", delivered.delivered},
                       {"partial", delivered.partial},   {"retrying", delivered.retried},
                       {"dead", delivered.dead},         {"held", delivered.held},
                       {"paced", delivered.paced},       {"messages", delivered.messages},
                       {"digested", delivered.digested}, {"dead_total", dead_total}};

  const bool cancelled = g_cancelled.load();
  const std::string status =
      cancelled ? "cancelled" : (sync_failed ? "failed" : (host.refused_count() > 0 ? "partial" : "ok"));
  summary["status"] = status;
  store.finish_run(run_id, status, summary.dump(), session.clock.now_ms());

  if (as_json) {
    std::cout << summary.dump(2) << '\n';
  } else {
    std::cout << fmt::format("run {} on {}: {} plugin(s) loaded, {} refused\n", run_id, session.database->string(),
                             host.plugins().size(), host.refused_count());
    // A cron mail shows the table only when it has something to say.
    if (options.verbose || host.refused_count() > 0) {
      print_plugin_table(std::cout, host.records());
    }
    for (const SyncSummary& sync : syncs) {
      std::cout << "sync " << sync_summary_line(sync) << '\n';
    }
    if (scoring) {
      std::string bands;
      for (const BandRule& band : session.config.scoring.bands) {
        bands += fmt::format("{}{} {}", bands.empty() ? "" : ", ", band.name, scoring->bands[band.name]);
      }
      std::string tiers;
      for (const auto& [tier, count] : scoring->tiers) {
        tiers += fmt::format("{}{} {}", tiers.empty() ? "" : ", ", tier, count);
      }
      std::cout << fmt::format("score: {} customers as of {}: {}; tiers: {}; {} changed band\n", scoring->customers,
                               utc_date_text(scoring->as_of_ms), bands, tiers.empty() ? "-" : tiers,
                               scoring->changes.size());
    }
    std::string levels;
    for (const auto& [level, count] : raised.opened_by_level) {
      levels += fmt::format("{}{} {}", levels.empty() ? "" : ", ", level, count);
    }
    std::cout << fmt::format(
        "alerts: {} new{}, {} reminded, {} resolved, {} escalated; deliveries: {} sent in {} message(s) ({} in "
        "digests), {} partial, {} retrying, {} held (quiet hours, recipient caps), {} paced, {} dead ({} dead in all: "
        "`crmhost alerts outbox --state dead`)\n",
        raised.opened, levels.empty() ? "" : " (" + levels + ")", raised.renotified, raised.resolved, escalated,
        delivered.delivered, delivered.messages, delivered.digested, delivered.partial, delivered.retried,
        delivered.held, delivered.paced, delivered.dead, dead_total);
    if (churn) {
      std::cout << detection_line(*churn) << '\n' << pass_line(*campaign_pass) << '\n';
    }
  }
  if (cancelled) {
    return cancelled_exit_code();
  }
  if (sync_failed) {
    return kExitSyncFailed;
  }
  return host.refused_count() > 0 ? kExitPartial : kExitOk;
}

int command_alerts(const GlobalOptions& options, const std::string& action, std::int64_t id, const std::string& by,
                   const std::string& note, const std::string& state, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::warn);
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  AlertEngine alerts(store, host, session.logger, session.clock, session.config.alerts, session.config.scoring);
  if (action == "ack" || action == "resolve" || action == "resend") {
    const bool done = action == "ack"       ? alerts.acknowledge(id, by)
                      : action == "resolve" ? alerts.resolve(id, by, note)
                                            : alerts.resend(id);
    if (!done) {
      throw CommandError(kExitNotFound,
                         fmt::format("{} {} is not {}", action == "resend" ? "notification" : "alert", id,
                                     action == "ack"       ? "open"
                                     : action == "resolve" ? "unresolved"
                                                           : "dead"));
    }
    if (as_json) {
      std::cout << nlohmann::json{{"id", id}, {"done", action}}.dump(2) << '\n';
    } else {
      std::cout << fmt::format("{} {}: {}\n", action == "resend" ? "notification" : "alert", id,
                               action == "ack"       ? "acknowledged"
                               : action == "resolve" ? "resolved"
                                                     : "queued again");
    }
    return kExitOk;
  }
  if (action == "outbox") {
    nlohmann::json rows = nlohmann::json::array();
    for (const OutboxRow& row : alerts.outbox(state)) {
      rows.push_back({{"id", row.id},
                      {"alert_id", row.alert_id},
                      {"channel", row.channel_id},
                      {"state", row.state},
                      {"attempts", row.attempts},
                      {"last_error", row.last_error},
                      {"title", row.title}});
      if (!as_json) {
        std::cout << fmt::format("{:>6}  {:<8} {:<16} attempts {:<3} {}{}\n", row.id, row.state, row.channel_id,
                                 row.attempts, row.title, row.last_error.empty() ? "" : "  (" + row.last_error + ")");
      }
    }
    if (as_json) {
      std::cout << rows.dump(2) << '\n';
    }
    return kExitOk;
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const AlertRow& row : alerts.list(state)) {
    rows.push_back({{"id", row.id},
                    {"customer_id", row.customer_id},
                    {"reason", row.reason},
                    {"level", row.level},
                    {"state", row.state},
                    {"title", row.title},
                    {"opened_ms", row.opened_ms},
                    {"deadline_ms", row.deadline_ms},
                    {"escalation_level", row.escalation_level},
                    {"acked_by", row.acked_by},
                    {"resolved_by", row.resolved_by},
                    {"resolution_note", row.resolution_note}});
    if (!as_json) {
      std::cout << fmt::format(
          "{:>6}  {:<12} {:<7} {}{}\n", row.id, row.state, row.level, row.title,
          row.escalation_level > 0 ? fmt::format("  (escalated x{})", row.escalation_level) : std::string());
    }
  }
  const std::optional<double> to_ack = alerts.median_time_to_acknowledge_ms();
  if (as_json) {
    std::cout << nlohmann::json{{"alerts", rows},
                                {"median_time_to_acknowledge_minutes",
                                 to_ack ? nlohmann::json(*to_ack / 60'000.0) : nlohmann::json(nullptr)}}
                     .dump(2)
              << '\n';
  } else if (to_ack) {
    std::cout << fmt::format("median time to acknowledge: {:.0f} min\n", *to_ack / 60'000.0);
  }
  return kExitOk;
}

// Every problem of a configuration, found the way the commands would find
// them (the file's own checks, then every plugin's section against its
// schema), without opening or creating the store and without starting any
// plugin (no create call: nothing connects anywhere).
int command_config_check(const GlobalOptions& options, bool as_json) {
  const std::optional<std::filesystem::path> path = find_config(options);
  if (!path) {
    throw ConfigError(
        "no configuration to check: give --config FILE, set CRMHOST_CONFIG, or create ./crmhost.json or "
        "/etc/crmhost/config.json");
  }
  std::vector<std::string> problems;
  SystemClock clock;
  // What the loader warns about (settings for a plugin nobody has) is a problem here; its
  // refusals are listed from the records below, once each.
  Logger logger(clock, LogLevel::warn, [&problems](std::string_view line) {
    const std::size_t source_end = line.find("] ");
    const std::string_view message = source_end == std::string_view::npos ? line : line.substr(source_end + 2);
    if (message.rfind("refused plugin '", 0) != 0) {
      problems.emplace_back(message.substr(0, message.find_last_not_of('\n') + 1));
    }
  });
  PluginHostOptions plugin_options;
  HostConfig config;
  bool file_valid = true;
  try {
    config = load_host_config(*path);
    plugin_options.plugin_settings = config.plugins;
    plugin_options.available_features = feature_names(config.features);
  } catch (const ConfigError& e) {
    file_valid = false;
    problems.emplace_back(e.what());
    // The plugins' sections can still be checked when the file is JSON at all.
    std::ifstream in(*path);
    const nlohmann::json document = nlohmann::json::parse(in, nullptr, false);
    if (document.is_object() && document.contains("plugins") && document["plugins"].is_object()) {
      plugin_options.plugin_settings = document["plugins"];
    }
  }
  plugin_options.config_dir = std::filesystem::absolute(*path).parent_path();
  plugin_options.create_instances = false;
  if (!options.no_default_plugin_dir) {
    plugin_options.plugin_dirs.push_back(default_plugin_dir());
  }
  for (const auto& directory : config.plugin_dirs) {
    plugin_options.plugin_dirs.push_back(directory);
  }
  for (const auto& directory : options.plugin_dirs) {
    plugin_options.plugin_dirs.emplace_back(directory);
  }
  InMemoryStateStore state;
  PluginHost host(logger, clock, state, g_cancelled);
  try {
    host.load(plugin_options);
  } catch (const ConfigError& e) {
    problems.emplace_back(e.what());
  }
  nlohmann::json plugins = nlohmann::json::object();
  for (const PluginRecord& record : host.records()) {
    const std::string name = record.id.empty() ? record.file.filename().string() : record.id;
    plugins[name] = plugin_state_name(record.state);
    if (record.state == PluginState::refused) {
      problems.push_back(fmt::format("plugin '{}': {}", name, record.reason));
    }
  }
  if (as_json) {
    std::cout << nlohmann::json{{"config", path->string()},
                                {"valid", problems.empty()},
                                {"problems", problems},
                                {"plugins", plugins}}
                     .dump(2)
              << '\n';
  } else if (problems.empty()) {
    std::cout << fmt::format("{}: valid ({} plugin(s) found, {} configured)\n", path->string(), host.records().size(),
                             plugin_options.plugin_settings.size());
  } else {
    std::cout << fmt::format("{}: {} problem(s){}\n", path->string(), problems.size(),
                             file_valid ? "" : " (the file itself is invalid)");
    for (const std::string& problem : problems) {
      std::cout << "  - " << problem << '\n';
    }
  }
  return problems.empty() ? kExitOk : kExitConfig;
}

// The words a command path completes to: its subcommands and its options.
void collect_completions(const CLI::App& app, const std::string& path,
                         std::vector<std::pair<std::string, std::string>>& words_by_path,
                         std::vector<std::string>& value_options) {
  std::string words;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    words += (words.empty() ? "" : " ") + sub->get_name();
  }
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) {
      continue;
    }
    for (const std::string& name : option->get_lnames()) {
      words += (words.empty() ? "--" : " --") + name;
      if (option->get_type_size() > 0 &&
          std::find(value_options.begin(), value_options.end(), "--" + name) == value_options.end()) {
        value_options.push_back("--" + name);
      }
    }
  }
  words_by_path.emplace_back(path, words);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    collect_completions(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), words_by_path,
                        value_options);
  }
}

// A bash completion function generated from the command tree itself, so it
// never falls behind it; zsh runs the same through bashcompinit.
std::string completion_script(const CLI::App& app, const std::string& shell) {
  std::vector<std::pair<std::string, std::string>> words_by_path;
  std::vector<std::string> value_options;
  collect_completions(app, "", words_by_path, value_options);
  std::string cases;
  std::string paths;
  for (const auto& [path, words] : words_by_path) {
    cases += fmt::format("    \"{}\") echo \"{}\" ;;\n", path, words);
    paths += fmt::format(" \"{}\"", path);
  }
  std::string script = shell == "zsh" ? "#compdef crmhost\nautoload -U +X bashcompinit && bashcompinit\n" : "";
  script += fmt::format(
      R"SCRIPT(# crmhost completion ({0}); generated by `crmhost completion {0}`.
_crmhost_words() {{
  case "$1" in
{1}  esac
}}
_crmhost_is_path() {{
  local known
  for known in{2}; do [[ "$known" == "$1" ]] && return 0; done
  return 1
}}
_crmhost() {{
  local current="${{COMP_WORDS[COMP_CWORD]}}" previous="" path="" word i candidate
  (( COMP_CWORD > 0 )) && previous="${{COMP_WORDS[COMP_CWORD-1]}}"
  case "$previous" in
    --config|--db|--plugin-dir) COMPREPLY=($(compgen -f -- "$current")); return 0 ;;
    {3}) COMPREPLY=(); return 0 ;;
  esac
  for (( i = 1; i < COMP_CWORD; i++ )); do
    word="${{COMP_WORDS[i]}}"
    [[ "$word" == -* ]] && continue
    candidate="${{path:+$path }}$word"
    _crmhost_is_path "$candidate" && path="$candidate"
  done
  COMPREPLY=($(compgen -W "$(_crmhost_words "$path")" -- "$current"))
}}
complete -F _crmhost crmhost
)SCRIPT",
      shell, cases, paths, fmt::join(value_options, "|"));
  return script;
}

// True when the command line asks for JSON: then errors are JSON too.
bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--") {
      return false;
    }
    if (argument == "--json") {
      return true;
    }
  }
  return false;
}

// One error, as a line on stderr, or with --json as {"error": {"code", "message"}} on stdout.
int report_error(int exit_code, const std::string& message, bool as_json) {
  if (as_json) {
    std::cout << nlohmann::json{{"error", {{"code", exit_code}, {"message", message}}}}.dump(2) << '\n';
  } else {
    std::cerr << "crmhost: " << message << '\n';
  }
  return exit_code;
}

std::string exit_code_help() {
  std::string text = "Exit codes:\n";
  for (const ExitCodeMeaning& entry : kExitCodes) {
    text += fmt::format("  {:>3}  {}\n", entry.code, entry.meaning);
  }
  text +=
      "A plugin that crashes (SIGSEGV, SIGBUS, SIGFPE, SIGABRT) kills the process with its signal, after one line\n"
      "on stderr naming the plugin and the call. With --json, an error is {\"error\": {\"code\": N, \"message\":\n"
      "\"...\"}} on stdout.\n"
      "Configuration: --config FILE, else $CRMHOST_CONFIG, else ./crmhost.json, else /etc/crmhost/config.json.\n";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crmhost: loads churn-detection and win-back plugins and runs them over the customer store."};
  app.footer(exit_code_help());
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("crmhost ") + CRM_HOST_VERSION);

  GlobalOptions options;
  app.add_option("--config", options.config_path, "Host configuration file (JSON)")->check(CLI::ExistingFile);
  app.add_option("--plugin-dir", options.plugin_dirs, "Another directory to load plugins from (repeatable)");
  app.add_flag("--no-default-plugin-dir", options.no_default_plugin_dir,
               "Do not load plugins from ../plugins beside the crmhost binary");
  app.add_option("--db", options.db_path, "SQLite customer store (default: ./crm.db, or the configuration's)");
  app.add_option("--log-level", options.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_flag("--verbose", options.verbose, "Print the plugin table in `run` even when no plugin was refused");
  // A bad date is a usage error before anything is opened.
  const CLI::Validator calendar_date([](std::string& text) { return date_problem(text); }, "YYYY-MM-DD",
                                     "calendar date");

  bool plugins_json = false;
  auto* plugins = app.add_subcommand("plugins", "List every plugin found: loaded, disabled or refused with the reason");
  plugins->add_flag("--json", plugins_json, "Print JSON for scripts");

  bool run_json = false;
  std::string run_as_of;
  auto* run = app.add_subcommand("run", "The main job: sync every connector, score everyone, raise and deliver alerts");
  run->add_option("--as-of", run_as_of,
                  "Score, detect churn and run the campaigns as of this date, YYYY-MM-DD (default: today)")
      ->check(calendar_date);
  run->add_flag("--json", run_json, "Print the run summary as JSON");

  bool sync_json = false;
  std::string sync_connector;
  auto* sync = app.add_subcommand("sync", "Run the configured connectors into the store, resuming where they stopped");
  sync->add_option("--connector", sync_connector, "Only this connector");
  sync->add_flag("--json", sync_json, "Print one summary object per connector as JSON");

  auto* quarantine = app.add_subcommand("quarantine", "Records the connectors could not use, and their reasons");
  quarantine->require_subcommand(1);
  bool quarantine_json = false;
  bool quarantine_all = false;
  std::string quarantine_connector;
  auto* quarantine_list = quarantine->add_subcommand("list", "List quarantined records (pending ones by default)");
  quarantine_list->add_option("--connector", quarantine_connector, "Only this connector's records");
  quarantine_list->add_flag("--all", quarantine_all, "Include records already re-processed");
  quarantine_list->add_flag("--json", quarantine_json, "Print JSON, raw records included");
  auto* quarantine_retry =
      quarantine->add_subcommand("retry", "Hand pending records back to their connectors (after a fix)");
  quarantine_retry->add_option("--connector", quarantine_connector, "Only this connector's records");
  quarantine_retry->add_flag("--json", quarantine_json, "Print JSON");

  bool score_json = false;
  std::string score_as_of;
  auto* score = app.add_subcommand("score", "Score every customer through the scorer plugins and store the run");
  score->add_option("--as-of", score_as_of, "Compute features as of this date, YYYY-MM-DD (default: today)")
      ->check(calendar_date);
  score->add_flag("--json", score_json, "Print the band distribution and band changes as JSON");

  bool explain_json = false;
  std::string explain_customer;
  auto* explain = app.add_subcommand("explain", "Why a customer has their score: band, tier, stage, reasons");
  explain
      ->add_option("CUSTOMER_ID", explain_customer,
                   "The store's customer id (as `score` prints it), or SOURCE:EXTERNAL_ID (erp_csv:17850)")
      ->required();
  explain->add_flag("--json", explain_json, "Print JSON");

  bool train_json = false;
  std::string train_as_of;
  int train_horizon_days = 90;
  auto* train = app.add_subcommand(
      "train", "Fit the learning scorers on history: features a horizon before the date, outcome up to it");
  train->add_option("--as-of", train_as_of, "End of the known outcome, YYYY-MM-DD (default: today)")
      ->check(calendar_date);
  train->add_option("--horizon", train_horizon_days, "Days without a purchase that count as churn")
      ->check(CLI::Range(1, 3650));
  train->add_flag("--json", train_json, "Print JSON");

  bool backtest_json = false;
  std::string backtest_as_of;
  int backtest_horizon_days = 90;
  int backtest_lead_step_days = 7;
  auto* backtest =
      app.add_subcommand("backtest",
                         "Measure every scorer on the real outcome after a past date: ROC-AUC, top-10 % precision and "
                         "recall, lead time");
  backtest->add_option("--as-of", backtest_as_of, "The date to predict from, YYYY-MM-DD")
      ->required()
      ->check(calendar_date);
  backtest->add_option("--horizon", backtest_horizon_days, "Days without a purchase that count as churn")
      ->check(CLI::Range(1, 3650));
  backtest
      ->add_option("--lead-step", backtest_lead_step_days,
                   "Days between the snapshots that measure lead time (0: skip lead time)")
      ->check(CLI::Range(0, 365));
  backtest->add_flag("--json", backtest_json, "Print JSON");

  auto* alerts = app.add_subcommand("alerts", "Alerts and their notifications: list, acknowledge, resolve, resend");
  alerts->require_subcommand(1);
  bool alerts_json = false;
  std::string alerts_state;
  // Read once, before any thread starts: who acknowledges or resolves by default.
  const char* user = std::getenv("USER");  // NOLINT(concurrency-mt-unsafe)
  std::string alerts_by = user != nullptr ? user : "crmhost";
  std::string alerts_note;
  std::int64_t alerts_id = 0;
  auto* alerts_list = alerts->add_subcommand("list", "Alerts, oldest first, and the median time to acknowledge");
  alerts_list->add_option("--state", alerts_state, "open, acknowledged or resolved")
      ->check(CLI::IsMember({"open", "acknowledged", "resolved"}));
  alerts_list->add_flag("--json", alerts_json, "Print JSON");
  auto* alerts_ack = alerts->add_subcommand("ack", "Acknowledge an alert: it stops escalating");
  alerts_ack->add_option("ID", alerts_id, "Alert id")->required();
  alerts_ack->add_option("--by", alerts_by, "Who acknowledges (default: $USER)");
  alerts_ack->add_flag("--json", alerts_json, "Print JSON");
  auto* alerts_resolve = alerts->add_subcommand("resolve", "Close an alert with a note");
  alerts_resolve->add_option("ID", alerts_id, "Alert id")->required();
  alerts_resolve->add_option("--note", alerts_note, "What was done")->required();
  alerts_resolve->add_option("--by", alerts_by, "Who resolves (default: $USER)");
  alerts_resolve->add_flag("--json", alerts_json, "Print JSON");
  auto* alerts_outbox = alerts->add_subcommand("outbox", "Notifications: pending, sent or dead, with their errors");
  alerts_outbox->add_option("--state", alerts_state, "pending, sent or dead")
      ->check(CLI::IsMember({"pending", "sent", "dead"}));
  alerts_outbox->add_flag("--json", alerts_json, "Print JSON");
  auto* alerts_resend = alerts->add_subcommand("resend", "Queue a dead notification again");
  alerts_resend->add_option("ID", alerts_id, "Notification id (from `alerts outbox`)")->required();
  alerts_resend->add_flag("--json", alerts_json, "Print JSON");

  WinbackArgs winback_args;
  winback_args.by = alerts_by;
  auto* churn = app.add_subcommand("churn", "Lost customers: detect, list, show, mark, confirm the reason, 5 Why");
  churn->require_subcommand(1);
  auto* churn_detect = churn->add_subcommand("detect", "Find lost customers, propose reasons, value and eligibility");
  churn_detect->add_option("--as-of", winback_args.date, "Detect as of this date, YYYY-MM-DD (default: today)")
      ->check(calendar_date);
  auto* churn_list = churn->add_subcommand("list", "Lost customers with reason, value and eligibility");
  churn_list->add_flag("--eligible", winback_args.eligible_only, "Only those to be worked through playbooks");
  auto* churn_show = churn->add_subcommand("show", "One lost customer: evidence, reason, value, 5 Why chain");
  auto* churn_mark = churn->add_subcommand("mark", "Mark a customer lost (they told us, or the contract ended)");
  churn_mark->add_option("--date", winback_args.date, "Churn date, YYYY-MM-DD (default: today)")->check(calendar_date);
  churn_mark->add_option("--note", winback_args.note, "Why");
  auto* churn_reason = churn->add_subcommand("reason", "Confirm or change a lost customer's reason");
  auto* churn_why = churn->add_subcommand("why", "Add one \"why\" to the customer's 5 Why root-cause chain");
  auto* churn_causes =
      churn->add_subcommand("causes", "Root causes: the last answers of the 5 Why chains, the most customers first");
  // The customer comes first on the command line: `churn reason 2 attracted_away`.
  for (CLI::App* command : {churn_show, churn_mark, churn_reason, churn_why}) {
    command->add_option("CUSTOMER_ID", winback_args.customer, "The store's customer id, or SOURCE:EXTERNAL_ID")
        ->required();
  }
  churn_reason
      ->add_option("REASON", winback_args.reason,
                   "abandoned_by_us, forced_to_leave, bought_off, attracted_away, left_dissatisfied or other")
      ->required()
      ->check(CLI::IsMember(churn_reason_codes()));
  churn_reason->add_option("--note", winback_args.note, "What the person found")->required();
  churn_why->add_option("TEXT", winback_args.text, "The answer to the next \"why?\"")->required();
  for (CLI::App* command : {churn_mark, churn_reason}) {
    command->add_option("--by", winback_args.by, "Who (default: $USER)");
  }
  auto* dnc = app.add_subcommand("dnc", "The do-not-contact list: no campaign or revival touch reaches these");
  dnc->require_subcommand(1);
  auto* dnc_add = dnc->add_subcommand("add", "Add a customer, with the reason");
  dnc_add->add_option("CUSTOMER_ID", winback_args.customer, "The store's customer id, or SOURCE:EXTERNAL_ID")
      ->required();
  dnc_add->add_option("--reason", winback_args.reason, "Why (a request, a legal hold...)")->required();
  dnc_add->add_option("--by", winback_args.by, "Who (default: $USER)");
  auto* dnc_remove = dnc->add_subcommand("remove", "Remove a customer");
  dnc_remove->add_option("CUSTOMER_ID", winback_args.customer, "The store's customer id, or SOURCE:EXTERNAL_ID")
      ->required();
  auto* dnc_list = dnc->add_subcommand("list", "Everyone on the list and why");
  auto* campaign_cmd =
      app.add_subcommand("campaigns", "Win-back campaigns: list, run (enrol and advance), status, report with uplift");
  campaign_cmd->require_subcommand(1);
  auto* campaigns_list = campaign_cmd->add_subcommand("list", "Campaigns and their enrolments by state");
  auto* campaigns_run =
      campaign_cmd->add_subcommand("run", "Enrol eligible lost customers, advance due steps, deliver the messages");
  campaigns_run
      ->add_option("--as-of", winback_args.date,
                   "Run the campaigns as if it were this date, YYYY-MM-DD (replaying history; default: now)")
      ->check(calendar_date);
  auto* campaigns_status = campaign_cmd->add_subcommand("status", "One campaign's budget and enrolments");
  auto* campaigns_report = campaign_cmd->add_subcommand(
      "report", "Enrolled, contacted, recovered, cost, revenue, benefit/cost, uplift vs holdout with a 95 % interval");
  auto* campaigns_tasks = campaign_cmd->add_subcommand("tasks", "The owners' tasks the playbooks created");
  campaigns_tasks->add_option("--state", winback_args.state, "open or done")->check(CLI::IsMember({"open", "done"}));
  auto* campaigns_done = campaign_cmd->add_subcommand(
      "done", "Close a task with what came of it (a playbook's task_done branch reads it)");
  campaigns_done->add_option("TASK_ID", winback_args.campaign_id, "Task id (from `campaigns tasks`)")->required();
  campaigns_done->add_option("--outcome", winback_args.note, "What came of it")->required();
  campaigns_done->add_option("--by", winback_args.by, "Who (default: $USER)");
  for (CLI::App* command : {campaigns_status, campaigns_report}) {
    command->add_option("ID", winback_args.campaign_id, "Campaign id (from `campaigns list`)")->required();
  }
  for (CLI::App* command :
       {churn_detect, churn_list, churn_show, churn_mark, churn_reason, churn_why, churn_causes, dnc_add, dnc_remove,
        dnc_list, campaigns_list, campaigns_run, campaigns_status, campaigns_report, campaigns_tasks, campaigns_done}) {
    command->add_flag("--json", winback_args.as_json, "Print JSON");
  }

  bool features_json = false;
  auto* features = app.add_subcommand("features", "List the customer features this host computes for scorers");
  features->add_flag("--json", features_json, "Print JSON");

  bool version_json = false;
  auto* version = app.add_subcommand("version", "Print the host version and the plugin ABI it speaks");
  version->add_flag("--json", version_json, "Print JSON");

  auto* config_cmd = app.add_subcommand("config", "Check a configuration without touching the store");
  config_cmd->require_subcommand(1);
  bool config_json = false;
  auto* config_check = config_cmd->add_subcommand(
      "check",
      "Validate the configuration and every plugin's section against its schema; exit 3 listing every "
      "problem");
  config_check->add_flag("--json", config_json, "Print JSON");

  std::string completion_shell;
  auto* completion =
      app.add_subcommand("completion", "Print a shell completion script: source <(crmhost completion bash)");
  completion->add_option("SHELL", completion_shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));

  const bool as_json = wants_json(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0 || !as_json) {
      const int code = app.exit(e);
      return code == 0 ? kExitOk : kExitUsage;
    }
    return report_error(kExitUsage, e.what(), true);
  }

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  install_plugin_fault_reporting(kExitPluginEnded);
  try {
    if (completion->parsed()) {
      std::cout << completion_script(app, completion_shell);
      return kExitOk;
    }
    if (config_check->parsed()) return command_config_check(options, config_json);
    if (plugins->parsed()) return command_plugins(options, plugins_json);
    if (run->parsed()) return command_run(options, run_as_of, run_json);
    if (version->parsed()) return command_version(version_json);
    if (score->parsed()) return command_score(options, score_as_of, score_json);
    if (explain->parsed()) return command_explain(options, explain_customer, explain_json);
    if (train->parsed()) return command_train(options, train_as_of, train_horizon_days, train_json);
    if (backtest->parsed()) {
      return command_backtest(options, backtest_as_of, backtest_horizon_days, backtest_lead_step_days, backtest_json);
    }
    if (features->parsed()) return command_features(options, features_json);
    for (const auto& [command, action] :
         std::initializer_list<std::pair<CLI::App*, const char*>>{{alerts_list, "list"},
                                                                  {alerts_ack, "ack"},
                                                                  {alerts_resolve, "resolve"},
                                                                  {alerts_outbox, "outbox"},
                                                                  {alerts_resend, "resend"}}) {
      if (command->parsed()) {
        return command_alerts(options, action, alerts_id, alerts_by, alerts_note, alerts_state, alerts_json);
      }
    }
    for (const auto& [command, action] :
         std::initializer_list<std::pair<CLI::App*, const char*>>{{churn_detect, "detect"},
                                                                  {churn_list, "list"},
                                                                  {churn_show, "show"},
                                                                  {churn_mark, "mark"},
                                                                  {churn_reason, "reason"},
                                                                  {churn_why, "why"},
                                                                  {churn_causes, "causes"}}) {
      if (command->parsed()) {
        winback_args.action = action;
        return command_churn(options, winback_args);
      }
    }
    for (const auto& [command, action] : std::initializer_list<std::pair<CLI::App*, const char*>>{
             {dnc_add, "add"}, {dnc_remove, "remove"}, {dnc_list, "list"}}) {
      if (command->parsed()) {
        winback_args.action = action;
        return command_dnc(options, winback_args);
      }
    }
    for (const auto& [command, action] :
         std::initializer_list<std::pair<CLI::App*, const char*>>{{campaigns_list, "list"},
                                                                  {campaigns_run, "run"},
                                                                  {campaigns_status, "status"},
                                                                  {campaigns_report, "report"},
                                                                  {campaigns_tasks, "tasks"},
                                                                  {campaigns_done, "done"}}) {
      if (command->parsed()) {
        winback_args.action = action;
        return command_campaigns(options, winback_args);
      }
    }
    if (sync->parsed()) return command_sync(options, sync_connector, sync_json);
    if (quarantine_list->parsed()) {
      return command_quarantine_list(options, quarantine_connector, quarantine_all, quarantine_json);
    }
    if (quarantine_retry->parsed()) return command_quarantine_retry(options, quarantine_connector, quarantine_json);
  } catch (const CommandError& e) {
    return report_error(e.exit_code(), e.what(), as_json);
  } catch (const ConfigError& e) {
    return report_error(kExitConfig, std::string("configuration error: ") + e.what(), as_json);
  } catch (const StoreError& e) {
    return report_error(kExitConfig, std::string("database refused: ") + e.what(), as_json);
  } catch (const JobLockBusy& e) {
    return report_error(kExitBusy, e.what(), as_json);
  } catch (const std::exception& e) {
    return report_error(kExitFailure, e.what(), as_json);
  }
  return kExitUsage;
}
