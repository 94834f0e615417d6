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
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/logger.hpp"
#include "loader/plugin_host.hpp"
#include "store/store.hpp"

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

int command_run(const GlobalOptions& options, bool as_json) {
  Session session;
  prepare(options, session, LogLevel::info);
  Store store(session.database->string());
  const std::int64_t run_id = store.begin_run("run", session.clock.now_ms());
  PluginHost host(session.logger, session.clock, store, g_cancelled);
  host.load(session.plugin_options);

  nlohmann::json summary = {
      {"run_id", run_id},
      {"database", session.database->string()},
      {"loaded", host.plugins().size()},
      {"refused", host.refused_count()},
      {"plugins", plugin_records_json(host.records())["plugins"]},
  };
  const bool cancelled = g_cancelled.load();
  const std::string status = cancelled ? "cancelled" : (host.refused_count() > 0 ? "partial" : "ok");
  summary["status"] = status;
  store.finish_run(run_id, status, summary.dump(), session.clock.now_ms());

  if (as_json) {
    std::cout << summary.dump(2) << '\n';
  } else {
    std::cout << fmt::format("run {} on {}: {} plugin(s) loaded, {} refused\n", run_id, session.database->string(),
                             host.plugins().size(), host.refused_count());
    print_plugin_table(std::cout, host.records());
  }
  if (cancelled) {
    return kExitCancelled;
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
      "plugins were refused, 130 cancelled."};
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
