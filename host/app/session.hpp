#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/host_config.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "loader/plugin_host.hpp"
#include "store/job_lock.hpp"
#include "store/store.hpp"

namespace crm::host {

class Session;

// Gives a store back to its session's pool when the handle goes, or closes it
// when the session does not pool stores (or the store is mid-transaction).
struct StoreRelease {
  const Session* pool = nullptr;
  void operator()(Store* store) const;
};
using StoreHandle = std::unique_ptr<Store, StoreRelease>;

// Where a session finds its configuration, plugins and store: the command
// line's global options, or a service's own settings.
struct SessionOptions {
  std::string config_path;  // "" : $CRMHOST_CONFIG, ./crmhost.json, /etc/crmhost/config.json, or none
  std::vector<std::string> plugin_dirs;
  bool no_default_plugin_dir = false;
  std::string db_path;    // "" : the configuration's, else ./crm.db
  std::string log_level;  // "" : the configuration's, else the session's default
};

// What a job tells its caller while it works, before it returns: a status
// line for long steps, and each plugin it needed that was refused (the job
// carries on without it). Unset members are not called.
struct JobObserver {
  std::function<void(const std::string& status)> progress;
  std::function<void()> progress_done;
  std::function<void(const PluginRecord& refused)> plugin_refused;
};

// The configuration file `options` names, else $CRMHOST_CONFIG (which must
// exist), else ./crmhost.json, else /etc/crmhost/config.json, else none.
std::optional<std::filesystem::path> find_config(const SessionOptions& options);

// What every job needs: time, logs, the configuration, where plugins and the
// store are, and the flag that cancels it. The session owns its clock, logger
// and configuration; the cancellation flag and the observer's targets belong
// to the caller and must outlive it. Jobs open their own store, plugins and
// job lock through it, and close them before they return.
class Session {
 public:
  // Reads the configuration; throws ConfigError when it is invalid.
  Session(const SessionOptions& options, LogLevel default_level, std::atomic<bool>& cancelled,
          JobObserver observer = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  [[nodiscard]] const Clock& clock() const { return clock_; }
  [[nodiscard]] Logger& logger() { return logger_; }
  [[nodiscard]] const HostConfig& config() const { return config_; }
  [[nodiscard]] const PluginHostOptions& plugin_options() const { return plugin_options_; }
  // The store's path or URL, without any password: for messages and summaries.
  [[nodiscard]] const std::string& database() const { return database_; }
  [[nodiscard]] const DatabaseLocator& database_locator() const { return locator_; }
  [[nodiscard]] const std::atomic<bool>& cancellation() const { return cancelled_; }
  [[nodiscard]] bool cancelled() const { return cancelled_.load(); }

  // Opens (and migrates) the store; throws StoreError when it is refused. With
  // pooling on, an idle store opened before is handed out instead.
  [[nodiscard]] StoreHandle open_store() const;
  // Keeps up to `max_idle` stores open between calls: a service answering many
  // short requests from several threads opens each connection once. Call before
  // any thread uses the session.
  void pool_stores(std::size_t max_idle);
  // The store's job lock for `job`, or JobLockBusy naming the holder.
  [[nodiscard]] std::unique_ptr<JobLock> lock_jobs(std::string_view job) const;
  // Holding the job lock proves no other job runs: runs still marked running were cut short; logs them.
  void close_interrupted_runs(Store& store, const JobLock& held);
  // A plugin host over `state`, with every plugin loaded unless `load` is false.
  [[nodiscard]] std::unique_ptr<PluginHost> plugins(PluginStateStore& state, bool load = true);
  // Tells the observer which plugins of `kinds` were refused (a library whose kind
  // is unknown might have been one) and counts them.
  std::size_t report_refusals(const PluginHost& host, std::initializer_list<std::string_view> kinds);

  void progress(const std::string& status);
  void progress_done();

 private:
  SystemClock clock_;
  Logger logger_{clock_};
  HostConfig config_;
  PluginHostOptions plugin_options_;
  std::string database_;
  DatabaseLocator locator_;
  std::atomic<bool>& cancelled_;
  JobObserver observer_;
  std::size_t max_idle_stores_ = 0;
  mutable std::mutex idle_stores_mutex_;
  mutable std::vector<std::unique_ptr<Store>> idle_stores_;

  friend struct StoreRelease;
};

}  // namespace crm::host
