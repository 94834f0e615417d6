#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/json_schema.hpp"
#include "core/logger.hpp"
#include "crm/plugin.hpp"
#include "loader/host_services.hpp"
#include "loader/manifest.hpp"
#include "loader/remote_plugin.hpp"
#include "scoring/value_class.hpp"

namespace crm::host {

// unconfigured: the plugin needs settings (its schema requires them) and the
// configuration has none for it; not an error, it is simply not in use.
enum class PluginState { loaded, refused, disabled, unconfigured };
std::string_view plugin_state_name(PluginState state);

// Where a plugin's code runs: in a crmhost-plugin-worker process of its own (a crash, a hang or a leak
// there ends the worker, not the host), or in the host's process (no cost per call, no protection).
enum class PluginIsolation { process, in_process };
std::string_view isolation_name(PluginIsolation isolation);
std::optional<PluginIsolation> parse_isolation(std::string_view name);

// Whether `plugin_id` is one of the plugins built with crmhost (plugins/ and connectors/ of its source).
// Those, found in crmhost's own plugin folder (default_plugin_dir), run in the host's process unless
// configured otherwise; every other plugin runs in a worker.
bool is_bundled_plugin(std::string_view plugin_id);

// One line of `crmhost plugins`: a plugin found, and what became of it.
// One line per instance: a plugin configured under "plugins" (or not at all)
// runs as one instance named by its id; each entry of "instances" is one more.
struct PluginRecord {
  // The instance name, which checkpoints, quarantine, plugin state, sync runs,
  // records, routes and metrics are keyed by; "" when the library could not tell.
  std::string id;
  std::string plugin_id;  // the plugin the instance runs (its descriptor id); equals `id` for the plugin's own
  std::string kind;       // "" when unknown
  std::string version;    // "" when unknown
  std::string abi;        // "MAJOR.MINOR" the library was built with, "" when unknown
  std::filesystem::path file;
  PluginState state = PluginState::refused;
  std::string reason;     // why refused or disabled: what is wrong; what would fix it
  std::string isolation;  // "process" or "in_process" once the library was opened, "" before
  // With refused: the configuration breaks the plugin's schema (checked by the host before create).
  bool config_invalid = false;
  // With refused: what the plugin's create returned when it refused to start; OK otherwise.
  crm_status create_status = CRM_STATUS_OK;
};

// A plugin that passed every check and has a live instance.
class LoadedPlugin {
 public:
  LoadedPlugin(PluginRecord record, const crm_plugin_descriptor& descriptor, std::unique_ptr<PluginServices> services);
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  ~LoadedPlugin();

  [[nodiscard]] const PluginRecord& record() const { return record_; }
  // The instance name (see PluginRecord::id).
  [[nodiscard]] const std::string& id() const { return record_.id; }
  // The plugin the instance runs.
  [[nodiscard]] const std::string& plugin_id() const { return record_.plugin_id; }
  // The descriptor as this host reads it: fields beyond the plugin's struct_size are zero.
  [[nodiscard]] const crm_plugin_descriptor& descriptor() const { return descriptor_; }
  [[nodiscard]] crm_plugin_instance* instance() const { return instance_.get(); }
  [[nodiscard]] const crm_host* host_table() const { return services_->table(); }
  [[nodiscard]] PluginServices& services() const { return *services_; }
  [[nodiscard]] bool has_capability(crm_capabilities bit) const { return (descriptor_.capabilities & bit) != 0; }
  // The scorer table (zero-padded to this host's size) when the plugin is a scorer.
  [[nodiscard]] const crm_scorer_api* scorer_api() const { return scorer_api_ ? &*scorer_api_ : nullptr; }
  // The connector table (zero-padded to this host's size) when the plugin is a connector.
  [[nodiscard]] const crm_connector_api* connector_api() const { return connector_api_ ? &*connector_api_ : nullptr; }
  // The channel table when the plugin is an alert channel.
  [[nodiscard]] const crm_channel_api* channel_api() const { return channel_api_ ? &*channel_api_ : nullptr; }

  // Serialises calls into the instance unless it declared CRM_CAP_THREAD_SAFE.
  [[nodiscard]] std::unique_lock<std::mutex> call_lock();

  // A call returned CRM_STATUS_FATAL: the host stops using the plugin for the
  // rest of the process (crm/abi.h). Keeps the first reason; returns true for
  // that first one only, so the caller logs it once. Any thread.
  bool stop_after_fatal(const std::string& reason);
  // Why the host stopped using the plugin, or nullopt while it is in use.
  [[nodiscard]] std::optional<std::string> stopped_reason() const;

  // The worker side of a process-isolated plugin (owned by the instance), or nullptr in-process.
  [[nodiscard]] const RemotePlugin* remote() const { return remote_; }
  // How long a call of each kind may take: a worker is stopped past it; an in-process call past it
  // ends the host, naming the plugin (plugin_call_guard.hpp), since nothing else can stop it.
  [[nodiscard]] const CallDeadlines& deadlines() const { return deadlines_; }
  // `deadline_ms` for the in-process watchdog (PluginCallScope), 0 for a plugin whose worker keeps its deadlines.
  [[nodiscard]] std::int64_t watchdog_ms(std::int64_t deadline_ms) const {
    return remote_ != nullptr ? 0 : deadline_ms;
  }

 private:
  friend class PluginHost;
  PluginRecord record_;
  crm_plugin_descriptor descriptor_;
  std::optional<crm_scorer_api> scorer_api_;
  std::optional<crm_connector_api> connector_api_;
  std::optional<crm_channel_api> channel_api_;
  std::unique_ptr<PluginServices> services_;
  InstanceHandle instance_;
  RemotePlugin* remote_ = nullptr;
  CallDeadlines deadlines_;
  std::mutex call_mutex_;
  mutable std::mutex stopped_mutex_;
  std::optional<std::string> stopped_reason_;
};

struct PluginHostOptions {
  // Searched in order; within a directory, libraries load in file-name order.
  std::vector<std::filesystem::path> plugin_dirs;
  // Single libraries to load after the directories (`crmhost plugins validate FILE`); each needs its
  // manifest beside it, as in a directory.
  std::vector<std::filesystem::path> plugin_files;
  // The "plugins" section of the host configuration: {"<id>": {"enabled": bool, "config": {...}}}.
  nlohmann::json plugin_settings = nlohmann::json::object();
  // The "instances" section: {"<name>": {"plugin": "<id>", "enabled": bool, "config": {...}}}, each one more
  // instance of the plugin "plugin" under its own name. A plugin that has instances does not also run under
  // its own id unless plugin_settings names it; an instance may not take a name another instance has.
  nlohmann::json instance_settings = nlohmann::json::object();
  // Relative values of fields marked "x-crm-path" resolve against this (the configuration file's folder).
  std::filesystem::path config_dir;
  // Looks up environment variables for secret references; tests substitute it.
  std::function<std::optional<std::string>(const std::string&)> environment;
  // The features the host computes; a scorer needing another is refused. Empty: not checked.
  std::vector<std::string> available_features;
  // Host settings a plugin's schema may take a field from ("x-crm-host-setting": "value_classes.a_share"),
  // so that one number configured for the host is the one its plugins use.
  nlohmann::json host_settings = plugin_visible_settings(ValueClassSettings{});
  // Settings for an id no plugin found has: load() throws ConfigError naming them (as crmhost does) when
  // true; only logs a warning when false.
  bool unknown_plugin_ids_are_errors = false;
  // Load plugin files and folders that users other than root and the host's own could change: writable by
  // group or others, or owned by another user. When false (the default) such a plugin is refused, as
  // sshd's StrictModes refuses such key files.
  bool allow_writable_plugins = false;
  // Settings of plugin workers (plugin_runtime), before each plugin's own deadlines_ms and limits.
  WorkerSettings worker;
  // Isolation of plugins whose settings do not choose one; nullopt: in_process for the plugins built
  // with crmhost (is_bundled_plugin), process for every other.
  std::optional<PluginIsolation> default_isolation;
  // false: check every plugin up to its create call but do not create it
  // (`crmhost config check`); the records say loaded, plugins() stays empty.
  bool create_instances = true;
};

// What only the plugins found can tell about the configuration's "plugins" section: each id that no
// plugin found has (a typo would leave the intended plugin on its defaults), with the closest known id.
// One line each; empty when there is nothing to report. Reusable by any command that checks a
// configuration after discovering plugins.
std::vector<std::string> plugin_settings_problems(const nlohmann::json& plugin_settings,
                                                  const std::vector<PluginRecord>& records);

// The same for the "instances" section: each instance whose "plugin" no plugin found has (with the
// closest known id), or whose name or "plugin" is not an id. One line each; empty when there is nothing to report.
std::vector<std::string> instance_settings_problems(const nlohmann::json& instance_settings,
                                                    const std::vector<PluginRecord>& records);

// Why a plugin file or folder may not be loaded: it is writable by group or
// others, or owned by neither root nor the user running the host. "" when safe.
std::string unsafe_plugin_path_problem(const std::filesystem::path& path);

// Finds, checks and instantiates plugins. A plugin that fails any check is
// refused with one reason and the others carry on; nothing a plugin does at
// load time (short of crashing the process) stops the host.
//
// Libraries stay mapped until the process exits (RTLD_NODELETE): no object a
// plugin made can outlive its code.
class PluginHost {
 public:
  PluginHost(Logger& logger, const Clock& clock, PluginStateStore& state, const std::atomic<bool>& cancelled);
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;
  ~PluginHost();

  // Throws ConfigError only for plugin_settings_problems(), instance_settings_problems() and names taken
  // twice, and only when options.unknown_plugin_ids_are_errors; every other problem refuses a plugin (or
  // one instance of it).
  void load(const PluginHostOptions& options);

  [[nodiscard]] const std::vector<PluginRecord>& records() const { return records_; }
  [[nodiscard]] const std::vector<std::unique_ptr<LoadedPlugin>>& plugins() const { return plugins_; }
  [[nodiscard]] LoadedPlugin* find(std::string_view id) const;
  [[nodiscard]] std::vector<LoadedPlugin*> plugins_of_kind(crm_plugin_kind kind) const;
  [[nodiscard]] std::size_t refused_count() const;

 private:
  // `folder_problem`: why the library's folder makes it unsafe to load, or "".
  void load_library(const std::filesystem::path& file, const PluginHostOptions& options,
                    const std::string& folder_problem);
  // `image`: the library's descriptors as its worker described them, when it runs in one.
  void load_plugin(const std::filesystem::path& file, const Manifest& manifest, const crm_plugin_descriptor* raw,
                   const PluginHostOptions& options, const RemoteLibraryImage* image);
  // A plugin whose descriptor passed every check, ready to have instances made.
  struct CheckedPlugin;
  // Makes the instance `name` of `plugin` from `settings` ({"enabled", "config"}), the section `where`
  // names ("plugins.erp_csv", "instances.orders_eu"); `configured`: the configuration has that section.
  // Records what became of it; a refusal refuses this instance only.
  void create_instance(const CheckedPlugin& plugin, const std::string& name, const nlohmann::json& settings,
                       const std::string& where, bool configured, const PluginHostOptions& options);
  // After every library: refuses instances whose name another plugin runs under, and records the
  // instances of plugins that were refused. Returns one line per name taken twice.
  std::vector<std::string> settle_instances(const PluginHostOptions& options);
  void refuse(PluginRecord record, std::string reason);

  Logger& logger_;
  const Clock& clock_;
  PluginStateStore& state_;
  const std::atomic<bool>& cancelled_;
  std::vector<PluginRecord> records_;
  // Before plugins_: the plugins' descriptors point into these images, so they go last.
  std::vector<std::unique_ptr<RemoteLibraryImage>> images_;
  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
};

// The worker settings of one plugin: `base` with the plugin's own "deadlines_ms" and "limits"
// (its section of the "plugins" configuration) on top.
WorkerSettings worker_settings_for(const WorkerSettings& base, const nlohmann::json& plugin_settings);
// The "plugin_runtime" section of the host configuration (validated by its schema) as worker
// settings, and the default isolation it names.
WorkerSettings parse_worker_settings(const nlohmann::json& plugin_runtime);
std::optional<PluginIsolation> parse_default_isolation(const nlohmann::json& plugin_runtime);

// The default plugin directory: `../plugins` relative to the running executable.
std::filesystem::path default_plugin_dir();

}  // namespace crm::host
