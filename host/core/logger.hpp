#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace crm::host {

enum class LogLevel : std::int32_t { debug = 10, info = 20, warn = 30, error = 40 };

std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

// Thread-safe line logger. Every secret value the host resolved is registered
// here and masked in every line, whoever wrote it (host or plugin).
class Logger {
 public:
  using Sink = std::function<void(std::string_view line)>;

  // Writes to stderr by default.
  explicit Logger(const Clock& clock, LogLevel threshold = LogLevel::info, Sink sink = {});

  void set_threshold(LogLevel threshold);
  [[nodiscard]] bool enabled(LogLevel level) const;
  void log(LogLevel level, std::string_view source, std::string_view message);

  // Masks `secret` (when at least 4 bytes long) in every later line.
  void add_secret(std::string secret);
  [[nodiscard]] std::string redact(std::string_view text) const;

 private:
  [[nodiscard]] std::string redact_locked(std::string_view text) const;

  const Clock& clock_;
  Sink sink_;
  mutable std::mutex mutex_;
  LogLevel threshold_;
  std::vector<std::string> secrets_;
};

}  // namespace crm::host
