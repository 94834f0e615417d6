// The outbox scheduler without a store: quiet hours hold (never drop) the
// levels they name, recipient caps hold what exceeds an hour's allowance in
// one group, a channel's per-recipient limits say when a message must wait,
// and a channel's per-minute window paces.
#include "outbox/scheduler.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;
// 2024-01-01T00:00:00Z
constexpr std::int64_t kMidnightUtcMs = 1'704'067'200'000;

OutboxItem item(std::int64_t id, const std::string& level, std::vector<std::string> recipients) {
  OutboxItem made;
  made.id = id;
  made.channel_id = "alert_console";
  made.key = "crm-alert-" + std::to_string(id) + "-1-alert_console";
  made.envelope.level = level;
  made.envelope.recipients = std::move(recipients);
  return made;
}

TEST(QuietHours, AWindowOverMidnightEndsAtItsEndInLocalTime) {
  const QuietHours quiet{22 * 60, 7 * 60, 8 * 60, {"yellow"}};
  // 22:13 in UTC+8 is 14:13 UTC.
  const std::int64_t late_evening_ms = kMidnightUtcMs + 14 * kHourMs + 13 * kMinuteMs;
  EXPECT_EQ(quiet_until(quiet, late_evening_ms), kMidnightUtcMs + 23 * kHourMs);                // 07:00 local next day
  EXPECT_EQ(quiet_until(quiet, kMidnightUtcMs + 22 * kHourMs), kMidnightUtcMs + 23 * kHourMs);  // 06:00 local
  EXPECT_EQ(quiet_until(quiet, kMidnightUtcMs + 23 * kHourMs), std::nullopt);                   // 07:00 local: over
  EXPECT_EQ(quiet_until(quiet, kMidnightUtcMs + 4 * kHourMs), std::nullopt);                    // noon local
  EXPECT_EQ(quiet_until(QuietHours{}, late_evening_ms), std::nullopt);
  EXPECT_EQ(quiet_until(QuietHours{9 * 60, 9 * 60, 0, {}}, kMidnightUtcMs + 9 * kHourMs), std::nullopt);
}

TEST(QuietHours, ParsesTheConfiguredWindow) {
  const QuietHours quiet = parse_quiet_hours(
      nlohmann::json::parse(R"({"start": "21:30", "end": "06:45", "utc_offset_minutes": -300})"), {"yellow", "signal"});
  EXPECT_EQ(quiet.start_minute, 21 * 60 + 30);
  EXPECT_EQ(quiet.end_minute, 6 * 60 + 45);
  EXPECT_EQ(quiet.utc_offset_minutes, -300);
  EXPECT_EQ(quiet.levels, (std::vector<std::string>{"yellow", "signal"}));
}

TEST(DeliveryScheduler, QuietHoursHoldTheirLevelsUntilTheWindowEndsAndLetOthersThrough) {
  const std::int64_t now_ms = kMidnightUtcMs + 23 * kHourMs;  // 23:00 UTC
  DeliveryScheduler scheduler(QuietHours{22 * 60, 7 * 60, 0, {"yellow", "signal"}}, RecipientCap{}, now_ms);
  const std::optional<Hold> held = scheduler.admit(item(1, "yellow", {"csm@example.test"}));
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->until_ms, kMidnightUtcMs + kDayMs + 7 * kHourMs);
  EXPECT_EQ(held->why, "held: quiet hours");
  EXPECT_EQ(held->group_key, "");
  EXPECT_FALSE(scheduler.admit(item(2, "red", {"director@example.test"})).has_value());
  OutboxItem in_digest = item(3, "yellow", {"csm@example.test"});
  in_digest.digest_key = "crm-digest-3-alert_console";
  EXPECT_FALSE(scheduler.admit(in_digest).has_value()) << "a digest formed before goes out whole";
}

TEST(DeliveryScheduler, ARecipientCapHoldsWhatExceedsTheHourInOneGroupUntilTheOldestSendIsAnHourOld) {
  const std::int64_t now_ms = kMidnightUtcMs + 12 * kHourMs;
  DeliveryScheduler scheduler(QuietHours{}, RecipientCap{2, {"red"}}, now_ms);
  ASSERT_TRUE(scheduler.needs_recent_sends());
  scheduler.remember_sent({"csm@example.test"}, "crm-alert-0-1-alert_console", now_ms - 40 * kMinuteMs);
  EXPECT_FALSE(scheduler.admit(item(1, "yellow", {"csm@example.test"})).has_value());  // the second this hour
  const std::optional<Hold> held = scheduler.admit(item(2, "yellow", {"csm@example.test"}));
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->until_ms, now_ms + 20 * kMinuteMs);
  EXPECT_EQ(held->why, "held: recipient cap per hour");
  EXPECT_EQ(held->group_key, R"(cap:["alert_console",["csm@example.test"]])");
  EXPECT_FALSE(scheduler.admit(item(3, "red", {"csm@example.test"})).has_value()) << "red is exempt";
  EXPECT_FALSE(scheduler.admit(item(4, "yellow", {"other@example.test"})).has_value());
}

TEST(DeliveryScheduler, AGroupCountsOnceAgainstTheCap) {
  DeliveryScheduler scheduler(QuietHours{}, RecipientCap{2, {}}, kMidnightUtcMs);
  for (std::int64_t id = 1; id <= 5; ++id) {
    OutboxItem grouped = item(id, "yellow", {"csm@example.test"});
    grouped.group_key = "route:window";
    EXPECT_FALSE(scheduler.admit(grouped).has_value()) << "member " << id;
  }
  EXPECT_FALSE(scheduler.admit(item(6, "yellow", {"csm@example.test"})).has_value());
  EXPECT_TRUE(scheduler.admit(item(7, "yellow", {"csm@example.test"})).has_value());
}

TEST(DeliveryScheduler, WithoutACapNothingIsCountedOrHeld) {
  DeliveryScheduler scheduler(QuietHours{}, RecipientCap{}, kMidnightUtcMs);
  EXPECT_FALSE(scheduler.needs_recent_sends());
  for (std::int64_t id = 1; id <= 50; ++id) {
    EXPECT_FALSE(scheduler.admit(item(id, "yellow", {"csm@example.test"})).has_value());
  }
}

TEST(RecipientPacer, ALimitPerMinuteHoldsUntilTheWindowAllowsWhateverTheRecipientsCase) {
  const std::int64_t now_ms = kMidnightUtcMs + 12 * kHourMs;
  RecipientPacer pacer("alert_wecom", RecipientPacing{3, 1000}, now_ms);
  ASSERT_TRUE(pacer.limited());
  // Two sent within the minute (one to the same member under another case), one older.
  pacer.remember_sent({"ZhangSan"}, "sent-1", now_ms - 70'000);
  pacer.remember_sent({"ZhangSan"}, "sent-2", now_ms - 50'000);
  pacer.remember_sent({"zhangsan"}, "sent-3", now_ms - 10'000);
  EXPECT_FALSE(pacer.hold({"zhangsan"}).has_value());  // room for the third this minute
  pacer.remember_sent({"zhangsan"}, "sent-4", now_ms);
  const std::optional<Hold> held = pacer.hold({"ZHANGSAN"});
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->until_ms, now_ms + 10'000) << "when the send of 50 s ago leaves the minute";
  EXPECT_EQ(held->why, "held: recipient limit per minute of the channel");
  EXPECT_EQ(held->group_key, R"(pace:["alert_wecom",["ZHANGSAN"]])");
  EXPECT_FALSE(pacer.hold({"lisi"}).has_value()) << "another member has room";
  // A message to two members waits for the later of their windows.
  const std::optional<Hold> both = pacer.hold({"lisi", "zhangsan"});
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->until_ms, now_ms + 10'000);
}

TEST(RecipientPacer, ALimitPerHourHoldsUntilTheOldestSendOfTheHourIsAnHourOld) {
  const std::int64_t now_ms = kMidnightUtcMs + 12 * kHourMs;
  RecipientPacer pacer("alert_wecom", RecipientPacing{30, 3}, now_ms);
  pacer.remember_sent({"zhangsan"}, "sent-1", now_ms - 50 * kMinuteMs);
  pacer.remember_sent({"zhangsan"}, "sent-2", now_ms - 20 * kMinuteMs);
  pacer.remember_sent({"zhangsan"}, "sent-3", now_ms - 61 * kMinuteMs);  // out of the hour
  EXPECT_FALSE(pacer.hold({"zhangsan"}).has_value());
  pacer.remember_sent({"zhangsan"}, "sent-4", now_ms);
  const std::optional<Hold> held = pacer.hold({"zhangsan"});
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->until_ms, now_ms + 10 * kMinuteMs);
  EXPECT_EQ(held->why, "held: recipient limit per hour of the channel");
}

TEST(RecipientPacer, ADigestCountsOnceForEachOfItsRecipients) {
  RecipientPacer pacer("alert_wecom", RecipientPacing{2, 0}, kMidnightUtcMs);
  for (int member = 0; member < 10; ++member) {
    pacer.remember_sent({"zhangsan", "lisi"}, "crm-digest-1-alert_wecom", kMidnightUtcMs - 1'000);
  }
  EXPECT_FALSE(pacer.hold({"zhangsan", "lisi"}).has_value());
  pacer.remember_sent({"lisi"}, "crm-alert-9-1-alert_wecom", kMidnightUtcMs);
  EXPECT_TRUE(pacer.hold({"zhangsan", "lisi"}).has_value());
  EXPECT_FALSE(pacer.hold({"zhangsan"}).has_value());
}

TEST(RecipientPacer, WithoutLimitsItIsNotLimited) {
  RecipientPacer pacer("alert_console", RecipientPacing{}, kMidnightUtcMs);
  EXPECT_FALSE(pacer.limited());
  for (int i = 0; i < 50; ++i) {
    pacer.remember_sent({"csm@example.test"}, "key-" + std::to_string(i), kMidnightUtcMs);
  }
  EXPECT_FALSE(pacer.hold({"csm@example.test"}).has_value());
}

TEST(ChannelPacer, CountsTheMinuteWindowAndOpensItAMinuteAfterItsFirstSend) {
  ChannelPacer pacer(3, 1, kMidnightUtcMs);
  EXPECT_TRUE(pacer.limited());
  EXPECT_EQ(pacer.budget(), 2);
  EXPECT_FALSE(pacer.window_full());
  pacer.count_send();
  pacer.count_send();
  EXPECT_EQ(pacer.budget(), 0);
  EXPECT_TRUE(pacer.window_full());
  EXPECT_EQ(pacer.next_window_ms(), kMidnightUtcMs + kMinuteMs);
  const ChannelPacer unlimited(0, 0, kMidnightUtcMs);
  EXPECT_FALSE(unlimited.limited());
  EXPECT_FALSE(unlimited.window_full());
  EXPECT_GT(unlimited.budget(), 1'000'000);
}

}  // namespace
}  // namespace crm::host
