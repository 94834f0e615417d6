#include "app/config_check.hpp"

#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "loader/host_services.hpp"
#include "scoring/features.hpp"

namespace crm::host {

ConfigCheck check_config(const SessionOptions& options, const std::atomic<bool>& cancelled) {
  const std::optional<std::filesystem::path> path = find_config(options);
  if (!path) {
    throw ConfigError(
        "no configuration to check: give --config FILE, set CRMHOST_CONFIG, or create ./crmhost.json or "
        "/etc/crmhost/config.json");
  }
  ConfigCheck check;
  check.path = *path;
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
  try {
    config = load_host_config(*path);
    plugin_options.plugin_settings = config.plugins;
    plugin_options.instance_settings = config.instances;
    plugin_options.available_features = feature_names(config.features);
    plugin_options.worker = parse_worker_settings(config.plugin_runtime);
    plugin_options.default_isolation = parse_default_isolation(config.plugin_runtime);
  } catch (const ConfigError& e) {
    check.file_valid = false;
    problems.emplace_back(e.what());
    // The plugins' sections can still be checked when the file is JSON at all.
    std::ifstream in(*path);
    const nlohmann::json document = nlohmann::json::parse(in, nullptr, false);
    if (document.is_object() && document.contains("plugins") && document["plugins"].is_object()) {
      plugin_options.plugin_settings = document["plugins"];
    }
    if (document.is_object() && document.contains("instances") && document["instances"].is_object()) {
      plugin_options.instance_settings = document["instances"];
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
  PluginHost host(logger, clock, state, cancelled);
  try {
    host.load(plugin_options);
  } catch (const ConfigError& e) {
    problems.emplace_back(e.what());
  }
  for (const PluginRecord& record : host.records()) {
    const std::string name = record.id.empty() ? record.file.filename().string() : record.id;
    check.plugin_states[name] = plugin_state_name(record.state);
    if (record.state == PluginState::refused) {
      problems.push_back(fmt::format("plugin '{}': {}", name, record.reason));
    }
  }
  check.problems = problems;
  check.plugins_found = host.records().size();
  check.plugins_configured = plugin_options.plugin_settings.size() + plugin_options.instance_settings.size();
  return check;
}

}  // namespace crm::host
