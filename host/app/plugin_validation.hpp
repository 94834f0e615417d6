#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/logger.hpp"

namespace crm::host {

// The conformance kit (`crmhost plugins validate FILE`): loads one plugin library through the host's own
// loader and call paths and checks the contract of every plugin it holds, by kind. Vendors run it in their
// CI, as audio developers run pluginval.

enum class CheckOutcome { pass, fail, skip };
std::string_view check_outcome_name(CheckOutcome outcome);  // "pass", "fail", "skip"

// One check of one plugin. `check` is a stable name ("empty batch", "cursor round trip"); `detail` says what
// was seen: why it failed ("customer c17 scored 41.2 then 40.9"), why it was skipped ("needs --config"), or
// for a pass what was covered, possibly "".
struct CheckResult {
  std::string plugin;  // the plugin's id, or the library's file name when no id is known
  std::string kind;    // "scorer", "connector", "channel", or "" when unknown
  std::string check;
  CheckOutcome outcome = CheckOutcome::fail;
  std::string detail;
};

struct PluginValidation {
  std::filesystem::path file;
  std::vector<CheckResult> checks;  // in the order they ran, plugin after plugin

  [[nodiscard]] std::size_t count(CheckOutcome outcome) const;
  // True when no check failed (skips are counted, never passed off as passes).
  [[nodiscard]] bool passed() const { return count(CheckOutcome::fail) == 0; }
};

struct PluginValidationOptions {
  std::filesystem::path file;  // the plugin library; its manifest NAME.json beside it
  // The plugins' configuration (--config): either one plugin's config (what goes in plugins.<id>.config), used
  // for every plugin of the library, or a crmhost configuration whose "plugins" section gives each plugin's
  // "config". Connectors and channels need it for the checks that reach their source or receiver; without
  // it those checks are skipped, and say so.
  std::optional<nlohmann::json> config;
  // Relative values of "x-crm-path" fields resolve against this (the --config file's folder).
  std::filesystem::path config_dir;
  // How the loader runs each plugin: plugins.<id>.isolation, "process" (its own worker process, so that a
  // crash is reported as the failure of the check that caused it) or "in_process".
  std::string isolation = "process";
  // Looks up environment variables for secret references ({"env": "NAME"}); unset: the process environment.
  std::function<std::optional<std::string>(const std::string&)> environment;
  bool allow_writable_plugins = false;
  // The scorer batch sizes checked, each with synthetic features from a fixed seed.
  std::vector<std::size_t> scorer_batch_sizes = {1, 10, 1000, 100000, 1000000};
  // Called as each check ends, before the next starts (a progress line per check).
  std::function<void(const CheckResult&)> on_check;
};

// Runs every check of every plugin in options.file. Never throws for what a plugin does: a plugin that
// cannot load fails its "load" check with the loader's reason. Throws ConfigError when --config is not
// usable (not an object, or a "plugins" section naming no plugin of the file).
PluginValidation validate_plugin_file(const PluginValidationOptions& options, Logger& logger, const Clock& clock);

}  // namespace crm::host
