#include <cstdint>
#include <ctime>
#include <gtest/gtest.h>
#include <string>

#include "plugin_support/civil_time.hpp"
#include "plugin_support/text.hpp"

namespace crm::plugin_support {
namespace {

// What the C library says of `ms`, the reference civil_from_ms replaces in plugins.
std::tm gmtime_of(std::int64_t ms) {
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return utc;
}

TEST(CivilTime, DaysFromCivilAndBackAreInverse) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  for (std::int64_t days = -800'000; days <= 800'000; days += 997) {
    const CivilDate date = civil_from_days(days);
    EXPECT_EQ(days_from_civil(date.year, date.month, date.day), days);
  }
}

TEST(CivilTime, SplitsMillisecondsAsGmtimeDoes) {
  const std::int64_t samples_ms[] = {0,
                                     999,
                                     -1,
                                     -1000,
                                     -1001,
                                     86'399'999,
                                     86'400'000,
                                     -86'400'001,
                                     951'782'400'000,  // 2000-02-29
                                     1'714'552'200'123,
                                     4'102'444'799'000,
                                     -2'208'988'800'000};
  for (const std::int64_t ms : samples_ms) {
    const std::tm expected = gmtime_of(ms);
    const CivilDateTime actual = civil_from_ms(ms);
    EXPECT_EQ(actual.date.year, expected.tm_year + 1900) << ms;
    EXPECT_EQ(actual.date.month, static_cast<unsigned>(expected.tm_mon + 1)) << ms;
    EXPECT_EQ(actual.date.day, static_cast<unsigned>(expected.tm_mday)) << ms;
    EXPECT_EQ(actual.hour, static_cast<unsigned>(expected.tm_hour)) << ms;
    EXPECT_EQ(actual.minute, static_cast<unsigned>(expected.tm_min)) << ms;
    EXPECT_EQ(actual.second, static_cast<unsigned>(expected.tm_sec)) << ms;
    EXPECT_EQ(actual.weekday, static_cast<unsigned>(expected.tm_wday)) << ms;
  }
}

TEST(CivilTime, Rfc3339IsUtcToTheSecond) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339_utc(1'714'552'200'999), "2024-05-01T08:30:00Z");
  EXPECT_EQ(rfc3339_utc(951'868'799'000), "2000-02-29T23:59:59Z");
  EXPECT_EQ(rfc3339_utc(-1000), "1969-12-31T23:59:59Z");
}

TEST(Text, AsciiLowerLowersOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(ascii_lower("GB2312"), "gb2312");
  EXPECT_EQ(ascii_lower("竞争对手 ÄÖ [Z]"), "竞争对手 ÄÖ [z]");
  EXPECT_EQ(ascii_lower(""), "");
}

}  // namespace
}  // namespace crm::plugin_support
