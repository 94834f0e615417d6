#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace crm::host {

// What is wrong with a "YYYY-MM-DD" date, or "" when it is a calendar date.
std::string date_problem(const std::string& text);

// "YYYY-MM-DD" (UTC midnight) to ms since the epoch. A bad date throws
// InvalidRequest, the message starting with `field` (the option or parameter that gave it).
std::int64_t parse_date_ms(const std::string& text, const char* field);

// The date a job works as of: `as_of_ms`, or the end of today (midnight UTC
// tonight) on `clock`, so that today's features cover everything up to now.
std::int64_t as_of_or_today(std::optional<std::int64_t> as_of_ms, const Clock& clock);

}  // namespace crm::host
