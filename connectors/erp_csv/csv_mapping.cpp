#include "csv_mapping.hpp"

#include <charconv>
#include <cstddef>

#include "plugin_support/civil_time.hpp"

namespace crm::connectors {
namespace {

bool read_digits(std::string_view text, std::size_t& at, std::size_t min_digits, std::size_t max_digits, int& value) {
  std::size_t digits = 0;
  value = 0;
  while (at < text.size() && digits < max_digits && text[at] >= '0' && text[at] <= '9') {
    value = value * 10 + (text[at] - '0');
    ++at;
    ++digits;
  }
  return digits >= min_digits;
}

unsigned days_in_month(int year, int month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::string_view strip_zero_fraction(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0) {
    return text;
  }
  for (std::size_t i = dot + 1; i < text.size(); ++i) {
    if (text[i] != '0') {
      return text;
    }
  }
  return text.substr(0, dot);
}

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> parse_time_ms(std::string_view text, std::string_view format, int utc_offset_minutes) {
  text = trim(text);
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::size_t at = 0;
  for (std::size_t f = 0; f < format.size(); ++f) {
    if (format[f] == '%' && f + 1 < format.size()) {
      const char code = format[++f];
      bool ok = false;
      switch (code) {
        case 'Y':
          ok = read_digits(text, at, 4, 4, year);
          break;
        case 'm':
          ok = read_digits(text, at, 1, 2, month);
          break;
        case 'd':
          ok = read_digits(text, at, 1, 2, day);
          break;
        case 'H':
          ok = read_digits(text, at, 1, 2, hour);
          break;
        case 'M':
          ok = read_digits(text, at, 1, 2, minute);
          break;
        case 'S':
          ok = read_digits(text, at, 1, 2, second);
          break;
        case '%':
          ok = at < text.size() && text[at++] == '%';
          break;
        default:
          return std::nullopt;
      }
      if (!ok) {
        return std::nullopt;
      }
    } else if (at >= text.size() || text[at++] != format[f]) {
      return std::nullopt;
    }
  }
  if (at != text.size() || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::int64_t days =
      plugin_support::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds = days * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second -
                               std::int64_t{utc_offset_minutes} * 60;
  return seconds * 1000;
}

}  // namespace crm::connectors
