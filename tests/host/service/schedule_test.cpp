#include "service/schedule.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <string>

#include "core/civil_time.hpp"
#include "core/time_zone.hpp"

namespace crm::host {
namespace {

std::int64_t utc_ms(int year, int month, int day, int hour, int minute) {
  return ((civil::days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60'000;
}

std::string error_of(const std::string& expression) {
  try {
    (void)Schedule::cron(expression);
  } catch (const ScheduleError& e) {
    return e.what();
  }
  return "no error";
}

std::string every_error_of(const std::string& interval) {
  try {
    (void)Schedule::every(interval);
  } catch (const ScheduleError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TimeZone, ReadsOffsetsFromTheTableAndFromTheRuleOfItsFooterPastIt) {
  const TimeZone berlin = TimeZone::load("Europe/Berlin");
  EXPECT_EQ(berlin.name(), "Europe/Berlin");
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2024, 3, 31, 0, 59) / 1000), 3600);
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2024, 3, 31, 1, 0) / 1000), 7200);
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2024, 10, 27, 0, 59) / 1000), 7200);
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2024, 10, 27, 1, 0) / 1000), 3600);
  // 2100 lies past any table: the footer's "CET-1CEST,M3.5.0,M10.5.0/3" decides (zdump: 28 March 2100, 01:00 UTC).
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2100, 3, 28, 0, 59) / 1000), 3600);
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2100, 3, 28, 1, 0) / 1000), 7200);
  EXPECT_EQ(berlin.offset_seconds_at(utc_ms(2100, 12, 1, 0, 0) / 1000), 3600);

  const TimeZone shanghai = TimeZone::load("Asia/Shanghai");
  EXPECT_EQ(shanghai.offset_seconds_at(utc_ms(2024, 6, 1, 0, 0) / 1000), 8 * 3600);
  EXPECT_EQ(shanghai.offset_seconds_at(utc_ms(1988, 4, 16, 18, 0) / 1000), 9 * 3600);  // China's DST, 1986-1991
  EXPECT_EQ(shanghai.offset_seconds_at(utc_ms(1988, 9, 10, 17, 0) / 1000), 8 * 3600);
  EXPECT_EQ(shanghai.offset_seconds_at(utc_ms(2300, 7, 1, 0, 0) / 1000), 8 * 3600);

  EXPECT_EQ(TimeZone().offset_seconds_at(utc_ms(2024, 7, 1, 0, 0) / 1000), 0);
  EXPECT_EQ(TimeZone::load("UTC").offset_seconds_at(utc_ms(2024, 7, 1, 0, 0) / 1000), 0);
}

TEST(TimeZone, ASouthernRuleWrapsTheYearAndAWallClockMapsToZeroOneOrTwoInstants) {
  // Sydney: daylight time from the first Sunday of October to the first Sunday of April.
  const TimeZone sydney = TimeZone::parse_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney");
  EXPECT_EQ(sydney.offset_seconds_at(utc_ms(2030, 1, 15, 0, 0) / 1000), 11 * 3600);
  EXPECT_EQ(sydney.offset_seconds_at(utc_ms(2030, 7, 15, 0, 0) / 1000), 10 * 3600);
  EXPECT_EQ(TimeZone::load("Australia/Sydney").offset_seconds_at(utc_ms(2030, 1, 15, 0, 0) / 1000), 11 * 3600);

  const TimeZone berlin = TimeZone::load("Europe/Berlin");
  const auto local = [](int month, int day, int hour, int minute) {
    return utc_ms(2024, month, day, hour, minute) / 1000;
  };
  EXPECT_TRUE(berlin.utc_of_local(local(3, 31, 2, 30)).empty());
  EXPECT_EQ(berlin.utc_of_local(local(10, 27, 2, 30)),
            (std::vector<std::int64_t>{utc_ms(2024, 10, 27, 0, 30) / 1000, utc_ms(2024, 10, 27, 1, 30) / 1000}));
  EXPECT_EQ(berlin.utc_of_local(local(7, 1, 12, 0)), (std::vector<std::int64_t>{utc_ms(2024, 7, 1, 10, 0) / 1000}));
}

TEST(TimeZone, ErrorsNameTheZone) {
  EXPECT_THROW((void)TimeZone::load("Europe/Atlantis"), TimeZoneError);
  try {
    (void)TimeZone::load("../etc/passwd");
    FAIL() << "a path outside the zone folder was read";
  } catch (const TimeZoneError& e) {
    EXPECT_NE(std::string(e.what()).find("\"../etc/passwd\" is not an IANA zone name"), std::string::npos) << e.what();
  }
  try {
    (void)TimeZone::load("Mars/Olympus");
    FAIL();
  } catch (const TimeZoneError& e) {
    EXPECT_NE(std::string(e.what()).find("time zone \"Mars/Olympus\" is unknown"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)TimeZone::parse_tzif("not a zone file", "x"), TimeZoneError);
  EXPECT_THROW((void)TimeZone::parse_posix("CET-1CEST,M3.5", "x"), TimeZoneError);
}

TEST(Schedule, CronFieldsTakeListsRangesStepsAndNames) {
  const TimeZone utc;
  const Schedule weekdays = Schedule::cron("15,45 9-17/4 * jan-MAR Mon-Fri");
  EXPECT_EQ(weekdays.text(), "15,45 9-17/4 * jan-MAR Mon-Fri");
  EXPECT_FALSE(weekdays.is_interval());
  // Friday 1 March 2024, 08:00 UTC: 09:15, 09:45, 13:15, ... then Monday.
  std::int64_t at = utc_ms(2024, 3, 1, 8, 0);
  std::vector<std::int64_t> fires;
  for (int i = 0; i < 7; ++i) {
    at = weekdays.next_after_ms(at, utc).value();
    fires.push_back(at);
  }
  EXPECT_EQ(fires,
            (std::vector<std::int64_t>{utc_ms(2024, 3, 1, 9, 15), utc_ms(2024, 3, 1, 9, 45), utc_ms(2024, 3, 1, 13, 15),
                                       utc_ms(2024, 3, 1, 13, 45), utc_ms(2024, 3, 1, 17, 15),
                                       utc_ms(2024, 3, 1, 17, 45), utc_ms(2024, 3, 4, 9, 15)}));
  // After March comes the next January.
  EXPECT_EQ(weekdays.next_after_ms(utc_ms(2024, 3, 29, 18, 0), utc), utc_ms(2025, 1, 1, 9, 15));

  EXPECT_EQ(Schedule::cron("*/5 * * * *").next_after_ms(utc_ms(2024, 1, 1, 10, 2), utc), utc_ms(2024, 1, 1, 10, 5));
  EXPECT_EQ(Schedule::cron("*/5 * * * *").next_after_ms(utc_ms(2024, 1, 1, 10, 5), utc), utc_ms(2024, 1, 1, 10, 10));
  EXPECT_EQ(Schedule::cron("7/20 * * * *").next_after_ms(utc_ms(2024, 1, 1, 10, 28), utc), utc_ms(2024, 1, 1, 10, 47));
  // 7 is Sunday as 0 is; both day fields given: either matches (Friday the 13th or any Friday or any 13th).
  EXPECT_EQ(Schedule::cron("0 0 * * 7").next_after_ms(utc_ms(2024, 3, 1, 0, 0), utc), utc_ms(2024, 3, 3, 0, 0));
  EXPECT_EQ(Schedule::cron("0 0 13 * FRI").next_after_ms(utc_ms(2024, 3, 9, 0, 0), utc), utc_ms(2024, 3, 13, 0, 0));
  EXPECT_EQ(Schedule::cron("0 0 13 * FRI").next_after_ms(utc_ms(2024, 3, 13, 0, 0), utc), utc_ms(2024, 3, 15, 0, 0));
  EXPECT_EQ(Schedule::cron("0 0 29 2 *").next_after_ms(utc_ms(2024, 3, 1, 0, 0), utc), utc_ms(2028, 2, 29, 0, 0));
}

TEST(Schedule, MacrosStandForTheirExpressions) {
  const TimeZone utc;
  const std::int64_t at = utc_ms(2024, 5, 15, 10, 30);  // a Wednesday
  EXPECT_EQ(Schedule::cron("@hourly").next_after_ms(at, utc), utc_ms(2024, 5, 15, 11, 0));
  EXPECT_EQ(Schedule::cron("@daily").next_after_ms(at, utc), utc_ms(2024, 5, 16, 0, 0));
  EXPECT_EQ(Schedule::cron("@midnight").next_after_ms(at, utc), utc_ms(2024, 5, 16, 0, 0));
  EXPECT_EQ(Schedule::cron("@weekly").next_after_ms(at, utc), utc_ms(2024, 5, 19, 0, 0));
  EXPECT_EQ(Schedule::cron("@monthly").next_after_ms(at, utc), utc_ms(2024, 6, 1, 0, 0));
  EXPECT_EQ(Schedule::cron("@yearly").next_after_ms(at, utc), utc_ms(2025, 1, 1, 0, 0));
  EXPECT_EQ(Schedule::cron("@annually").text(), "@annually");
}

TEST(Schedule, ParseErrorsNameTheFieldAndTheValue) {
  EXPECT_EQ(error_of("61 * * * *"), "cron expression \"61 * * * *\": minute field \"61\": 61 is out of range 0-59");
  EXPECT_EQ(error_of("0 24 * * *"), "cron expression \"0 24 * * *\": hour field \"24\": 24 is out of range 0-23");
  EXPECT_EQ(error_of("0 0 0 * *"), "cron expression \"0 0 0 * *\": day-of-month field \"0\": 0 is out of range 1-31");
  EXPECT_EQ(error_of("0 0 * FOO *"),
            "cron expression \"0 0 * FOO *\": month field \"FOO\": \"FOO\" is not a number from 1 to 12 or JAN-DEC");
  EXPECT_EQ(error_of("0 0 * * MON-XYZ"),
            "cron expression \"0 0 * * MON-XYZ\": day-of-week field \"MON-XYZ\": \"XYZ\" is not a number from 0 to 7 "
            "or SUN-SAT (0 and 7 are Sunday)");
  EXPECT_EQ(error_of("30-10 * * * *"),
            "cron expression \"30-10 * * * *\": minute field \"30-10\": range 30-10 runs backwards");
  EXPECT_EQ(error_of("*/0 * * * *"), "cron expression \"*/0 * * * *\": minute field \"*/0\": 0 is out of range 1-60");
  EXPECT_EQ(error_of("1,,2 * * * *"),
            "cron expression \"1,,2 * * * *\": minute field \"1,,2\": an empty item in a list");
  EXPECT_EQ(error_of("* * *"),
            "cron expression \"* * *\" has 3 fields; it needs 5 (minute hour day-of-month month day-of-week), such as "
            "\"*/5 * * * *\", or a macro such as @hourly or @daily");
  EXPECT_EQ(error_of("* * * * * *").substr(0, 42), "cron expression \"* * * * * *\" has 6 fields");
  EXPECT_EQ(error_of("@reboot"),
            "cron expression \"@reboot\": unknown macro; use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or "
            "@annually");
  EXPECT_EQ(error_of("0 0 30 2 *"),
            "cron expression \"0 0 30 2 *\" never fires: no month has the day it names (such as 30 FEB)");
}

TEST(Schedule, EveryIsAFixedIntervalInSecondsMinutesHoursOrDays) {
  const TimeZone utc;
  EXPECT_EQ(Schedule::every("30s").interval_ms(), 30'000);
  EXPECT_EQ(Schedule::every("10m").interval_ms(), 600'000);
  EXPECT_EQ(Schedule::every("2h").interval_ms(), 7'200'000);
  EXPECT_EQ(Schedule::every("1d").interval_ms(), 86'400'000);
  EXPECT_EQ(Schedule::every("10m").text(), "every 10m");
  EXPECT_TRUE(Schedule::every("10m").is_interval());
  EXPECT_EQ(Schedule::every("10m").next_after_ms(1'000, utc), 601'000);
  for (const char* bad : {"10", "m", "0m", "10x", "-5m", "1.5h", "", "400d"}) {
    EXPECT_EQ(
        every_error_of(bad),
        std::string("every \"") + bad +
            "\": needs a whole number above 0 and a unit s, m, h or d, such as 30s, 10m, 2h or 1d (at most 366d)");
  }
}

TEST(Schedule, InBerlinAWallClockTheSpringSkipsFiresAtTheFirstMinuteAfterItAndAnAutumnRepeatFiresOnce) {
  const TimeZone berlin = TimeZone::load("Europe/Berlin");
  const Schedule nightly = Schedule::cron("30 2 * * *");
  // 31 March 2024: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist and fires at 03:00.
  const std::int64_t spring = nightly.next_after_ms(utc_ms(2024, 3, 30, 12, 0), berlin).value();
  EXPECT_EQ(spring, utc_ms(2024, 3, 31, 1, 0));
  EXPECT_EQ(nightly.next_after_ms(spring, berlin), utc_ms(2024, 4, 1, 0, 30));  // 02:30 CEST
  // 27 October 2024: 03:00 CEST becomes 02:00 CET; 02:30 happens twice and fires the first time only.
  const std::int64_t autumn = nightly.next_after_ms(utc_ms(2024, 10, 26, 12, 0), berlin).value();
  EXPECT_EQ(autumn, utc_ms(2024, 10, 27, 0, 30));
  EXPECT_EQ(nightly.next_after_ms(autumn, berlin), utc_ms(2024, 10, 28, 1, 30));  // 02:30 CET the next day

  // Hourly across both changes: each wall-clock hour once, none twice.
  const Schedule hourly = Schedule::cron("0 * * * *");
  std::vector<std::int64_t> fires;
  std::int64_t at = utc_ms(2024, 3, 30, 23, 30);  // 00:30 CET
  for (int i = 0; i < 3; ++i) {
    at = hourly.next_after_ms(at, berlin).value();
    fires.push_back(at);
  }
  EXPECT_EQ(fires, (std::vector<std::int64_t>{utc_ms(2024, 3, 31, 0, 0),     // 01:00 CET
                                              utc_ms(2024, 3, 31, 1, 0),     // 02:00 skipped: 03:00 CEST
                                              utc_ms(2024, 3, 31, 2, 0)}));  // 04:00 CEST
  fires.clear();
  at = utc_ms(2024, 10, 26, 23, 30);  // 01:30 CEST
  for (int i = 0; i < 3; ++i) {
    at = hourly.next_after_ms(at, berlin).value();
    fires.push_back(at);
  }
  EXPECT_EQ(fires, (std::vector<std::int64_t>{utc_ms(2024, 10, 27, 0, 0),     // 02:00 CEST
                                              utc_ms(2024, 10, 27, 2, 0),     // 03:00 CET (02:00 CET not again)
                                              utc_ms(2024, 10, 27, 3, 0)}));  // 04:00 CET
  // Started inside the repeated hour, the job fires at its next wall-clock minute there.
  EXPECT_EQ(Schedule::cron("45 2 * * *").next_after_ms(utc_ms(2024, 10, 27, 1, 10), berlin),
            utc_ms(2024, 10, 27, 1, 45));
}

TEST(Schedule, InShanghaiTheDefaultScoringHourIsTwoInTheMorningLocalAndTheEightiesDstIsHonoured) {
  const TimeZone shanghai = TimeZone::load("Asia/Shanghai");
  const Schedule nightly = Schedule::cron("0 2 * * *");
  EXPECT_EQ(nightly.next_after_ms(utc_ms(2024, 6, 1, 0, 0), shanghai), utc_ms(2024, 6, 1, 18, 0));
  EXPECT_EQ(nightly.next_after_ms(utc_ms(2024, 6, 1, 18, 0), shanghai), utc_ms(2024, 6, 2, 18, 0));
  // 17 April 1988: 02:00 CST became 03:00 CDT (16 April, 18:00 UTC).
  const Schedule half_past = Schedule::cron("30 2 * * *");
  EXPECT_EQ(half_past.next_after_ms(utc_ms(1988, 4, 16, 12, 0), shanghai), utc_ms(1988, 4, 16, 18, 0));
  // 11 September 1988: 02:00 CDT became 01:00 CST; 01:30 came twice and fires once.
  const Schedule early = Schedule::cron("30 1 * * *");
  const std::int64_t first = early.next_after_ms(utc_ms(1988, 9, 10, 12, 0), shanghai).value();
  EXPECT_EQ(first, utc_ms(1988, 9, 10, 16, 30));
  EXPECT_EQ(early.next_after_ms(first, shanghai), utc_ms(1988, 9, 11, 17, 30));
}

}  // namespace
}  // namespace crm::host
