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

}  // namespace crm::host
