#pragma once

#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <string>

namespace crm::host {

// The UTC calendar day of `ms` (milliseconds since the epoch) as YYYY-MM-DD.
inline std::string utc_date_text(std::int64_t ms) {
  const std::chrono::year_month_day date{std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{ms}})};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                     static_cast<unsigned>(date.day()));
}

// `ms` as an RFC 3339 UTC time to the second: 2026-11-30T09:30:00Z.
inline std::string rfc3339_text(std::int64_t ms) {
  const auto time = std::chrono::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{ms}};
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::hh_mm_ss clock{std::chrono::floor<std::chrono::seconds>(time - day)};
  return fmt::format("{}T{:02}:{:02}:{:02}Z", utc_date_text(ms), clock.hours().count(), clock.minutes().count(),
                     clock.seconds().count());
}

}  // namespace crm::host
