#pragma once

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "loader/host_services.hpp"
#include "loader/plugin_host.hpp"
#include "scoring/features.hpp"

namespace crm::host::testing {

// An environment of the test's own for secret references.
inline std::function<std::optional<std::string>(const std::string&)> environment_of(
    std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) {
    const auto found = variables.find(name);
    return found == variables.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
}

// Log lines kept in memory, for tests that assert on them.
class CapturedLog {
 public:
  Logger::Sink sink() {
    return [this](std::string_view line) {
      const std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  [[nodiscard]] std::vector<std::string> lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// The isolation the test suite loads plugins with unless a test chooses: in the
// host's process, or, when ctest runs the ".isolated" variant of a test
// (CRM_TEST_ISOLATION=process), every plugin in a worker process: the same
// tests then prove a plugin behaves alike in both.
inline PluginIsolation test_isolation() {
  const char* chosen = std::getenv("CRM_TEST_ISOLATION");  // NOLINT(concurrency-mt-unsafe)
  return chosen != nullptr && std::string_view(chosen) == "process" ? PluginIsolation::process
                                                                    : PluginIsolation::in_process;
}

// A host for tests: a manual clock, a logger that keeps its lines, memory
// for checkpoints and quarantine, and the real loader.
class TestHost {
 public:
  static constexpr std::int64_t kStartMs = 1'790'000'000'000;  // 2026-09-21, a fixed instant

  TestHost()
      : clock_(kStartMs),
        logger_(clock_, LogLevel::debug, log_.sink()),
        host_(std::make_unique<PluginHost>(logger_, clock_, state_, cancelled_)) {}

  PluginHost& load(const std::vector<std::filesystem::path>& directories,
                   const nlohmann::json& plugin_settings = nlohmann::json::object(),
                   std::map<std::string, std::string> environment = {}) {
    PluginHostOptions options;
    options.plugin_dirs = directories;
    options.plugin_settings = plugin_settings;
    options.environment = environment_of(std::move(environment));
    // As crmhost does: a scorer needing a feature the host does not compute is refused.
    options.available_features = feature_names(FeatureSettings{});
    options.default_isolation = test_isolation();
    return load(options);
  }

  PluginHost& load(const PluginHostOptions& options) {
    host_->load(options);
    return *host_;
  }

  [[nodiscard]] const PluginRecord* record(std::string_view id) const {
    for (const PluginRecord& record : host_->records()) {
      if (record.id == id) {
        return &record;
      }
    }
    return nullptr;
  }

  [[nodiscard]] std::vector<std::string> log_lines() const { return log_.lines(); }

  PluginHost& host() { return *host_; }
  ManualClock& clock() { return clock_; }
  Logger& logger() { return logger_; }
  InMemoryStateStore& state() { return state_; }
  std::atomic<bool>& cancelled() { return cancelled_; }

 private:
  ManualClock clock_;
  CapturedLog log_;
  Logger logger_;
  InMemoryStateStore state_;
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<PluginHost> host_;
};

}  // namespace crm::host::testing
