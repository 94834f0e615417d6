// crmhost's entry point: the command tree (each command's definition and
// action live in host/cli/*_commands.cpp), then one command run, its errors
// mapped to the exit codes of exit_codes.hpp.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <sys/prctl.h>

#include "app/errors.hpp"
#include "app/request_dates.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "core/config.hpp"
#include "core/huge_page_heap.hpp"
#include "loader/plugin_call_guard.hpp"
#include "loader/remote_plugin.hpp"
#include "store/job_lock.hpp"
#include "store/store.hpp"

namespace {

using namespace crm::host;  // NOLINT(google-build-using-namespace): the entry point of the host

// After Ctrl-C or SIGTERM, how long an in-process plugin call may run on before the host ends without it
// (a worker's call gets plugin_runtime.cancel_grace_ms, the same by default).
const std::int64_t kInProcessCancelGraceMs = WorkerSettings{}.cancel_grace_ms;

// Plugins whose worker crashed, hung or was disabled during the command are named once each on stderr.
// A plugin disabled for the run, or whose last call failed with its worker, means the command ran
// without it: partial (4). One that recovered on a restart leaves the exit code as it was.
int with_plugin_failures(int exit_code) {
  if (plugin_worker_failures() == 0) {
    return exit_code;
  }
  bool ran_without_a_plugin = false;
  for (const PluginRuntimeStatus& runtime : plugin_runtime_statuses()) {
    if (runtime.failures == 0) {
      continue;
    }
    ran_without_a_plugin = ran_without_a_plugin || runtime.disabled_reason || runtime.unrecovered;
    std::cerr << fmt::format(
        "crmhost: plugin '{}': {} worker failure{}, restarted {} time{}; {}\n", runtime.plugin, runtime.failures,
        runtime.failures == 1 ? "" : "s", runtime.restarts, runtime.restarts == 1 ? "" : "s",
        runtime.disabled_reason ? *runtime.disabled_reason : "last failure: " + runtime.last_failure);
  }
  return ran_without_a_plugin && exit_code == kExitOk ? kExitPartial : exit_code;
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
  crm::host::restart_with_huge_page_heap(argv);
  CLI::App app{"crmhost: loads churn-detection and win-back plugins and runs them over the customer store."};
  app.footer(exit_code_help());
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("crmhost ") + CRM_HOST_VERSION);

  CommandLine line;
  app.add_option("--config", line.session.config_path, "Host configuration file (JSON)")->check(CLI::ExistingFile);
  app.add_option("--plugin-dir", line.session.plugin_dirs, "Another directory to load plugins from (repeatable)");
  app.add_flag("--no-default-plugin-dir", line.session.no_default_plugin_dir,
               "Do not load plugins from ../plugins beside the crmhost binary");
  app.add_option("--db", line.session.db_path,
                 "customer store: a SQLite file (default ./crm.db, or the configuration's) or a postgresql:// URL");
  app.add_option("--log-level", line.session.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_flag("--verbose", line.verbose, "Print the plugin table in `run` even when no plugin was refused");
  // A bad date is a usage error before anything is opened.
  line.calendar_date =
      CLI::Validator([](std::string& text) { return date_problem(text); }, "YYYY-MM-DD", "calendar date");
  // Read once, before any thread starts: who acknowledges or resolves by default.
  const char* user = std::getenv("USER");  // NOLINT(concurrency-mt-unsafe)
  line.user = user != nullptr ? user : "crmhost";

  Commands commands;
  add_plugins_command(app, line, commands);
  add_run_command(app, line, commands);
  add_sync_commands(app, line, commands);
  add_scoring_commands(app, line, commands);
  add_alert_commands(app, line, commands);
  add_winback_commands(app, line, commands);
  add_features_command(app, line, commands);
  add_store_commands(app, line, commands);
  add_serve_command(app, line, commands);
  add_tool_commands(app, line, commands);
  add_token_commands(app, line, commands);
  add_user_commands(app, line, commands);
  add_pack_commands(app, line, commands);

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

  install_stop_handlers();
#if !defined(__SANITIZE_ADDRESS__)
  // Plugins' secrets are in this process's environment: no other process of this user, a plugin's
  // worker among them, may read it through /proc (LeakSanitizer needs to trace the process, so a
  // sanitizer build keeps it traceable).
  ::prctl(PR_SET_DUMPABLE, 0);
#endif
  install_plugin_fault_reporting(kExitPluginEnded);
  start_plugin_watchdog(stop_requested(), kExitPluginHung, cancelled_exit_code, kInProcessCancelGraceMs);
  try {
    return with_plugin_failures(commands.run_parsed().value_or(kExitUsage));
  } catch (const InvalidRequest& e) {
    return report_error(kExitUsage, e.what(), as_json);
  } catch (const NotFound& e) {
    return report_error(kExitNotFound, e.what(), as_json);
  } catch (const PluginsRefused& e) {
    return report_error(kExitPartial, e.what(), as_json);
  } catch (const ConfigError& e) {
    return report_error(kExitConfig, std::string("configuration error: ") + e.what(), as_json);
  } catch (const StoreError& e) {
    return report_error(kExitConfig, std::string("database refused: ") + e.what(), as_json);
  } catch (const JobLockBusy& e) {
    return report_error(kExitBusy, e.what(), as_json);
  } catch (const std::exception& e) {
    return report_error(kExitFailure, e.what(), as_json);
  }
}
