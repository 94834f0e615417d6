#include "core/time_zone.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <set>

#include "core/civil_time.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDaySeconds = 86'400;

// Reads big-endian fields of a TZif file, refusing to read past its end.
class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string_view name) : bytes_(bytes), name_(name) {}

  std::uint64_t unsigned_value(std::size_t width) {
    need(width);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      value = (value << 8U) | static_cast<unsigned char>(bytes_[position_ + i]);
    }
    position_ += width;
    return value;
  }
  std::int64_t signed_value(std::size_t width) {
    const std::uint64_t raw = unsigned_value(width);
    if (width == 8) {
      return static_cast<std::int64_t>(raw);
    }
    const std::uint64_t sign_bit = std::uint64_t{1} << (width * 8 - 1);
    return static_cast<std::int64_t>(raw ^ sign_bit) - static_cast<std::int64_t>(sign_bit);
  }
  void skip(std::size_t count) {
    need(count);
    position_ += count;
  }
  [[nodiscard]] std::string_view rest() const { return bytes_.substr(position_); }

 private:
  void need(std::size_t count) const {
    if (bytes_.size() - position_ < count) {
      throw TimeZoneError(fmt::format("time zone {}: the TZif file ends early (damaged); reinstall tzdata", name_));
    }
  }

  std::string_view bytes_;
  std::string_view name_;
  std::size_t position_ = 0;
};

struct TzifCounts {
  std::uint64_t utc_indicators = 0;
  std::uint64_t standard_indicators = 0;
  std::uint64_t leap_seconds = 0;
  std::uint64_t transitions = 0;
  std::uint64_t types = 0;
  std::uint64_t abbreviation_chars = 0;
};

TzifCounts read_header(ByteReader& reader, std::string_view name, char& version) {
  if (reader.rest().substr(0, 4) != "TZif") {
    throw TimeZoneError(fmt::format("time zone {}: not a TZif file (no TZif magic); reinstall tzdata", name));
  }
  reader.skip(4);
  version = static_cast<char>(reader.unsigned_value(1));
  reader.skip(15);
  TzifCounts counts;
  counts.utc_indicators = reader.unsigned_value(4);
  counts.standard_indicators = reader.unsigned_value(4);
  counts.leap_seconds = reader.unsigned_value(4);
  counts.transitions = reader.unsigned_value(4);
  counts.types = reader.unsigned_value(4);
  counts.abbreviation_chars = reader.unsigned_value(4);
  if (counts.types == 0) {
    throw TimeZoneError(fmt::format("time zone {}: the TZif file has no local time types (damaged)", name));
  }
  return counts;
}

// Parses the pieces of a POSIX TZ string left to right.
class RuleParser {
 public:
  RuleParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  [[nodiscard]] bool done() const { return position_ == text_.size(); }
  [[nodiscard]] bool next_is(char c) const { return position_ < text_.size() && text_[position_] == c; }
  bool accept(char c) {
    if (next_is(c)) {
      ++position_;
      return true;
    }
    return false;
  }
  [[nodiscard]] bool at_offset() const {
    return position_ < text_.size() && (text_[position_] == '+' || text_[position_] == '-' ||
                                        std::isdigit(static_cast<unsigned char>(text_[position_])) != 0);
  }

  void zone_abbreviation() {
    if (accept('<')) {
      const std::size_t end = text_.find('>', position_);
      if (end == std::string_view::npos) {
        fail("an abbreviation opened with < is not closed with >");
      }
      position_ = end + 1;
      return;
    }
    const std::size_t start = position_;
    while (position_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[position_])) != 0) {
      ++position_;
    }
    if (position_ - start < 3) {
      fail("a zone abbreviation needs at least 3 letters");
    }
  }

  int number(int max_value) {
    const std::size_t start = position_;
    int value = 0;
    while (position_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[position_])) != 0) {
      value = value * 10 + (text_[position_] - '0');
      if (value > max_value) {
        fail(fmt::format("a number above {}", max_value));
      }
      ++position_;
    }
    if (position_ == start) {
      fail("a number is missing");
    }
    return value;
  }

  // [+-]hh[:mm[:ss]], in seconds.
  std::int32_t duration_seconds(int max_hours) {
    int sign = 1;
    if (accept('-')) {
      sign = -1;
    } else {
      accept('+');
    }
    std::int32_t seconds = number(max_hours) * 3600;
    if (accept(':')) {
      seconds += number(59) * 60;
      if (accept(':')) {
        seconds += number(59);
      }
    }
    return sign * seconds;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw TimeZoneError(
        fmt::format("time zone {}: TZ rule \"{}\" at character {}: {}", name_, text_, position_ + 1, what));
  }

 private:
  std::string_view text_;
  std::string_view name_;
  std::size_t position_ = 0;
};

}  // namespace

TimeZone::TimeZone() : name_("UTC") {}

TimeZone TimeZone::load(std::string_view name, const std::filesystem::path& zoneinfo_dir) {
  const bool safe_name =
      !name.empty() && name.front() != '/' && name.find("..") == std::string_view::npos &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/' || c == '_' || c == '-' || c == '+';
      });
  if (!safe_name) {
    throw TimeZoneError(fmt::format("time zone \"{}\" is not an IANA zone name such as Europe/Berlin or UTC", name));
  }
  const std::filesystem::path path = zoneinfo_dir / std::string(name);
  std::ifstream file(path, std::ios::binary);
  if (!file || std::filesystem::is_directory(path)) {
    throw TimeZoneError(fmt::format(
        "time zone \"{}\" is unknown: no file {} (a name such as Europe/Berlin, Asia/Shanghai or UTC; package tzdata)",
        name, path.string()));
  }
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return parse_tzif(bytes, name);
}

TimeZone TimeZone::parse_tzif(std::string_view bytes, std::string_view name) {
  ByteReader reader(bytes, name);
  char version = 0;
  TzifCounts counts = read_header(reader, name, version);
  std::size_t time_width = 4;
  if (version != '\0') {
    // Version 2+: skip the 32-bit block, read the 64-bit one and the footer.
    reader.skip(counts.transitions * 5 + counts.types * 6 + counts.abbreviation_chars + counts.leap_seconds * 8 +
                counts.standard_indicators + counts.utc_indicators);
    counts = read_header(reader, name, version);
    time_width = 8;
  }
  TimeZone zone;
  zone.name_ = std::string(name);
  zone.transitions_.reserve(counts.transitions);
  for (std::uint64_t i = 0; i < counts.transitions; ++i) {
    zone.transitions_.push_back(reader.signed_value(time_width));
  }
  std::vector<std::uint64_t> type_of_transition;
  type_of_transition.reserve(counts.transitions);
  for (std::uint64_t i = 0; i < counts.transitions; ++i) {
    type_of_transition.push_back(reader.unsigned_value(1));
  }
  std::vector<std::int32_t> type_offsets;
  for (std::uint64_t i = 0; i < counts.types; ++i) {
    type_offsets.push_back(static_cast<std::int32_t>(reader.signed_value(4)));
    reader.skip(2);  // is_dst, abbreviation index
  }
  for (const std::uint64_t type : type_of_transition) {
    if (type >= type_offsets.size()) {
      throw TimeZoneError(fmt::format("time zone {}: a transition names local time type {} of {} (damaged)", name, type,
                                      type_offsets.size()));
    }
    zone.offsets_after_.push_back(type_offsets[type]);
  }
  zone.offset_before_first_seconds_ = type_offsets.front();
  if (!std::is_sorted(zone.transitions_.begin(), zone.transitions_.end())) {
    throw TimeZoneError(fmt::format("time zone {}: transitions out of order (damaged)", name));
  }
  reader.skip(counts.abbreviation_chars + counts.leap_seconds * (time_width + 4) + counts.standard_indicators +
              counts.utc_indicators);
  if (time_width == 8) {
    const std::string_view footer = reader.rest();
    if (footer.size() < 2 || footer.front() != '\n') {
      throw TimeZoneError(fmt::format("time zone {}: the TZif footer is missing (damaged)", name));
    }
    const std::size_t end = footer.find('\n', 1);
    if (end == std::string_view::npos) {
      throw TimeZoneError(fmt::format("time zone {}: the TZif footer is not closed (damaged)", name));
    }
    const std::string_view rule = footer.substr(1, end - 1);
    if (!rule.empty()) {
      zone.rule_ = parse_rule(rule, name);
      zone.has_rule_ = true;
    }
  }
  return zone;
}

TimeZone TimeZone::parse_posix(std::string_view rule, std::string_view name) {
  TimeZone zone;
  zone.name_ = std::string(name);
  zone.rule_ = parse_rule(rule, name);
  zone.has_rule_ = true;
  zone.offset_before_first_seconds_ = zone.rule_.std_offset_seconds;
  return zone;
}

TimeZone::PosixRule TimeZone::parse_rule(std::string_view rule, std::string_view name) {
  RuleParser parser(rule, name);
  PosixRule parsed;
  parser.zone_abbreviation();
  // POSIX offsets count hours west of Greenwich; the host counts seconds east.
  parsed.std_offset_seconds = -parser.duration_seconds(24);
  if (parser.done()) {
    return parsed;
  }
  parser.zone_abbreviation();
  parsed.has_dst = true;
  parsed.dst_offset_seconds = parsed.std_offset_seconds + 3600;
  if (parser.at_offset()) {
    parsed.dst_offset_seconds = -parser.duration_seconds(24);
  }
  // Without dates POSIX leaves the rule to the implementation; the US rule is the common choice.
  parsed.dst_start = {'M', 3, 2, 0, 0, 7200};
  parsed.dst_end = {'M', 11, 1, 0, 0, 7200};
  if (parser.done()) {
    return parsed;
  }
  const auto read_date = [&parser](RuleDate& date) {
    if (!parser.accept(',')) {
      parser.fail("a comma before the date of a change is missing");
    }
    date = RuleDate{};
    if (parser.accept('M')) {
      date.kind = 'M';
      date.month = parser.number(12);
      if (date.month < 1) {
        parser.fail("month 0");
      }
      if (!parser.accept('.')) {
        parser.fail("Mm.w.d needs a dot after the month");
      }
      date.week = parser.number(5);
      if (date.week < 1) {
        parser.fail("week 0");
      }
      if (!parser.accept('.')) {
        parser.fail("Mm.w.d needs a dot after the week");
      }
      date.weekday = parser.number(6);
    } else if (parser.accept('J')) {
      date.kind = 'J';
      date.day = parser.number(365);
      if (date.day < 1) {
        parser.fail("Julian day 0");
      }
    } else {
      date.kind = 'D';
      date.day = parser.number(365);
    }
    date.time_seconds = 7200;
    if (parser.accept('/')) {
      date.time_seconds = parser.duration_seconds(167);  // RFC 8536 allows -167 to 167 hours
    }
  };
  read_date(parsed.dst_start);
  read_date(parsed.dst_end);
  if (!parser.done()) {
    parser.fail("unexpected text after the end date");
  }
  return parsed;
}

std::int64_t TimeZone::rule_date_utc(const RuleDate& date, int year, std::int32_t offset_before_seconds) {
  std::int64_t days = 0;
  if (date.kind == 'M') {
    const std::int64_t first = civil::days_from_civil(year, date.month, 1);
    int day = 1 + (date.weekday - civil::weekday_from_days(first) + 7) % 7 + (date.week - 1) * 7;
    while (day > civil::days_in_month(year, date.month)) {
      day -= 7;
    }
    days = first + day - 1;
  } else if (date.kind == 'J') {
    days = civil::days_from_civil(year, 1, 1) + date.day - 1 + (civil::is_leap_year(year) && date.day >= 60 ? 1 : 0);
  } else {
    days = civil::days_from_civil(year, 1, 1) + date.day;
  }
  return days * kDaySeconds + date.time_seconds - offset_before_seconds;
}

std::int32_t TimeZone::rule_offset_at(std::int64_t utc_seconds) const {
  if (!rule_.has_dst) {
    return rule_.std_offset_seconds;
  }
  const std::int64_t local_days = civil::floor_div(utc_seconds + rule_.std_offset_seconds, kDaySeconds);
  const auto year = static_cast<int>(civil::civil_from_days(local_days).year);
  const std::int64_t start = rule_date_utc(rule_.dst_start, year, rule_.std_offset_seconds);
  const std::int64_t end = rule_date_utc(rule_.dst_end, year, rule_.dst_offset_seconds);
  const bool in_dst = start < end ? (utc_seconds >= start && utc_seconds < end)  // northern hemisphere
                                  : !(utc_seconds >= end && utc_seconds < start);
  return in_dst ? rule_.dst_offset_seconds : rule_.std_offset_seconds;
}

std::int32_t TimeZone::offset_seconds_at(std::int64_t utc_seconds) const {
  if (transitions_.empty()) {
    return has_rule_ ? rule_offset_at(utc_seconds) : offset_before_first_seconds_;
  }
  if (utc_seconds < transitions_.front()) {
    return offset_before_first_seconds_;
  }
  if (utc_seconds >= transitions_.back() && has_rule_) {
    return rule_offset_at(utc_seconds);
  }
  const auto after = std::upper_bound(transitions_.begin(), transitions_.end(), utc_seconds);
  return offsets_after_[static_cast<std::size_t>(after - transitions_.begin() - 1)];
}

std::vector<std::int64_t> TimeZone::utc_of_local(std::int64_t local_seconds) const {
  // Every offset in force within a day of the wall clock; zones change at most twice a day.
  std::set<std::int32_t> offsets;
  for (std::int64_t probe = local_seconds - 2 * kDaySeconds; probe <= local_seconds + 2 * kDaySeconds;
       probe += kDaySeconds / 4) {
    offsets.insert(offset_seconds_at(probe));
  }
  std::vector<std::int64_t> instants;
  for (const std::int32_t offset : offsets) {
    const std::int64_t candidate = local_seconds - offset;
    if (offset_seconds_at(candidate) == offset) {
      instants.push_back(candidate);
    }
  }
  std::sort(instants.begin(), instants.end());
  instants.erase(std::unique(instants.begin(), instants.end()), instants.end());
  return instants;
}

}  // namespace crm::host
