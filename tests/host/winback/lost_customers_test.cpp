// Lost customers over a real store: churn from each customer's own rhythm,
// contract ends and marks; the reason rules on interactions in English and
// Chinese; a person's reason that rules never override; value, ABC class and
// the exclusions; mass churn raised as one strategic alert.
#include "winback/lost_customers.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/sync_harness.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kAsOf = 20'000 * kDay;  // 2024-10-04

class LostCustomersTest : public ::testing::Test {
 protected:
  LostCustomersTest() : dir_("lost-customers"), store_(testing::store_locator(dir_ / "crm.db")) {}

  // A customer who ordered every `interval_days` from `first_day` to `last_day` (days before kAsOf).
  void customer(std::int64_t id, int interval_days, int first_day_before, int last_day_before, double amount = 100,
                const std::string& product_line = "pumps") {
    Database& db = store_.database();
    db.prepare("INSERT INTO customers(id, source, external_id, name) VALUES (?1, 'erp', ?2, ?3)")
        .bind(1, id)
        .bind(2, std::to_string(id))
        .bind(3, fmt::format("Customer {}", id))
        .run();
    Statement order = db.prepare(
        "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, product_line, status) VALUES "
        "('erp', ?1, ?2, ?3, ?4, ?5, 'confirmed')");
    for (int day = first_day_before; day >= last_day_before; day -= interval_days) {
      order.bind(1, fmt::format("{}-{}", id, day))
          .bind(2, id)
          .bind(3, kAsOf - day * kDay)
          .bind(4, amount)
          .bind(5, product_line)
          .run();
    }
  }
  void interaction(std::int64_t customer, int day_before, const std::string& subject,
                   const std::string& keywords = "") {
    static int next = 0;
    store_.database()
        .prepare(
            "INSERT INTO interactions(source, external_id, customer_id, occurred_at_ms, channel, direction, subject, "
            "keywords) VALUES ('mail', ?1, ?2, ?3, 'email', 'inbound', ?4, ?5)")
        .bind(1, std::to_string(++next))
        .bind(2, customer)
        .bind(3, kAsOf - day_before * kDay)
        .bind(4, subject)
        .bind(5, keywords)
        .run();
  }
  LostCustomers engine(AlertEngine* alerts = nullptr) {
    return LostCustomers(store_, alerts, test_.logger(), test_.clock(), settings_);
  }
  std::string reason_of(LostCustomers& lost, std::int64_t customer) {
    const auto found = lost.find(customer);
    return found ? found->reason : "(not lost)";
  }

  testing::TempDir dir_;
  Store store_;
  testing::TestHost test_;
  WinbackSettings settings_;
};

TEST_F(LostCustomersTest, ChurnComesFromEachCustomersOwnPurchaseInterval) {
  customer(1, 7, 700, 70);    // weekly buyer, silent 70 days: 10 intervals -> lost
  customer(2, 90, 720, 120);  // quarterly buyer, silent 120 days: 1.3 intervals -> not lost
  customer(3, 90, 930, 300);  // quarterly buyer, silent 300 days: 3.3 intervals -> lost
  customer(4, 30, 30, 30);    // one order: no interval to judge by
  customer(5, 2, 200, 20);    // every two days, silent 20 days: still under the 60-day minimum
  LostCustomers lost = engine();
  const ChurnDetection counts = lost.detect(kAsOf);
  EXPECT_EQ(counts.customers_examined, 5U);
  EXPECT_EQ(counts.newly_lost, 2U);
  const auto weekly = lost.find(1);
  ASSERT_TRUE(weekly);
  EXPECT_EQ(weekly->method, "silence");
  EXPECT_EQ(weekly->churn_date_ms, kAsOf - 70 * kDay + 60 * kDay);  // max(3 x 7 days, 60 days) after the last order
  const auto evidence = nlohmann::json::parse(weekly->evidence);
  EXPECT_EQ(evidence["median_interval_days"], 7.0);
  EXPECT_EQ(evidence["silent_days"], 70.0);
  EXPECT_TRUE(lost.find(3));
  EXPECT_EQ(lost.find(3)->churn_date_ms, kAsOf - 300 * kDay + 270 * kDay);
  EXPECT_FALSE(lost.find(2));
  EXPECT_FALSE(lost.find(4));
  EXPECT_FALSE(lost.find(5));
  EXPECT_EQ(lost.detect(kAsOf).newly_lost, 0U) << "a second run finds nothing new";
}

TEST_F(LostCustomersTest, ContractEndsAndMarksFromConnectorsAndPeople) {
  customer(1, 30, 400, 40);
  customer(2, 30, 400, 10);
  customer(3, 30, 400, 10);
  Database& db = store_.database();
  db.exec(
      "INSERT INTO customer_attributes(source, external_id, customer_id, name, value) VALUES "
      "('erp', 'a1', 1, 'contract_end', '2024-09-01'), ('crm', 'a2', 2, 'churned', 'yes')");
  LostCustomers lost = engine();
  lost.detect(kAsOf);
  ASSERT_TRUE(lost.find(1));
  EXPECT_EQ(lost.find(1)->method, "contract_end");
  ASSERT_TRUE(lost.find(2));
  EXPECT_EQ(lost.find(2)->method, "mark");
  EXPECT_FALSE(lost.find(3));
  lost.mark(3, kAsOf - kDay, "told us on the phone", "li.na");
  ASSERT_TRUE(lost.find(3));
  EXPECT_EQ(lost.find(3)->method, "mark");
}

TEST_F(LostCustomersTest, ReasonRulesReadInteractionsInEnglishAndChinese) {
  for (std::int64_t id = 1; id <= 9; ++id) {
    customer(id, 10, 500, 100, 100, id == 6 ? "legacy-valves" : "pumps");
  }
  interaction(1, 120, "We switched to a competitor with better terms");
  interaction(2, 130, "报价太高", "已转向竞争对手的产品");  // attracted away, in Chinese
  interaction(3, 110, "Notice: the plant has closed down");
  interaction(4, 110, "公司已搬迁至外省，不再采购");  // moved away: forced to leave
  store_.database().exec(
      "INSERT INTO tickets(source, external_id, customer_id, opened_at_ms, is_complaint, subject) VALUES "
      "('desk', 't5', 5, " +
      std::to_string(kAsOf - 150 * kDay) + ", 1, 'late delivery, third time')");
  interaction(5, 140, "competitor called us");  // an unresolved complaint weighs more than a competitor's call
  settings_.discontinued_product_lines = {"legacy-valves"};  // customer 6 bought only what we dropped
  interaction(7, 120, "对方销售给了回扣");                   // bought off
  store_.database().exec(
      "INSERT INTO activities(source, external_id, customer_id, occurred_at_ms, kind, detail) VALUES "
      "('wecom', 'e8', 8, " +
      std::to_string(kAsOf - 105 * kDay) + ", 'owner_left', 'zhangsan left the company')");
  LostCustomers lost = engine();
  const ChurnDetection counts = lost.detect(kAsOf);
  EXPECT_EQ(counts.newly_lost, 9U);
  EXPECT_EQ(reason_of(lost, 1), "attracted_away");
  EXPECT_EQ(reason_of(lost, 2), "attracted_away");
  EXPECT_NE(lost.find(2)->reason_evidence.find("竞争对手"), std::string::npos) << lost.find(2)->reason_evidence;
  EXPECT_EQ(reason_of(lost, 3), "forced_to_leave");
  EXPECT_EQ(reason_of(lost, 4), "forced_to_leave");
  EXPECT_EQ(reason_of(lost, 5), "left_dissatisfied");
  EXPECT_EQ(lost.find(5)->reason_evidence, "1 complaint(s) unresolved");
  EXPECT_EQ(reason_of(lost, 6), "abandoned_by_us");
  EXPECT_EQ(reason_of(lost, 7), "bought_off");
  EXPECT_EQ(reason_of(lost, 8), "other");
  EXPECT_NE(lost.find(8)->reason_evidence.find("zhangsan left"), std::string::npos);
  EXPECT_EQ(reason_of(lost, 9), "other");
  EXPECT_EQ(lost.find(9)->reason_source, "rule");
  // Reasons 1-3 are not pursued, and say so.
  for (const std::int64_t excluded : {3, 4, 6, 7}) {
    EXPECT_FALSE(lost.find(excluded)->eligible) << excluded;
  }
  EXPECT_EQ(lost.find(3)->exclusion, "reason 'forced_to_leave' is not pursued");
  for (const std::int64_t pursued : {1, 2, 5, 8, 9}) {
    EXPECT_TRUE(lost.find(pursued)->eligible) << pursued;
  }
}

TEST_F(LostCustomersTest, APersonsReasonAndWhyChainStayAcrossRuns) {
  customer(1, 10, 500, 100);
  interaction(1, 120, "moved away to another city");
  LostCustomers lost = engine();
  lost.detect(kAsOf);
  EXPECT_EQ(reason_of(lost, 1), "forced_to_leave");
  EXPECT_FALSE(lost.find(1)->eligible);
  // The account manager knows better: they left for a competitor's product.
  ASSERT_TRUE(lost.set_reason(1, "attracted_away", "their new plant uses a rival's pumps", "li.na"));
  ASSERT_TRUE(lost.add_why(1, "They chose a rival's pumps"));
  ASSERT_TRUE(lost.add_why(1, "Our pumps lacked the flow control they needed"));
  lost.detect(kAsOf);
  const auto found = lost.find(1);
  EXPECT_EQ(found->reason, "attracted_away");
  EXPECT_EQ(found->reason_source, "person");
  EXPECT_EQ(found->reason_note, "their new plant uses a rival's pumps");
  EXPECT_TRUE(found->eligible);
  EXPECT_EQ(found->why_chain,
            (std::vector<std::string>{"They chose a rival's pumps", "Our pumps lacked the flow control they needed"}));
  EXPECT_THROW(lost.set_reason(1, "bored", "", "li.na"), std::invalid_argument);
}

TEST_F(LostCustomersTest, RootCausesGroupTheChainsThatEndAlikeTheMostCustomersFirst) {
  for (std::int64_t id = 1; id <= 4; ++id) {
    customer(id, 10, 500, 100);
  }
  LostCustomers lost = engine();
  lost.detect(kAsOf);
  EXPECT_TRUE(lost.root_causes().empty());
  ASSERT_TRUE(lost.add_why(1, "Deliveries were late"));
  ASSERT_TRUE(lost.add_why(1, "The Shanghai warehouse was understaffed."));
  ASSERT_TRUE(lost.add_why(2, "Invoices were wrong"));
  ASSERT_TRUE(lost.add_why(2, "the  shanghai warehouse was understaffed"));
  ASSERT_TRUE(lost.add_why(3, "质量问题没有及时处理"));
  ASSERT_TRUE(lost.set_reason(2, "left_dissatisfied", "late and wrong", "li.na"));
  const std::vector<RootCause> causes = lost.root_causes();
  ASSERT_EQ(causes.size(), 2U);
  EXPECT_EQ(causes[0].cause, "The Shanghai warehouse was understaffed.");
  EXPECT_EQ(causes[0].customers, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(causes[0].by_reason.at("left_dissatisfied"), 1U);
  EXPECT_GT(causes[0].expected_value, 0.0);
  EXPECT_EQ(causes[1].cause, "质量问题没有及时处理");
  EXPECT_EQ(causes[1].customers, (std::vector<std::int64_t>{3}));
}

TEST_F(LostCustomersTest, ValueAbcClassAndRecoveryFromHistory) {
  customer(1, 10, 730, 100, 1'000);  // about 63 orders of 1,000 over 630 days
  customer(2, 10, 730, 100, 10);
  for (std::int64_t id = 3; id <= 6; ++id) {
    customer(id, 10, 730, 0, 50);  // still buying
  }
  LostCustomers lost = engine();
  lost.detect(kAsOf);
  const auto big = lost.find(1);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->abc_class, "A");
  EXPECT_EQ(lost.find(2)->abc_class, "C");
  const double yearly = 64 * 1'000.0 * 365.0 / 630.0;
  EXPECT_NEAR(big->expected_value, yearly * settings_.margin, 1.0);
  // With a scorer's estimate of purchases per year while a customer (BG/NBD), that rate
  // times the customer's average order (10) makes the value.
  store_.database().exec(fmt::format(
      "INSERT INTO score_runs(id, as_of_ms, started_ms) VALUES (1, {0}, {0}); INSERT INTO customer_scores(run_id, "
      "customer_id, score, purchases_per_year) VALUES (1, 2, 20, 12.0)",
      kAsOf));
  lost.detect(kAsOf);
  EXPECT_NEAR(lost.find(2)->expected_value, 12.0 * 10.0 * settings_.margin, 1e-9);
  EXPECT_NEAR(lost.find(1)->expected_value, yearly * settings_.margin, 1.0) << "no estimate: history";
  // An order after the churn date: recovered.
  store_.database().exec(fmt::format(
      "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount) VALUES ('erp', 'back', 1, {}, 500)",
      kAsOf + kDay));
  EXPECT_EQ(lost.detect(kAsOf + 2 * kDay).recovered, 1U);
  EXPECT_TRUE(lost.find(1)->recovered_ms);
}

TEST_F(LostCustomersTest, AReturnOrACancelledOrderAfterTheChurnDateDoesNotRecover) {
  customer(1, 7, 700, 70);  // weekly buyer, silent 70 days: lost
  LostCustomers lost = engine();
  ASSERT_EQ(lost.detect(kAsOf).newly_lost, 1U);
  store_.database().exec(fmt::format(
      "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', 'return', 1, "
      "{}, -300, 'confirmed'), ('erp', 'C-cancelled', 1, {}, 500, 'cancelled'), ('tryton', 'quote', 1, {}, 500, "
      "'quotation')",
      kAsOf + kDay, kAsOf + 2 * kDay, kAsOf + 3 * kDay));
  const ChurnDetection counts = lost.detect(kAsOf + 5 * kDay);
  EXPECT_EQ(counts.recovered, 0U);
  EXPECT_EQ(counts.still_lost, 1U);
  EXPECT_FALSE(lost.find(1)->recovered_ms);
  // A Tryton sale being processed is a purchase.
  store_.database().exec(fmt::format(
      "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('tryton', 'sale', "
      "1, {}, 500, 'processing')",
      kAsOf + 6 * kDay));
  EXPECT_EQ(lost.detect(kAsOf + 7 * kDay).recovered, 1U);
  EXPECT_EQ(lost.find(1)->recovered_ms, kAsOf + 6 * kDay);
}

TEST_F(LostCustomersTest, TheConfiguredValueClassSharesDecideTheAbcClass) {
  // Revenues 5,000 / 3,000 / 1,500 / 500 of 10,000: shares above 0, 0.5, 0.8, 0.95.
  customer(1, 10, 400, 100, 1'000);  // 31 orders each
  customer(2, 10, 400, 100, 600);
  customer(3, 10, 400, 100, 300);
  customer(4, 10, 400, 100, 100);
  const auto classes = [&] {
    LostCustomers lost = engine();
    lost.detect(kAsOf);
    std::string found;
    for (std::int64_t id = 1; id <= 4; ++id) {
      found += lost.find(id)->abc_class;
    }
    return found;
  };
  EXPECT_EQ(classes(), "AABC");  // the defaults: 80 % and 95 %
  settings_.value_classes = {0.5, 0.9};
  EXPECT_EQ(classes(), "ABBC");
}

TEST_F(LostCustomersTest, MassChurnForOneReasonRaisesOneStrategicAlertInsteadOfCampaigns) {
  settings_.mass_churn_count = 5;
  settings_.mass_churn_rate = 0.9;  // only the count matters here
  for (std::int64_t id = 1; id <= 6; ++id) {
    customer(id, 10, 500, 100);
    interaction(id, 120, "switched to a competitor");
  }
  customer(7, 10, 500, 100);  // another reason, alone
  AlertSettings alert_settings;
  alert_settings.roles = {{"coo", {"coo@example.test"}}};
  AlertEngine alerts(store_, test_.host(), test_.logger(), test_.clock(), alert_settings, {});
  LostCustomers lost = engine(&alerts);
  const ChurnDetection counts = lost.detect(kAsOf);
  EXPECT_EQ(counts.mass_churn_events, 1U);
  const auto open = alerts.list("open");
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open[0].level, "red");
  EXPECT_NE(open[0].title.find("6 customers"), std::string::npos) << open[0].title;
  EXPECT_NE(open[0].title.find("attracted_away"), std::string::npos);
  for (std::int64_t id = 1; id <= 6; ++id) {
    EXPECT_FALSE(lost.find(id)->eligible);
    EXPECT_EQ(lost.find(id)->exclusion.rfind("mass churn event", 0), 0U) << lost.find(id)->exclusion;
  }
  EXPECT_TRUE(lost.find(7)->eligible);
  lost.detect(kAsOf);
  EXPECT_EQ(alerts.list("").size(), 1U) << "raised once";
}

}  // namespace
}  // namespace crm::host
