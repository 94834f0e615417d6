#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "loader/plugin_host.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"
#include "support/test_host.hpp"
#include "sync/sync_engine.hpp"

namespace crm::host::testing {

// A temporary directory that removes itself.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / fmt::format("crm-{}-{}", name, ::getpid())) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
    start_new_stores_under(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The real store, loader and sync engine over a database file, for connector tests.
class SyncHarness {
 public:
  explicit SyncHarness(const std::filesystem::path& database)
      : clock_(TestHost::kStartMs),
        logger_(clock_, LogLevel::debug, log_.sink()),
        store_(std::make_unique<Store>(store_locator(database))) {}

  // Loads the plugins of `directories` with `settings`; returns the one named `id`.
  LoadedPlugin& load(const std::vector<std::filesystem::path>& directories, const nlohmann::json& settings,
                     const std::string& id, std::map<std::string, std::string> environment = {},
                     WorkerSettings worker = {}) {
    host_ = std::make_unique<PluginHost>(logger_, clock_, *store_, cancelled_);
    PluginHostOptions options;
    options.plugin_dirs = directories;
    options.plugin_settings = settings;
    options.environment = environment_of(std::move(environment));
    options.default_isolation = test_isolation();
    options.worker = std::move(worker);
    host_->load(options);
    LoadedPlugin* plugin = host_->find(id);
    if (plugin == nullptr) {
      std::string reasons;
      for (const PluginRecord& record : host_->records()) {
        reasons += fmt::format("{}: {}; ", record.id, record.reason);
      }
      throw std::runtime_error(fmt::format("plugin {} did not load: {}", id, reasons));
    }
    return *plugin;
  }

  // Loads with options of the test's own (instances, say); find the plugins through the host returned.
  PluginHost& load(const PluginHostOptions& options) {
    host_ = std::make_unique<PluginHost>(logger_, clock_, *store_, cancelled_);
    host_->load(options);
    return *host_;
  }

  SyncSummary sync(LoadedPlugin& connector, SyncOptions options = {}) {
    options.sleep = [this](std::int64_t wait_ms) { clock_.advance_ms(wait_ms); };
    SyncEngine engine(*store_, logger_, clock_, cancelled_, std::move(options));
    return engine.sync(connector);
  }

  RetrySummary retry(LoadedPlugin& connector) {
    SyncEngine engine(*store_, logger_, clock_, cancelled_, SyncOptions{});
    return engine.retry_quarantine(connector);
  }

  std::int64_t count(const std::string& sql) {
    Statement statement = store_->database().prepare(sql);
    return statement.step() ? statement.column_int64(0) : -1;
  }
  double number(const std::string& sql) {
    Statement statement = store_->database().prepare(sql);
    return statement.step() ? statement.column_double(0) : -1;
  }
  std::string text(const std::string& sql) {
    Statement statement = store_->database().prepare(sql);
    return statement.step() ? statement.column_text(0) : std::string("<no row>");
  }
  // The first column of every row, joined by `separator` (group_concat, portably).
  std::string joined(const std::string& sql, const std::string& separator = ",") {
    Statement statement = store_->database().prepare(sql);
    std::string joined_rows;
    for (bool first = true; statement.step(); first = false) {
      joined_rows += (first ? "" : separator) + statement.column_text(0);
    }
    return joined_rows;
  }

  [[nodiscard]] std::vector<std::string> log_lines() const { return log_.lines(); }

  Store& store() { return *store_; }
  // The loader of the last load(); every plugin of its directories is in it.
  PluginHost& host() { return *host_; }
  ManualClock& clock() { return clock_; }
  std::atomic<bool>& cancelled() { return cancelled_; }

 private:
  ManualClock clock_;
  CapturedLog log_;
  Logger logger_;
  std::unique_ptr<Store> store_;
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<PluginHost> host_;
};

}  // namespace crm::host::testing
