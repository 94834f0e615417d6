#include "service/schedule.hpp"

#include <array>
#include <cctype>
#include <fmt/format.h>
#include <vector>

#include "core/civil_time.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kMinutesPerDay = 1440;
constexpr int kYearsSearched = 8;  // covers 29 February of a leap year after a skipped century year

struct FieldRule {
  std::string_view name;
  int min = 0;
  int max = 0;
  const std::array<std::string_view, 12>* names = nullptr;  // names[i] is min + i
  std::string_view names_hint;
};

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 12> kWeekdayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const std::array<FieldRule, 5> kFields = {{
    {"minute", 0, 59, nullptr, ""},
    {"hour", 0, 23, nullptr, ""},
    {"day-of-month", 1, 31, nullptr, ""},
    {"month", 1, 12, &kMonthNames, " or JAN-DEC"},
    {"day-of-week", 0, 7, &kWeekdayNames, " or SUN-SAT (0 and 7 are Sunday)"},
}};

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return result;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

class FieldParser {
 public:
  FieldParser(std::string_view expression, const FieldRule& rule, std::string_view field)
      : expression_(expression), rule_(rule), field_(field) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw ScheduleError(
        fmt::format("cron expression \"{}\": {} field \"{}\": {}", expression_, rule_.name, field_, what));
  }

  int value(std::string_view text) const {
    if (text.empty()) {
      fail("a value is missing");
    }
    if (std::isdigit(static_cast<unsigned char>(text.front())) != 0) {
      int number = 0;
      for (const char c : text) {
        if (std::isdigit(static_cast<unsigned char>(c)) == 0 || number > 1000) {
          fail(fmt::format("\"{}\" is not a number from {} to {}{}", text, rule_.min, rule_.max, rule_.names_hint));
        }
        number = number * 10 + (c - '0');
      }
      if (number < rule_.min || number > rule_.max) {
        fail(fmt::format("{} is out of range {}-{}", number, rule_.min, rule_.max));
      }
      return number;
    }
    if (rule_.names != nullptr) {
      const std::string name = upper(text);
      for (std::size_t i = 0; i < rule_.names->size(); ++i) {
        if (!(*rule_.names)[i].empty() && (*rule_.names)[i] == name) {
          return rule_.min + static_cast<int>(i);
        }
      }
    }
    fail(fmt::format("\"{}\" is not a number from {} to {}{}", text, rule_.min, rule_.max, rule_.names_hint));
  }

  // Bit n set for every value n the field lists.
  std::uint64_t parse() const {
    std::uint64_t bits = 0;
    for (const std::string_view item : split(field_, ',')) {
      if (item.empty()) {
        fail("an empty item in a list");
      }
      const std::vector<std::string_view> stepped = split(item, '/');
      if (stepped.size() > 2) {
        fail(fmt::format("\"{}\" has more than one step", item));
      }
      int step = 1;
      if (stepped.size() == 2) {
        const FieldRule step_rule{rule_.name, 1, rule_.max - rule_.min + 1, nullptr, ""};
        step = FieldParser(expression_, step_rule, field_).value(stepped[1]);
      }
      const std::string_view range = stepped[0];
      int first = rule_.min;
      int last = rule_.max;
      if (range != "*") {
        const std::vector<std::string_view> bounds = split(range, '-');
        if (bounds.size() > 2) {
          fail(fmt::format("\"{}\" is not a range such as 1-5", range));
        }
        first = value(bounds[0]);
        last = bounds.size() == 2 ? value(bounds[1]) : stepped.size() == 2 ? rule_.max : first;
        if (last < first) {
          fail(fmt::format("range {} runs backwards", range));
        }
      }
      for (int v = first; v <= last; v += step) {
        bits |= std::uint64_t{1} << static_cast<unsigned>(v);
      }
    }
    return bits;
  }

 private:
  std::string_view expression_;
  const FieldRule& rule_;
  std::string_view field_;
};

std::string_view expand_macro(std::string_view expression) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kMacros = {{
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  }};
  for (const auto& [macro, fields] : kMacros) {
    if (macro == expression) {
      return fields;
    }
  }
  throw ScheduleError(fmt::format(
      "cron expression \"{}\": unknown macro; use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually",
      expression));
}

}  // namespace

Schedule Schedule::every(std::string_view interval) {
  const auto fail = [interval]() {
    throw ScheduleError(
        fmt::format("every \"{}\": needs a whole number above 0 and a unit s, m, h or d, such as 30s, 10m, 2h or 1d "
                    "(at most 366d)",
                    interval));
  };
  if (interval.size() < 2) {
    fail();
  }
  std::int64_t count = 0;
  for (const char c : interval.substr(0, interval.size() - 1)) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0 || count > 1'000'000'000) {
      fail();
    }
    count = count * 10 + (c - '0');
  }
  std::int64_t unit_ms = 0;
  switch (interval.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60'000;
      break;
    case 'h':
      unit_ms = 3'600'000;
      break;
    case 'd':
      unit_ms = 86'400'000;
      break;
    default:
      fail();
  }
  if (count <= 0 || count * unit_ms > 366 * 86'400'000LL) {
    fail();
  }
  Schedule schedule;
  schedule.interval_ms_ = count * unit_ms;
  schedule.text_ = std::string(interval);
  return schedule;
}

Schedule Schedule::cron(std::string_view expression) {
  std::string_view trimmed = expression;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())) != 0) {
    trimmed.remove_prefix(1);
  }
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())) != 0) {
    trimmed.remove_suffix(1);
  }
  const std::string_view expanded = trimmed.starts_with('@') ? expand_macro(trimmed) : trimmed;
  std::vector<std::string_view> fields;
  std::size_t position = 0;
  while (position < expanded.size()) {
    while (position < expanded.size() && std::isspace(static_cast<unsigned char>(expanded[position])) != 0) {
      ++position;
    }
    const std::size_t start = position;
    while (position < expanded.size() && std::isspace(static_cast<unsigned char>(expanded[position])) == 0) {
      ++position;
    }
    if (position > start) {
      fields.push_back(expanded.substr(start, position - start));
    }
  }
  if (fields.size() != kFields.size()) {
    throw ScheduleError(
        fmt::format("cron expression \"{}\" has {} fields; it needs 5 (minute hour day-of-month month day-of-week), "
                    "such as \"*/5 * * * *\", or a macro such as @hourly or @daily",
                    expression, fields.size()));
  }
  Schedule schedule;
  schedule.text_ = std::string(trimmed);
  std::array<std::uint64_t, 5> bits{};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    bits[i] = FieldParser(trimmed, kFields[i], fields[i]).parse();
  }
  schedule.minutes_ = bits[0];
  schedule.hours_ = static_cast<std::uint32_t>(bits[1]);
  schedule.days_of_month_ = static_cast<std::uint32_t>(bits[2]);
  schedule.months_ = static_cast<std::uint32_t>(bits[3]);
  schedule.days_of_week_ = static_cast<std::uint32_t>((bits[4] | (bits[4] >> 7U)) & 0x7FU);  // 7 is Sunday too
  // As Vixie cron: when both day fields are restricted, a day matching either fires.
  schedule.any_day_of_month_ = fields[2].starts_with('*');
  schedule.any_day_of_week_ = fields[4].starts_with('*');
  if (!schedule.next_after_ms(0, TimeZone())) {
    throw ScheduleError(
        fmt::format("cron expression \"{}\" never fires: no month has the day it names (such as 30 FEB)", expression));
  }
  return schedule;
}

std::string Schedule::text() const {
  return is_interval() ? "every " + text_ : text_;
}

bool Schedule::day_matches(std::int64_t days) const {
  const civil::Date date = civil::civil_from_days(days);
  const bool day_of_month = ((days_of_month_ >> static_cast<unsigned>(date.day)) & 1U) != 0;
  const bool day_of_week = ((days_of_week_ >> static_cast<unsigned>(civil::weekday_from_days(days))) & 1U) != 0;
  if (any_day_of_month_ && any_day_of_week_) {
    return true;
  }
  if (any_day_of_month_) {
    return day_of_week;
  }
  if (any_day_of_week_) {
    return day_of_month;
  }
  return day_of_month || day_of_week;
}

std::optional<std::int64_t> Schedule::next_after_ms(std::int64_t after_ms, const TimeZone& zone) const {
  if (is_interval()) {
    return after_ms + interval_ms_;
  }
  const std::int64_t after_seconds = civil::floor_div(after_ms, 1000);
  std::int64_t minute = civil::floor_div(zone.local_seconds(after_seconds), 60) + 1;  // local minutes since 1970
  const std::int64_t last_year = civil::civil_from_days(civil::floor_div(minute, kMinutesPerDay)).year + kYearsSearched;
  while (true) {
    const std::int64_t days = civil::floor_div(minute, kMinutesPerDay);
    const civil::Date date = civil::civil_from_days(days);
    if (date.year > last_year) {
      return std::nullopt;
    }
    if (((months_ >> static_cast<unsigned>(date.month)) & 1U) == 0) {
      const std::int64_t next_month = date.month == 12 ? civil::days_from_civil(date.year + 1, 1, 1)
                                                       : civil::days_from_civil(date.year, date.month + 1, 1);
      minute = next_month * kMinutesPerDay;
      continue;
    }
    if (!day_matches(days)) {
      minute = (days + 1) * kMinutesPerDay;
      continue;
    }
    const std::int64_t minute_of_day = minute - days * kMinutesPerDay;
    const std::int64_t hour = minute_of_day / 60;
    if (((hours_ >> static_cast<unsigned>(hour)) & 1U) == 0) {
      minute = days * kMinutesPerDay + (hour + 1) * 60;
      continue;
    }
    if (((minutes_ >> static_cast<unsigned>(minute_of_day % 60)) & 1U) == 0) {
      ++minute;
      continue;
    }
    const std::int64_t local_seconds = minute * 60;
    const std::vector<std::int64_t> instants = zone.utc_of_local(local_seconds);
    for (const std::int64_t instant : instants) {  // shown twice: the first not yet past
      if (instant * 1000 > after_ms) {
        return instant * 1000;
      }
    }
    if (instants.empty()) {
      // Skipped by the zone: fire when the clock jumps past it, the first minute that exists after it.
      const std::int32_t offset_before = zone.offset_seconds_at(local_seconds - 86'400);
      const std::int32_t offset_after = zone.offset_seconds_at(local_seconds + 86'400);
      std::int64_t low = local_seconds - offset_after;  // before the change: shows a wall clock before the gap
      std::int64_t high = local_seconds - offset_before;
      while (high - low > 1) {
        const std::int64_t middle = low + (high - low) / 2;
        (zone.offset_seconds_at(middle) == offset_before ? low : high) = middle;
      }
      const std::int64_t change_ms = (civil::floor_div(high + 59, 60) * 60) * 1000;
      if (change_ms > after_ms) {
        return change_ms;
      }
    }
    ++minute;
  }
}

}  // namespace crm::host
