#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/time_zone.hpp"

namespace crm::host {

// A schedule that cannot be parsed; the message names the field and its value.
class ScheduleError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// When a job runs: every fixed interval ("every": "30s", "10m", "2h", "1d")
// or on a 5-field cron expression ("*/5 * * * *", ranges, lists, steps,
// JAN-DEC and SUN-SAT, @hourly, @daily, @weekly, @monthly, @yearly),
// evaluated on the wall clock of a time zone. Immutable: any thread may use
// one concurrently.
//
// Daylight saving time: a wall-clock minute the zone skips fires at the first
// minute that exists after it (02:30 on the night Berlin springs forward
// fires at 03:00); a minute the zone shows twice fires once, the first time.
class Schedule {
 public:
  static Schedule every(std::string_view interval);
  static Schedule cron(std::string_view expression);

  // "every 10m" or "cron 0 2 * * *", as configured.
  [[nodiscard]] std::string text() const;
  [[nodiscard]] bool is_interval() const { return interval_ms_ > 0; }
  [[nodiscard]] std::int64_t interval_ms() const { return interval_ms_; }

  // The first time after `after_ms` the schedule fires (an interval: one
  // interval later). nullopt when a cron expression never fires again (a day
  // that no month has, such as 30 February).
  [[nodiscard]] std::optional<std::int64_t> next_after_ms(std::int64_t after_ms, const TimeZone& zone) const;

 private:
  Schedule() = default;
  [[nodiscard]] bool day_matches(std::int64_t days) const;

  std::string text_;
  std::int64_t interval_ms_ = 0;
  std::uint64_t minutes_ = 0;        // bit n: minute n
  std::uint32_t hours_ = 0;          // bit n: hour n
  std::uint32_t days_of_month_ = 0;  // bit n: day n (1-31)
  std::uint32_t months_ = 0;         // bit n: month n (1-12)
  std::uint32_t days_of_week_ = 0;   // bit n: weekday n, 0 = Sunday
  bool any_day_of_month_ = true;     // the field was "*": days match on the weekday alone
  bool any_day_of_week_ = true;
};

}  // namespace crm::host
