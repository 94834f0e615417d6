// The contact policy of the campaigns over plain values, no store: quiet hours,
// the minimum days between contacts and the channels' daily caps defer a
// contact (in that order); offers over the per-customer cap, the customer's
// value or the campaign's budget are refused with the reason; a playbook whose
// offers cost more than the customer is worth excludes them at enrolment.
#include "winback/contact_policy.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kNoon = 19'358 * kDay + 12 * kHour;  // 2023-01-01 12:00 UTC

WinbackSettings settings() {
  WinbackSettings settings;
  settings.min_days_between_contacts = 7;
  settings.channel_daily_cap = 0;
  settings.max_offer_cost = 0;
  return settings;
}

TEST(ContactPolicy, ACustomerNeverContactedWithNoCapOrQuietHoursIsContactedNow) {
  const ContactPolicy policy(settings(), kNoon);
  EXPECT_EQ(policy.defer_until(0, 0), std::nullopt);
  EXPECT_EQ(policy.defer_until(0, 1'000'000), std::nullopt);  // no daily cap configured
}

TEST(ContactPolicy, AContactWaitsForTheMinimumDaysSinceTheLastOne) {
  const ContactPolicy policy(settings(), kNoon);
  EXPECT_EQ(policy.defer_until(kNoon - 3 * kDay, 0), kNoon + 4 * kDay);
  EXPECT_EQ(policy.defer_until(kNoon - 7 * kDay, 0), std::nullopt);  // exactly the minimum: now
  EXPECT_EQ(policy.defer_until(kNoon - 30 * kDay, 0), std::nullopt);
}

TEST(ContactPolicy, AChannelAtItsDailyCapHoldsContactsUntilTheNextUtcDay) {
  WinbackSettings capped = settings();
  capped.channel_daily_cap = 2;
  const ContactPolicy policy(capped, kNoon);
  EXPECT_EQ(policy.defer_until(0, 1), std::nullopt);
  EXPECT_EQ(policy.defer_until(0, 2), 19'359 * kDay);
  EXPECT_EQ(policy.defer_until(0, 5), 19'359 * kDay);
}

TEST(ContactPolicy, QuietHoursHoldEveryContactUntilTheyEndBeforeTheOtherRules) {
  WinbackSettings quiet = settings();
  quiet.quiet_hours.start_minute = 22 * 60;  // 22:00-07:00 local, UTC+8
  quiet.quiet_hours.end_minute = 7 * 60;
  quiet.quiet_hours.utc_offset_minutes = 8 * 60;
  quiet.channel_daily_cap = 1;
  const std::int64_t local_23h = kNoon + 3 * kHour;  // 15:00 UTC is 23:00 at UTC+8
  const ContactPolicy policy(quiet, local_23h);
  const std::int64_t local_7h_next_day = kNoon + 11 * kHour;  // 23:00 UTC
  EXPECT_EQ(policy.defer_until(0, 0), local_7h_next_day);
  EXPECT_EQ(policy.defer_until(local_23h - kDay, 10), local_7h_next_day);
  // Outside the window the other rules decide.
  const ContactPolicy by_day(quiet, kNoon - 2 * kHour);  // 18:00 at UTC+8
  EXPECT_EQ(by_day.defer_until(0, 0), std::nullopt);
  EXPECT_EQ(by_day.defer_until(0, 1), 19'359 * kDay);
}

TEST(ContactPolicy, DoNotContactForbidsOnlyTheCustomersOnTheList) {
  CampaignFacts facts;
  facts.do_not_contact = {7};
  EXPECT_TRUE(ContactPolicy::forbids(facts, 7));
  EXPECT_FALSE(ContactPolicy::forbids(facts, 8));
}

TEST(ContactPolicy, OffersAreRefusedOverTheCapTheCustomersValueOrTheBudgetInThatOrder) {
  WinbackSettings capped = settings();
  capped.max_offer_cost = 50;
  const ContactPolicy policy(capped, kNoon);
  EXPECT_EQ(policy.refuse_offer(60, 10, 100, 95), "offer of 60.00 over the per-customer cap 50.00");
  EXPECT_EQ(policy.refuse_offer(40, 30, 100, 95), "offer of 40.00 over the customer's expected value 30.00");
  EXPECT_EQ(policy.refuse_offer(40, 300, 100, 70), "campaign budget 100.00 spent");
  EXPECT_EQ(policy.refuse_offer(40, 300, 100, 60), std::nullopt);      // exactly the budget
  EXPECT_EQ(policy.refuse_offer(40, 40, 0, 1'000'000), std::nullopt);  // no budget, exactly the value
  const ContactPolicy uncapped(settings(), kNoon);
  EXPECT_EQ(uncapped.refuse_offer(60, 100, 0, 0), std::nullopt);
}

TEST(ContactPolicy, APlaybookWhoseOffersCostMoreThanTheCustomerIsWorthExcludesThem) {
  const Playbook playbook{"discounts",
                          2,
                          {},
                          {},
                          {{.kind = "offer", .cost = 30},
                           {.kind = "message", .cost = 1'000},  // only offers cost
                           {.kind = "offer", .cost = 25}}};
  EXPECT_EQ(ContactPolicy::exclude_from(playbook, 54.5),
            "offer cost 55.00 of playbook 'discounts' exceeds the expected value 54.50");
  EXPECT_EQ(ContactPolicy::exclude_from(playbook, 55), std::nullopt);
  EXPECT_EQ(ContactPolicy::exclude_from(Playbook{"plain", 1, {}, {}, {{.kind = "message"}}}, 0), std::nullopt);
}

}  // namespace
}  // namespace crm::host
