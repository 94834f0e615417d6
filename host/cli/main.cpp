#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/exit_codes.hpp"
#include "cli/plugin_table.hpp"
#include "cli/progress.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/logger.hpp"
#include "loader/plugin_host.hpp"
#include "store/store.hpp"
#include "sync/sync_engine.hpp"

namespace {

using namespace crm::host;  // NOLINT(google-build-using-namespace): the entry point of the host

std::atomic<bool> g_cancelled{false};

extern "C" void on_stop_signal(int /*signal*/) {
  g_cancelled.store(true);
}

struct GlobalOptions {
  std::string config_path;
  std::vector<std::string> plugin_dirs;
  bool no_default_plugin_dir = false;
  std::string db_path;
  std::string log_level;
};

// What every command needs: time, logs, configuration, where plugins are.
struct Session {
  SystemClock clock;
  Logger logger{clock};
  HostConfig config;
  PluginHostOptions plugin_options;
  std::optional<std::filesystem::path> database;
};

void prepare(const GlobalOptions& options, Session& session, LogLevel default_level) {
  if (!options.config_path.empty()) {
    session.config = load_host_config(options.config_path);
    session.plugin_options.config_dir = std::filesystem::absolute(options.config_path).parent_path();
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
  if (!options.db_path.empty()) {
    session.database = options.db_path;
  } else if (session.config.database) {
    session.database = session.config.database;
  } else {
    session.database = std::filesystem::path("crm.db");
  }
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
      std::string state = "not found";
      for (const PluginRecord& record : host.records()) {
        if (record.id == only_id) {
          state =
              fmt::format("{}{}", plugin_state_name(record.state), record.reason.empty() ? "" : ": " + record.reason);
        }
      }
      throw ConfigError(fmt::format("connector '{}' cannot sync ({})", only_id, state));
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
  Store store(session.database->string());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);
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
    std::cout << "no connector is configured; see `crmhost plugins`\n";
  }
  if (g_cancelled.load()) {
    return kExitCancelled;
  }
  return failed ? kExitSyncFailed : kExitOk;
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
  ProgressLine progress;
  SyncEngine engine(store, session.logger, session.clock, g_cancelled, sync_options(session, progress));
  nlohmann::json report = nlohmann::json::array();
  for (LoadedPlugin* connector : host.plugins_of_kind(CRM_KIND_CONNECTOR)) {
    if (!connector_id.empty() && connector->id() != connector_id) {
      continue;
    }
    const RetrySummary summary = engine.retry_quarantine(*connector);
    report.push_back({{"connector", connector->id()},
                      {"released", summary.released},
                      {"still_bad", summary.still_bad},
                      {"unsupported", summary.unsupported}});
    if (!as_json) {
      std::cout << fmt::format(
          "{}: {} released, {} still quarantined{}\n", connector->id(), summary.released, summary.still_bad,
          summary.unsupported > 0 ? fmt::format(", {} cannot be retried by this connector", summary.unsupported) : "");
    }
  }
  if (as_json) {
    std::cout << report.dump(2) << '\n';
  }
  return kExitOk;
}

int command_run(const GlobalOptions& options, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::info);
  Store store(session.database->string());
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
    print_plugin_table(std::cout, host.records());
    for (const SyncSummary& sync : syncs) {
      std::cout << "sync " << sync_summary_line(sync) << '\n';
    }
  }
  if (cancelled) {
    return kExitCancelled;
  }
  if (sync_failed) {
    return kExitSyncFailed;
  }
  return host.refused_count() > 0 ? kExitPartial : kExitOk;
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "crmhost: loads churn-detection and win-back plugins and runs them over the customer store.\n"
      "Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration or database refused, 4 ran but some\n"
      "plugins were refused, 5 a connector failed as a whole, 130 cancelled."};
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

  bool plugins_json = false;
  auto* plugins = app.add_subcommand("plugins", "List every plugin found: loaded, disabled or refused with the reason");
  plugins->add_flag("--json", plugins_json, "Print JSON for scripts");

  bool run_json = false;
  auto* run = app.add_subcommand("run", "The main job: open the store, load the plugins, run them once");
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

  bool version_json = false;
  auto* version = app.add_subcommand("version", "Print the host version and the plugin ABI it speaks");
  version->add_flag("--json", version_json, "Print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  try {
    if (plugins->parsed()) return command_plugins(options, plugins_json);
    if (run->parsed()) return command_run(options, run_json);
    if (version->parsed()) return command_version(version_json);
    if (sync->parsed()) return command_sync(options, sync_connector, sync_json);
    if (quarantine_list->parsed()) {
      return command_quarantine_list(options, quarantine_connector, quarantine_all, quarantine_json);
    }
    if (quarantine_retry->parsed()) return command_quarantine_retry(options, quarantine_connector, quarantine_json);
  } catch (const ConfigError& e) {
    std::cerr << "crmhost: configuration error: " << e.what() << '\n';
    return kExitConfig;
  } catch (const StoreError& e) {
    std::cerr << "crmhost: database refused: " << e.what() << '\n';
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "crmhost: " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitUsage;
}
