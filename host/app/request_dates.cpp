#include "app/request_dates.hpp"

#include <chrono>
#include <cstdio>
#include <fmt/format.h>

#include "app/errors.hpp"
#include "scoring/features.hpp"

namespace crm::host {

std::string date_problem(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d-%u-%u%c", &year, &month, &day, &tail) != 3) {
    return fmt::format("'{}' is not a date; use YYYY-MM-DD", text);
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!date.ok()) {
    return fmt::format("'{}' is not a calendar date (YYYY-MM-DD)", text);
  }
  return {};
}

std::int64_t parse_date_ms(const std::string& text, const char* field) {
  if (const std::string problem = date_problem(text); !problem.empty()) {
    throw InvalidRequest(fmt::format("{} {}", field, problem));
  }
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  std::sscanf(text.c_str(), "%d-%u-%u", &year, &month, &day);
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::sys_days{date}.time_since_epoch()).count();
}

std::int64_t as_of_or_today(std::optional<std::int64_t> as_of_ms, const Clock& clock) {
  if (as_of_ms) {
    return *as_of_ms;
  }
  return (clock.now_ms() / kMillisecondsPerDay + 1) * kMillisecondsPerDay;
}

}  // namespace crm::host
