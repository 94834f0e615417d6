// `plugins`, `run`, `sync` and `quarantine`: the commands around the main job.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/result_json.hpp"
#include "app/run_job.hpp"
#include "app/sync_jobs.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "cli/format.hpp"
#include "cli/plugin_table.hpp"
#include "core/config.hpp"

namespace crm::host {

// `crmhost plugins validate FILE`: the conformance kit, one line per check as it ends, then a summary.
void add_plugins_validate_command(CLI::App& plugins, CommandLine& line, Commands& commands) {
  struct Args {
    std::string file;
    std::string config;
    std::string isolation = "process";
    bool as_json = false;
  };
  auto args = std::make_shared<Args>();
  auto* validate = plugins.add_subcommand(
      "validate", "Check a plugin library against the contract of its kind: the conformance kit to run in CI");
  validate->add_option("FILE", args->file, "The plugin library (.so); its manifest NAME.json beside it")
      ->required()
      ->check(CLI::ExistingFile);
  validate
      ->add_option("--config", args->config,
                   "The plugins' configuration (JSON): one plugin's config, or a crmhost configuration; "
                   "connectors and channels need it to reach a real source or receiver")
      ->check(CLI::ExistingFile);
  validate->add_option("--isolation", args->isolation, "How the plugin runs: process (default) or in_process")
      ->check(CLI::IsMember({"process", "in_process"}));
  validate->add_flag("--json", args->as_json, "Print every check as JSON");
  commands.add(validate, [&line, args] {
    PluginValidationOptions options;
    options.file = std::filesystem::absolute(args->file);
    options.isolation = args->isolation;
    if (!args->config.empty()) {
      std::ifstream input(args->config);
      options.config = parse_config_json(input, args->config);
      options.config_dir = std::filesystem::absolute(args->config).parent_path();
    }
    if (!args->as_json) {
      options.on_check = [](const CheckResult& check) { std::cout << format_check_line(check) << '\n' << std::flush; };
    }
    SystemClock clock;
    Logger logger(clock, parse_log_level(line.session.log_level).value_or(LogLevel::error));
    const PluginValidation validation = validate_plugin_file(options, logger, clock);
    if (args->as_json) {
      print_json(plugin_validation_json(validation));
    } else {
      print_plugin_validation_summary(std::cout, validation);
    }
    return validation.passed() ? kExitOk : kExitValidationFailed;
  });
}

void add_plugins_command(CLI::App& app, CommandLine& line, Commands& commands) {
  auto as_json = std::make_shared<bool>(false);
  auto* plugins = app.add_subcommand("plugins", "List every plugin found: loaded, disabled or refused with the reason");
  plugins->add_flag("--json", *as_json, "Print JSON for scripts");
  // Registered first: `plugins` itself counts as parsed when `plugins validate` is.
  add_plugins_validate_command(*plugins, line, commands);
  commands.add(plugins, [&line, as_json] {
    // The table already shows every refusal; log lines would only repeat them.
    const std::vector<PluginRecord> records = list_plugins(*open_session(line, LogLevel::error));
    if (*as_json) {
      print_json(plugin_records_json(records));
    } else {
      print_plugin_table(std::cout, records);
    }
    return kExitOk;
  });
}

void add_run_command(CLI::App& app, CommandLine& line, Commands& commands) {
  struct Args {
    bool as_json = false;
    std::string as_of;
  };
  auto args = std::make_shared<Args>();
  auto* run = app.add_subcommand("run", "The main job: sync every connector, score everyone, raise and deliver alerts");
  run->add_option("--as-of", args->as_of,
                  "Score, detect churn and run the campaigns as of this date, YYYY-MM-DD (default: today)")
      ->check(line.calendar_date);
  run->add_flag("--json", args->as_json, "Print the run summary as JSON");
  commands.add(run, [&line, args] {
    const std::unique_ptr<Session> session = open_session(line, LogLevel::info);
    const RunSummary summary = crm::host::run(*session, optional_date(args->as_of, "--as-of"));
    if (args->as_json) {
      print_json(run_summary_json(summary));
    } else {
      print_run_summary(std::cout, summary, session->config().scoring, line.verbose);
    }
    if (summary.cancelled()) {
      return cancelled_exit_code();
    }
    if (summary.sync_failed()) {
      return kExitSyncFailed;
    }
    return summary.refused > 0 ? kExitPartial : kExitOk;
  });
}

void add_sync_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  struct Args {
    bool sync_json = false;
    std::string sync_connector;
    bool quarantine_json = false;
    bool quarantine_all = false;
    std::string quarantine_connector;
  };
  auto args = std::make_shared<Args>();
  auto* sync = app.add_subcommand("sync", "Run the configured connectors into the store, resuming where they stopped");
  sync->add_option("--connector", args->sync_connector, "Only this connector");
  sync->add_flag("--json", args->sync_json, "Print one summary object per connector as JSON");
  commands.add(sync, [&line, args] {
    const SyncResult result = crm::host::sync(*open_session(line, LogLevel::warn), args->sync_connector);
    if (args->sync_json) {
      print_json(sync_result_json(result));
    } else {
      print_sync(std::cout, result);
    }
    if (stop_requested().load()) {
      return cancelled_exit_code();
    }
    if (result.failed()) {
      return kExitSyncFailed;
    }
    return result.refused > 0 ? kExitPartial : kExitOk;
  });

  auto* quarantine = app.add_subcommand("quarantine", "Records the connectors could not use, and their reasons");
  quarantine->require_subcommand(1);
  auto* quarantine_list = quarantine->add_subcommand("list", "List quarantined records (pending ones by default)");
  quarantine_list->add_option("--connector", args->quarantine_connector, "Only this connector's records");
  quarantine_list->add_flag("--all", args->quarantine_all, "Include records already re-processed");
  quarantine_list->add_flag("--json", args->quarantine_json, "Print JSON, raw records included");
  commands.add(quarantine_list, [&line, args] {
    const std::vector<QuarantineEntry> entries =
        list_quarantine(*open_session(line, LogLevel::warn), args->quarantine_connector, args->quarantine_all);
    if (args->quarantine_json) {
      // Raw records are whatever the source held: bytes that are not UTF-8 print as U+FFFD.
      std::cout << quarantine_json(entries).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    } else {
      print_quarantine(std::cout, entries);
    }
    return kExitOk;
  });
  auto* quarantine_retry =
      quarantine->add_subcommand("retry", "Hand pending records back to their connectors (after a fix)");
  quarantine_retry->add_option("--connector", args->quarantine_connector, "Only this connector's records");
  quarantine_retry->add_flag("--json", args->quarantine_json, "Print JSON");
  commands.add(quarantine_retry, [&line, args] {
    const QuarantineRetryResult result =
        retry_quarantine(*open_session(line, LogLevel::warn), args->quarantine_connector);
    if (args->quarantine_json) {
      print_json(quarantine_retry_json(result));
    } else {
      print_quarantine_retry(std::cout, result);
    }
    if (result.failed()) {
      return kExitSyncFailed;
    }
    return result.refused > 0 ? kExitPartial : kExitOk;
  });
}

}  // namespace crm::host
