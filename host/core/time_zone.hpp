#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crm::host {

// A zone name, file or TZ rule that cannot be read; the message names it.
class TimeZoneError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IANA time zone read from its TZif file (RFC 8536): the version 2+
// 64-bit transition table, and the POSIX TZ rule of its footer for times past
// the table. libstdc++ 12 has no std::chrono time zone database, and
// setenv("TZ") + localtime_r would change the zone of the whole process, so
// the host reads the files itself. Immutable once built: any thread may use
// one concurrently.
class TimeZone {
 public:
  // UTC: no transitions, offset 0.
  TimeZone();

  // "Asia/Shanghai", "Europe/Berlin", "UTC", read from `zoneinfo_dir`
  // (Debian's tzdata). Throws TimeZoneError naming the zone when the name is
  // not a zone (or tries to leave the folder) or its file is damaged.
  static TimeZone load(std::string_view name, const std::filesystem::path& zoneinfo_dir = "/usr/share/zoneinfo");
  // The bytes of a TZif file; `name` is only for messages and name().
  static TimeZone parse_tzif(std::string_view bytes, std::string_view name);
  // A POSIX TZ rule alone, e.g. "CET-1CEST,M3.5.0,M10.5.0/3".
  static TimeZone parse_posix(std::string_view rule, std::string_view name);

  [[nodiscard]] const std::string& name() const { return name_; }
  // Seconds east of UTC in force at `utc_seconds`.
  [[nodiscard]] std::int32_t offset_seconds_at(std::int64_t utc_seconds) const;
  // The wall clock at `utc_seconds`, in seconds since 1970-01-01 00:00 local.
  [[nodiscard]] std::int64_t local_seconds(std::int64_t utc_seconds) const {
    return utc_seconds + offset_seconds_at(utc_seconds);
  }

  // The UTC instants that show the wall clock `local_seconds`, earliest
  // first: one normally, two in the hour a clock is turned back, none in the
  // hour it skips forward.
  [[nodiscard]] std::vector<std::int64_t> utc_of_local(std::int64_t local_seconds) const;

 private:
  // One side of a POSIX rule's daylight saving time: when it starts or ends.
  struct RuleDate {
    char kind = 'M';  // 'M' month.week.day, 'J' Julian day 1-365 without Feb 29, 'D' zero-based day 0-365
    int month = 0;
    int week = 0;
    int weekday = 0;
    int day = 0;
    std::int32_t time_seconds = 7200;  // local time of the change, in the offset before it
  };
  struct PosixRule {
    std::int32_t std_offset_seconds = 0;  // east of UTC
    bool has_dst = false;
    std::int32_t dst_offset_seconds = 0;
    RuleDate dst_start;
    RuleDate dst_end;
  };

  static PosixRule parse_rule(std::string_view rule, std::string_view name);
  static std::int64_t rule_date_utc(const RuleDate& date, int year, std::int32_t offset_before_seconds);
  [[nodiscard]] std::int32_t rule_offset_at(std::int64_t utc_seconds) const;

  std::string name_;
  std::vector<std::int64_t> transitions_;         // UTC seconds, ascending
  std::vector<std::int32_t> offsets_after_;       // offset from each transition on
  std::int32_t offset_before_first_seconds_ = 0;  // before the first transition
  bool has_rule_ = false;
  PosixRule rule_;
};

}  // namespace crm::host
