#include "app/session.hpp"

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>

#include "loader/plugin_call_guard.hpp"
#include "scoring/features.hpp"

namespace crm::host {

std::optional<std::filesystem::path> find_config(const SessionOptions& options) {
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

Session::Session(const SessionOptions& options, LogLevel default_level, std::atomic<bool>& cancelled,
                 JobObserver observer)
    : cancelled_(cancelled), observer_(std::move(observer)) {
  if (const std::optional<std::filesystem::path> config_path = find_config(options)) {
    config_ = load_host_config(*config_path);
    plugin_options_.config_dir = std::filesystem::absolute(*config_path).parent_path();
  }
  std::string level_name = options.log_level;
  if (level_name.empty() && config_.log_level) {
    level_name = *config_.log_level;
  }
  logger_.set_threshold(level_name.empty() ? default_level : parse_log_level(level_name).value());
  if (!options.no_default_plugin_dir) {
    plugin_options_.plugin_dirs.push_back(default_plugin_dir());
  }
  for (const auto& directory : config_.plugin_dirs) {
    plugin_options_.plugin_dirs.push_back(directory);
  }
  for (const auto& directory : options.plugin_dirs) {
    plugin_options_.plugin_dirs.emplace_back(directory);
  }
  plugin_options_.plugin_settings = config_.plugins;
  plugin_options_.instance_settings = config_.instances;
  plugin_options_.unknown_plugin_ids_are_errors = true;
  plugin_options_.allow_writable_plugins = config_.allow_writable_plugins;
  plugin_options_.worker = parse_worker_settings(config_.plugin_runtime);
  plugin_options_.default_isolation = parse_default_isolation(config_.plugin_runtime);
  set_plugin_watchdog_cancel_grace_ms(plugin_options_.worker.cancel_grace_ms);
  plugin_options_.available_features = feature_names(config_.features);
  plugin_options_.host_settings = plugin_visible_settings(config_.value_classes);
  if (!options.db_path.empty()) {
    database_ = options.db_path;
  } else if (config_.database) {
    database_ = config_.database->string();
  } else {
    database_ = "crm.db";
  }
  locator_ = DatabaseLocator::parse(database_);
  database_ = locator_.display();
  if (config_.database_password_env && locator_.kind == DatabaseKind::postgresql) {
    const char* password = std::getenv(config_.database_password_env->c_str());  // NOLINT(concurrency-mt-unsafe)
    if (password == nullptr) {
      throw ConfigError(fmt::format("database_password names the environment variable {}, which is not set",
                                    *config_.database_password_env));
    }
    locator_.password = password;
  }
}

void StoreRelease::operator()(Store* store) const {
  std::unique_ptr<Store> owned(store);
  if (pool == nullptr || !store->database().idle()) {
    return;
  }
  const std::lock_guard lock(pool->idle_stores_mutex_);
  if (pool->idle_stores_.size() < pool->max_idle_stores_) {
    pool->idle_stores_.push_back(std::move(owned));
  }
}

void Session::pool_stores(std::size_t max_idle) {
  max_idle_stores_ = max_idle;
}

StoreHandle Session::open_store() const {
  if (max_idle_stores_ == 0) {
    return StoreHandle(new Store(locator_), StoreRelease{});
  }
  {
    const std::lock_guard lock(idle_stores_mutex_);
    if (!idle_stores_.empty()) {
      std::unique_ptr<Store> store = std::move(idle_stores_.back());
      idle_stores_.pop_back();
      return StoreHandle(store.release(), StoreRelease{this});
    }
  }
  return StoreHandle(new Store(locator_), StoreRelease{this});
}

std::unique_ptr<JobLock> Session::lock_jobs(std::string_view job) const {
  return std::make_unique<JobLock>(locator_, job, clock_.now_ms());
}

void Session::close_interrupted_runs(Store& store, const JobLock& held) {
  const std::vector<InterruptedRun> runs = store.close_interrupted_runs(held, clock_.now_ms());
  if (!runs.empty()) {
    logger_.log(LogLevel::warn, "host", describe_interrupted_runs(runs));
  }
}

std::unique_ptr<PluginHost> Session::plugins(PluginStateStore& state, bool load) {
  auto host = std::make_unique<PluginHost>(logger_, clock_, state, cancelled_);
  if (load) {
    host->load(plugin_options_);
  }
  return host;
}

std::size_t Session::report_refusals(const PluginHost& host, std::initializer_list<std::string_view> kinds) {
  std::size_t refused = 0;
  for (const PluginRecord& record : host.records()) {
    if (record.state != PluginState::refused ||
        (!record.kind.empty() && std::find(kinds.begin(), kinds.end(), record.kind) == kinds.end())) {
      continue;
    }
    if (observer_.plugin_refused) {
      observer_.plugin_refused(record);
    }
    ++refused;
  }
  return refused;
}

void Session::progress(const std::string& status) {
  if (observer_.progress) {
    observer_.progress(status);
  }
}

void Session::progress_done() {
  if (observer_.progress_done) {
    observer_.progress_done();
  }
}

}  // namespace crm::host
