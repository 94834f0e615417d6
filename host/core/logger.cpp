#include "core/logger.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>

namespace crm::host {

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "DEBUG";
    case LogLevel::info:
      return "INFO";
    case LogLevel::warn:
      return "WARN";
    case LogLevel::error:
      return "ERROR";
  }
  return "?";
}

Logger::Logger(const Clock& clock, LogLevel threshold, Sink sink)
    : clock_(clock), sink_(std::move(sink)), threshold_(threshold) {
  if (!sink_) {
    sink_ = [](std::string_view line) {
      std::fwrite(line.data(), 1, line.size(), stderr);
      std::fputc('\n', stderr);
    };
  }
}

void Logger::set_threshold(LogLevel threshold) {
  const std::lock_guard lock(mutex_);
  threshold_ = threshold;
}

bool Logger::enabled(LogLevel level) const {
  const std::lock_guard lock(mutex_);
  return level >= threshold_;
}

void Logger::log(LogLevel level, std::string_view source, std::string_view message) {
  const std::int64_t now_ms = clock_.now_ms();
  const std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  const std::lock_guard lock(mutex_);
  if (level < threshold_) {
    return;
  }
  const std::string line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {:<5} [{}] {}", utc.tm_year + 1900,
                                       utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, now_ms % 1000,
                                       log_level_name(level), source, redact_locked(message));
  sink_(line);
}

void Logger::add_secret(std::string secret) {
  // Masking very short values would garble ordinary words and hide nothing.
  if (secret.size() < 4) {
    return;
  }
  const std::lock_guard lock(mutex_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end()) {
    secrets_.push_back(std::move(secret));
    // Longest first, so a secret containing another is masked whole.
    std::sort(secrets_.begin(), secrets_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }
}

std::string Logger::redact(std::string_view text) const {
  const std::lock_guard lock(mutex_);
  return redact_locked(text);
}

std::string Logger::redact_locked(std::string_view text) const {
  std::string result(text);
  for (const std::string& secret : secrets_) {
    for (std::size_t at = result.find(secret); at != std::string::npos; at = result.find(secret, at + 3)) {
      result.replace(at, secret.size(), "***");
    }
  }
  return result;
}

}  // namespace crm::host
