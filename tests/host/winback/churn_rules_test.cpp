// The lost-customer rules on plain values, without a store: detection from a
// customer's own rhythm, a contract end or a mark; which reason is proposed
// from which evidence; value, exclusions, mass churn and root-cause keys.
#include "winback/churn_rules.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kAsOf = 20'000 * kDay;

// Orders every `interval_days` from `first_day_before` to `last_day_before` days before kAsOf.
PurchaseHistory rhythm(int interval_days, int first_day_before, int last_day_before, double amount = 100,
                       const std::string& product_line = "pumps") {
  PurchaseHistory history;
  for (int day = first_day_before; day >= last_day_before; day -= interval_days) {
    history.add(kAsOf - day * kDay, amount, product_line);
  }
  return history;
}

TEST(ChurnRulesTest, SilenceIsMeasuredAgainstTheCustomersOwnMedianInterval) {
  const WinbackSettings settings;  // 3x the median interval, at least 60 days
  // Every 30 days until 100 days ago: allowed 90 days, silent 100.
  const auto monthly = find_churn(rhythm(30, 400, 100), nullptr, kAsOf, settings);
  ASSERT_TRUE(monthly);
  EXPECT_EQ(monthly->method, "silence");
  EXPECT_EQ(monthly->churn_date_ms, kAsOf - 100 * kDay + 90 * kDay);
  EXPECT_EQ(monthly->evidence["median_interval_days"], 30.0);
  EXPECT_EQ(monthly->evidence["silent_days"], 100.0);
  // Every 60 days until 100 days ago: allowed 180 days, still a customer.
  EXPECT_FALSE(find_churn(rhythm(60, 400, 100), nullptr, kAsOf, settings));
  // Every 5 days until 50 days ago: 15 days of rhythm, but at least 60 days of silence are allowed.
  EXPECT_FALSE(find_churn(rhythm(5, 200, 50), nullptr, kAsOf, settings));
  EXPECT_TRUE(find_churn(rhythm(5, 200, 61), nullptr, kAsOf, settings));
}

TEST(ChurnRulesTest, TooFewOrderDaysGiveNoRhythm) {
  WinbackSettings settings;
  settings.min_orders = 3;
  PurchaseHistory two_days;
  two_days.add(kAsOf - 900 * kDay, 10, "");
  two_days.add(kAsOf - 900 * kDay + 1000, 10, "");  // the same day counts once
  two_days.add(kAsOf - 800 * kDay, 10, "");
  EXPECT_FALSE(find_churn(two_days, nullptr, kAsOf, settings));
  settings.min_orders = 2;
  EXPECT_TRUE(find_churn(two_days, nullptr, kAsOf, settings));
  settings.min_orders = 1;
  PurchaseHistory one_order;
  one_order.add(kAsOf - 900 * kDay, 10, "");
  EXPECT_FALSE(find_churn(one_order, nullptr, kAsOf, settings));
}

TEST(ChurnRulesTest, AMarkComesFirstThenAnEndedContractWithNoOrderAfterIt) {
  const WinbackSettings settings;
  const PurchaseHistory steady = rhythm(30, 400, 10);  // not silent
  DeclaredChurn declared;
  declared.add_attribute("contract_end", "2024-09-29");
  EXPECT_EQ(declared.contract_end_ms, kAsOf - 5 * kDay);
  const auto ended = find_churn(steady, &declared, kAsOf, settings);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->method, "contract_end");
  EXPECT_EQ(ended->churn_date_ms, kAsOf - 5 * kDay);
  EXPECT_EQ(ended->evidence["last_order_ms"], steady.last_ms);
  // An order after the contract's end: the customer stayed.
  PurchaseHistory ordered_after = steady;
  ordered_after.add(kAsOf - 1 * kDay, 50, "");
  EXPECT_FALSE(find_churn(ordered_after, &declared, kAsOf, settings));
  // A contract ending after the date is not over yet.
  DeclaredChurn later;
  later.add_attribute("contract_end", std::to_string(kAsOf + kDay));
  EXPECT_FALSE(find_churn(steady, &later, kAsOf, settings));

  declared.add_attribute("churned", "Yes");
  const auto marked = find_churn(steady, &declared, kAsOf, settings);
  ASSERT_TRUE(marked);
  EXPECT_EQ(marked->method, "mark");
  EXPECT_EQ(marked->churn_date_ms, steady.last_ms);
  EXPECT_EQ(marked->evidence["marked_by"], "connector");
}

TEST(ChurnRulesTest, DeclaredValuesParseDaysMillisecondsAndTruthyWords) {
  EXPECT_EQ(parse_day("1970-01-02"), kDay);
  EXPECT_EQ(parse_day("86400000"), kDay);
  EXPECT_FALSE(parse_day("2024-02-30"));
  EXPECT_FALSE(parse_day("soon"));
  EXPECT_FALSE(parse_day(""));
  for (const char* yes : {"1", "true", "YES", "Churned", "lost"}) {
    EXPECT_TRUE(is_truthy(yes)) << yes;
  }
  for (const char* no : {"0", "false", "no", "", "active"}) {
    EXPECT_FALSE(is_truthy(no)) << no;
  }
  DeclaredChurn declared;
  declared.add_attribute("churned", "no");
  declared.add_attribute("segment", "lost");
  EXPECT_FALSE(declared.marked);
}

TEST(ChurnRulesTest, RecentProductLinesRestartAfterNinetyQuietDays) {
  PurchaseHistory history;
  history.add(0, 10, "valves");
  history.add(10 * kDay, 20, "");
  history.add(101 * kDay, 30, "pumps");  // 91 days after the last order
  history.add(102 * kDay, 40, "seals");
  EXPECT_EQ(history.recent_lines, (std::set<std::string>{"pumps", "seals"}));
  EXPECT_EQ(history.first_ms, 0);
  EXPECT_EQ(history.last_ms, 102 * kDay);
  EXPECT_DOUBLE_EQ(history.revenue, 100);
  EXPECT_EQ(history.order_ms.size(), 4U);
}

TEST(ChurnRulesTest, TheMostSpecificReasonRuleWins) {
  WinbackSettings settings;
  settings.discontinued_product_lines = {"pumps"};
  const std::set<std::string> discontinued = {"pumps"};
  const std::set<std::string> current = {"pumps", "valves"};
  ReasonEvidence evidence;
  evidence.texts = {"Switched to a competitor", "They offered a KICKBACK", "工厂倒闭了"};
  evidence.open_complaints = 2;
  evidence.owner_left = "Li Wei retired";

  ProposedReason proposed = propose_reason(evidence, discontinued, settings);
  EXPECT_EQ(proposed.reason, "forced_to_leave");
  EXPECT_EQ(proposed.because, "\"工厂倒闭了\" mentions \"倒闭\"");
  evidence.texts.pop_back();
  EXPECT_EQ(propose_reason(evidence, discontinued, settings).reason, "abandoned_by_us");
  proposed = propose_reason(evidence, current, settings);
  EXPECT_EQ(proposed.reason, "bought_off");
  EXPECT_EQ(proposed.because, "\"They offered a KICKBACK\" mentions \"kickback\"");
  evidence.texts.pop_back();
  proposed = propose_reason(evidence, current, settings);
  EXPECT_EQ(proposed.reason, "left_dissatisfied");
  EXPECT_EQ(proposed.because, "2 complaint(s) unresolved");
  evidence.open_complaints = 0;
  EXPECT_EQ(propose_reason(evidence, current, settings).reason, "attracted_away");
  evidence.texts.clear();
  proposed = propose_reason(evidence, current, settings);
  EXPECT_EQ(proposed.reason, "other");
  EXPECT_EQ(proposed.because, "the owner of the relationship left: Li Wei retired");
  evidence.owner_left.clear();
  EXPECT_EQ(propose_reason(evidence, {}, settings).because, "no rule matched; confirm with `crmhost churn reason`");
}

TEST(ChurnRulesTest, ValueFromTheScorersRateElseTheHistorysRevenueRate) {
  WinbackSettings settings;
  settings.margin = 0.5;
  settings.value_horizon_years = 2;
  PurchaseHistory history;
  history.add(0, 100, "");
  history.add(730 * kDay, 300, "");  // 400 over two years
  EXPECT_DOUBLE_EQ(expected_value(history, std::nullopt, settings), 200.0 * 0.5 * 2);
  EXPECT_DOUBLE_EQ(expected_value(history, 6.0, settings), 6.0 * 200 * 0.5 * 2);  // 6 orders of 200 a year
  PurchaseHistory short_history;
  short_history.add(0, 100, "");
  short_history.add(30 * kDay, 100, "");
  EXPECT_DOUBLE_EQ(expected_value(short_history, std::nullopt, settings), 200.0 * 0.5 * 2);  // at least a year
  EXPECT_DOUBLE_EQ(expected_value(PurchaseHistory{}, 6.0, settings), 0.0);
}

TEST(ChurnRulesTest, ExcludedReasonsThenTheDoNotContactList) {
  const WinbackSettings settings;
  EXPECT_EQ(exclusion_of("bought_off", true, settings), "reason 'bought_off' is not pursued");
  EXPECT_EQ(exclusion_of("left_dissatisfied", true, settings), "on the do-not-contact list");
  EXPECT_EQ(exclusion_of("left_dissatisfied", false, settings), "");
}

TEST(ChurnRulesTest, MassChurnByCountOrByRateFromAMinimumCount) {
  WinbackSettings settings;
  settings.mass_churn_count = 25;
  settings.mass_churn_rate = 0.05;
  settings.mass_churn_min_count = 5;
  EXPECT_TRUE(is_mass_churn(25, 0.001, settings));
  EXPECT_FALSE(is_mass_churn(24, 0.049, settings));
  EXPECT_TRUE(is_mass_churn(5, 0.05, settings));
  EXPECT_FALSE(is_mass_churn(4, 0.5, settings));
}

TEST(ChurnRulesTest, RootCauseKeysIgnoreCaseSpacingAndAFinalFullStop) {
  EXPECT_EQ(root_cause_key("  The Shanghai  warehouse was understaffed. "), "the shanghai warehouse was understaffed");
  EXPECT_EQ(root_cause_key("the shanghai warehouse was understaffed"), "the shanghai warehouse was understaffed");
  EXPECT_EQ(root_cause_key("质量问题没有及时处理。"), "质量问题没有及时处理。");
  EXPECT_EQ(root_cause_key("..."), "");
}

}  // namespace
}  // namespace crm::host
