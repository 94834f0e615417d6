#pragma once

// Dates of the proleptic Gregorian calendar in UTC, without the C library's
// time zone machinery: for plugins that read or write dates (ERP rows, e-mail
// headers, webhook payloads).

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

namespace crm::plugin_support {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
inline std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// The inverse of days_from_civil.
inline CivilDate civil_from_days(std::int64_t days) {
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(z - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

// A moment in UTC to the second, as gmtime() splits it.
struct CivilDateTime {
  CivilDate date;
  unsigned hour;
  unsigned minute;
  unsigned second;
  unsigned weekday;  // 0 Sunday ... 6 Saturday
};

// The UTC date and time of `ms` (milliseconds since the epoch), the milliseconds
// dropped as gmtime() drops them after ms / 1000.
inline CivilDateTime civil_from_ms(std::int64_t ms) {
  const std::int64_t seconds = ms / 1000;
  const std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  const auto in_day = static_cast<unsigned>(seconds - days * 86400);
  // 1970-01-01 was a Thursday.
  const auto weekday = static_cast<unsigned>(((days + 4) % 7 + 7) % 7);
  return {civil_from_days(days), in_day / 3600, in_day / 60 % 60, in_day % 60, weekday};
}

// "2024-05-01T08:30:00Z" (RFC 3339 in UTC, whole seconds).
inline std::string rfc3339_utc(std::int64_t ms) {
  const CivilDateTime t = civil_from_ms(ms);
  std::array<char, 48> text{};
  std::snprintf(text.data(), text.size(), "%lld-%02u-%02uT%02u:%02u:%02uZ", static_cast<long long>(t.date.year),
                t.date.month, t.date.day, t.hour, t.minute, t.second);
  return text.data();
}

}  // namespace crm::plugin_support
