// Features computed from a hand-made store, each value worked out by hand,
// and the proof that nothing at or after the as-of date is read.
#include "scoring/features.hpp"

#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <string>

#include "store/store.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDay = kMillisecondsPerDay;
// 2024-07-01 00:00 UTC.
constexpr std::int64_t kAsOf = 19'905 * kDay;

class FeaturesTest : public ::testing::Test {
 protected:
  FeaturesTest() : dir_("features"), store_(testing::store_locator(dir_ / "crm.db")) {}

  Database& db() { return store_.database(); }
  void sql(const std::string& statement) { db().exec(statement); }
  // Days before the as-of date, as ms.
  static std::int64_t ago(double days) { return kAsOf - static_cast<std::int64_t>(days * kDay); }

  double feature(const CustomerFeatures& features, std::int64_t customer, const std::string& name) {
    for (std::size_t i = 0; i < features.size(); ++i) {
      if (features.customer_ids[i] == customer) {
        return features.column(name)[i];
      }
    }
    ADD_FAILURE() << "no customer " << customer;
    return 0;
  }

  void order(std::int64_t customer, const std::string& id, double days_ago, double amount,
             const std::string& status = "confirmed") {
    sql(
        fmt::format("INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES "
                    "('erp', '{}', {}, {}, {}, '{}')",
                    id, customer, ago(days_ago), amount, status));
  }

  testing::TempDir dir_;
  Store store_;
};

TEST_F(FeaturesTest, PurchaseHistoryRecencyFrequencyMonetaryAndPeriodChange) {
  sql("INSERT INTO customers(id, source, external_id, unified_id) VALUES (1, 'erp', 'A', 1), (2, 'erp', 'B', 2), "
      "(3, 'crm', 'A2', 1)");
  // Customer 1 (rows 1 and 3 are one customer): previous period 3 orders on 2 days for 300, this period 1 for 50.
  order(1, "o1", 170, 100);
  order(1, "o2", 170, 100);
  order(1, "o3", 120, 100);
  order(3, "o4", 10, 50);
  order(1, "o5", 5, 999, "cancelled");  // a cancellation is no purchase
  order(1, "o6", -1, 500);              // tomorrow: never seen as of today
  const CustomerFeatures features = build_features(db(), FeatureSettings{}, kAsOf);
  ASSERT_EQ(features.size(), 2U);
  EXPECT_EQ(feature(features, 1, "recency_days"), 10);
  EXPECT_EQ(feature(features, 1, "tenure_days"), 170);
  EXPECT_EQ(feature(features, 1, "order_count"), 3);  // distinct purchase days
  EXPECT_EQ(feature(features, 1, "monetary_total"), 350);
  EXPECT_EQ(feature(features, 1, "repeat_purchases"), 2);
  EXPECT_EQ(feature(features, 1, "purchase_span_days"), 160);
  EXPECT_EQ(feature(features, 1, "mean_interpurchase_days"), 80);
  EXPECT_EQ(feature(features, 1, "recency_ratio"), 10.0 / 80.0);
  EXPECT_EQ(feature(features, 1, "order_count_30d"), 1);
  EXPECT_EQ(feature(features, 1, "order_count_365d"), 3);
  EXPECT_EQ(feature(features, 1, "monetary_90d"), 50);
  EXPECT_EQ(feature(features, 1, "purchase_volume_period"), 50);
  EXPECT_EQ(feature(features, 1, "purchase_volume_previous"), 300);
  EXPECT_DOUBLE_EQ(feature(features, 1, "purchase_volume_change"), -250.0 / 300.0);
  EXPECT_DOUBLE_EQ(feature(features, 1, "order_frequency_change"), -0.5);
  // Customer 2 has no record before the date: not a customer yet, every feature unknown.
  EXPECT_TRUE(std::isnan(feature(features, 2, "order_count")));
  EXPECT_TRUE(std::isnan(feature(features, 2, "complaints_window")));
  EXPECT_TRUE(std::isnan(feature(features, 2, "recency_days")));
  EXPECT_TRUE(std::isnan(feature(features, 2, "recency_rank")));
  EXPECT_EQ(feature(features, 1, "recency_rank"), 1.0);  // the only buyer is the best
  EXPECT_EQ(feature(features, 1, "revenue_share_above"), 0.0);
}

// The orders read by several connections at once (each a range of customer rows) give the
// very features one connection gives, also for a customer whose records fall in two ranges;
// inside a transaction the build reads alone and sees what the transaction wrote.
TEST_F(FeaturesTest, OrdersReadBySeveralConnectionsGiveTheSameFeatures) {
  std::string customers = "INSERT INTO customers(id, source, external_id, unified_id) VALUES ";
  constexpr int kCustomers = 300;
  for (int c = 1; c <= kCustomers; ++c) {
    // Row 300 is customer 1 known by a second system: its orders fall in the last range.
    customers += fmt::format("{}({}, 'erp', 'C{}', {})", c == 1 ? "" : ", ", c, c, c == kCustomers ? 1 : c);
  }
  sql(customers);
  sql("BEGIN");
  for (int c = 1; c <= kCustomers; ++c) {
    for (int k = 0; k < c % 7; ++k) {
      order(c, fmt::format("o{}-{}", c, k), (c * 37 + k * 101) % 700, 10.0 * (k + 1) + c % 13,
            k == 3 ? "cancelled" : "confirmed");
    }
  }
  sql("COMMIT");
  FeatureSettings one;
  one.order_scan_connections = 1;
  FeatureSettings three;
  three.order_scan_connections = 3;
  three.parallel_scan_min_customers = 0;
  const CustomerFeatures alone = build_features(db(), one, kAsOf);
  const CustomerFeatures shared = build_features(db(), three, kAsOf);
  ASSERT_EQ(alone.customer_ids, shared.customer_ids);
  ASSERT_EQ(alone.names, shared.names);
  for (std::size_t k = 0; k < alone.names.size(); ++k) {
    for (std::size_t i = 0; i < alone.size(); ++i) {
      const double left = alone.columns[k][i];
      const double right = shared.columns[k][i];
      EXPECT_TRUE((std::isnan(left) && std::isnan(right)) || left == right)
          << alone.names[k] << " of customer " << alone.customer_ids[i] << ": " << left << " vs " << right;
    }
  }
  EXPECT_EQ(alone.revenue_last_year, shared.revenue_last_year);
  // Customer 1 is rows 1 and 300, read by the first and the last connection.
  EXPECT_GT(feature(shared, 1, "order_count"), 0);
  EXPECT_EQ(shared.revenue_last_year[0], alone.revenue_last_year[0]);
  EXPECT_GT(shared.revenue_last_year[0], 0);

  Transaction transaction(db());
  order(2, "unseen-by-others", 1, 5000);
  const CustomerFeatures inside = build_features(db(), three, kAsOf);
  EXPECT_EQ(feature(inside, 2, "recency_days"), 1);
}

TEST_F(FeaturesTest, EngagementExperienceAndRelationshipSignals) {
  sql("INSERT INTO customers(id, source, external_id, unified_id, industry) VALUES (1, 'erp', 'A', 1, 'retail')");
  order(1, "o1", 40, 100);
  sql(fmt::format(
      "INSERT INTO activities(source, external_id, customer_id, occurred_at_ms, kind) VALUES "
      "('portal', 'l1', 1, {}, 'login'), ('portal', 'l2', 1, {}, 'login'), ('portal', 'l3', 1, {}, 'login'), "
      "('portal', 'd1', 1, {}, 'download'), ('portal', 'd2', 1, {}, 'download'), ('portal', 'd3', 1, {}, "
      "'download'), ('portal', 'd4', 1, {}, 'download'), ('wecom', 'c1', 1, {}, 'owner_left'), "
      "('wecom', 'c2', 1, {}, 'owner_changed')",
      ago(100), ago(95), ago(200), ago(10), ago(40), ago(45), ago(50), ago(20), ago(400)));
  sql(
      fmt::format("INSERT INTO tickets(source, external_id, customer_id, opened_at_ms, is_complaint) VALUES "
                  "('crm', 't1', 1, {}, 1), ('crm', 't2', 1, {}, 1), ('crm', 't3', 1, {}, 0), ('crm', 't4', 1, {}, 1)",
                  ago(30), ago(60), ago(20), ago(100)));
  sql(fmt::format(
      "INSERT INTO interactions(source, external_id, customer_id, occurred_at_ms, direction, is_complaint) VALUES "
      "('mail', 'm1', 1, {}, 'inbound', 1), ('mail', 'm2', 1, {}, 'outbound', 0), ('mail', 'm3', 1, {}, "
      "'outbound', 0), ('mail', 'm4', 1, {}, 'inbound', 0), ('mail', 'm5', 1, {}, 'inbound', 0)",
      ago(5), ago(25), ago(100), ago(120), ago(150)));
  sql(fmt::format(
      "INSERT INTO surveys(source, external_id, customer_id, answered_at_ms, kind, score) VALUES "
      "('crm', 's1', 1, {}, 'csat', 90), ('crm', 's2', 1, {}, 'csat', 70), ('crm', 's3', 1, {}, 'csat', 75), "
      "('crm', 's4', 1, {}, 'csat', 60), ('crm', 'n1', 1, {}, 'nps', 10), ('crm', 'n2', 1, {}, 'nps', 3), "
      "('crm', 'n3', 1, {}, 'nps', 2), ('crm', 'n4', 1, {}, 'nps', 8)",
      ago(300), ago(200), ago(100), ago(10), ago(50), ago(40), ago(30), ago(20)));
  sql(
      fmt::format("INSERT INTO payments(source, external_id, customer_id, due_at_ms, paid_at_ms) VALUES "
                  "('erp', 'p1', 1, {}, {}), ('erp', 'p2', 1, {}, NULL), ('erp', 'p3', 1, {}, {})",
                  ago(100), ago(90), ago(20), ago(50), ago(60)));
  sql("INSERT INTO customer_attributes(source, external_id, customer_id, name, value) VALUES "
      "('crm', 'w', 1, 'share_of_wallet', '65'), ('crm', 's', 1, 'strategic_value', '80')");
  FeatureSettings settings;
  settings.industry_nps_mean = {{"retail", 20}, {"*", 40}};
  const CustomerFeatures features = build_features(db(), settings, kAsOf);
  EXPECT_EQ(feature(features, 1, "days_since_login"), 95);
  EXPECT_EQ(feature(features, 1, "logins_window"), 0);  // none in the last 90 days
  EXPECT_EQ(feature(features, 1, "downloads_recent"), 1);
  EXPECT_EQ(feature(features, 1, "downloads_previous"), 3);
  EXPECT_DOUBLE_EQ(feature(features, 1, "downloads_change"), -2.0 / 3.0);
  EXPECT_EQ(feature(features, 1, "key_contact_changed"), 1);  // the change 400 days ago is too old
  EXPECT_EQ(feature(features, 1, "complaints_window"), 3);    // t1, t2 and the complaining mail
  EXPECT_EQ(feature(features, 1, "complaints_since_last_order"), 2);
  EXPECT_EQ(feature(features, 1, "csat_last"), 60);
  EXPECT_EQ(feature(features, 1, "csat_second_last"), 75);
  EXPECT_EQ(feature(features, 1, "csat_third_last"), 70);
  EXPECT_EQ(feature(features, 1, "nps"), -25);  // 1 promoter, 2 detractors, 4 answers
  EXPECT_EQ(feature(features, 1, "nps_vs_industry"), -45);
  EXPECT_EQ(feature(features, 1, "payment_delay_days"), 0.0 + (10.0 + 20.0) / 3.0);  // 10 late, 20 unpaid, 0
  EXPECT_EQ(feature(features, 1, "interactions_period"), 2);
  EXPECT_EQ(feature(features, 1, "interactions_previous"), 3);
  EXPECT_EQ(feature(features, 1, "days_since_followup"), 25);
  EXPECT_EQ(feature(features, 1, "followup_overdue_days"), 25 - 90);  // no tier yet: general, 90 days
  EXPECT_EQ(feature(features, 1, "share_of_wallet"), 0.65);
  EXPECT_EQ(feature(features, 1, "strategic_value"), 80);
}

TEST_F(FeaturesTest, NothingAtOrAfterTheDateIsRead) {
  sql("INSERT INTO customers(id, source, external_id, unified_id) VALUES (1, 'erp', 'A', 1)");
  order(1, "o1", 30, 100);
  const CustomerFeatures before = build_features(db(), FeatureSettings{}, kAsOf);
  order(1, "o2", 0, 100);  // at the date itself
  order(1, "o3", -30, 100);
  sql(
      fmt::format("INSERT INTO activities(source, external_id, customer_id, occurred_at_ms, kind) VALUES "
                  "('portal', 'l1', 1, {}, 'login')",
                  ago(-1)));
  sql(
      fmt::format("INSERT INTO surveys(source, external_id, customer_id, answered_at_ms, kind, score) VALUES "
                  "('crm', 's1', 1, {}, 'csat', 10)",
                  ago(0)));
  const CustomerFeatures after = build_features(db(), FeatureSettings{}, kAsOf);
  ASSERT_EQ(before.names, after.names);
  for (std::size_t k = 0; k < before.names.size(); ++k) {
    const double a = before.columns[k][0];
    const double b = after.columns[k][0];
    EXPECT_TRUE((std::isnan(a) && std::isnan(b)) || a == b) << before.names[k] << ": " << a << " vs " << b;
  }
}

TEST_F(FeaturesTest, ChurnLabelsLookOnlyAtTheWindow) {
  sql("INSERT INTO customers(id, source, external_id, unified_id) VALUES (1, 'erp', 'A', 1), (2, 'erp', 'B', 2)");
  order(1, "o1", 30, 100);
  order(2, "o2", 30, 100);
  order(1, "o3", -10, 100);   // customer 1 buys again inside the window
  order(2, "o4", -100, 100);  // customer 2 only after it
  const CustomerFeatures features = build_features(db(), FeatureSettings{}, kAsOf);
  const std::vector<double> churned = churn_labels(db(), features, kAsOf, kAsOf + 90 * kDay);
  EXPECT_EQ(churned, (std::vector<double>{0.0, 1.0}));
}

TEST_F(FeaturesTest, CadenceFollowsTheTierOfThePreviousRun) {
  sql("INSERT INTO customers(id, source, external_id, unified_id) VALUES (1, 'erp', 'A', 1)");
  sql(
      fmt::format("INSERT INTO interactions(source, external_id, customer_id, occurred_at_ms, direction) VALUES "
                  "('mail', 'm1', 1, {}, 'outbound')",
                  ago(20)));
  sql(fmt::format("INSERT INTO score_runs(id, as_of_ms, started_ms, finished_ms) VALUES (1, {}, 0, 1)", ago(7)));
  sql("INSERT INTO customer_scores(run_id, customer_id, tier) VALUES (1, 1, 'strategic')");
  const CustomerFeatures features = build_features(db(), FeatureSettings{}, kAsOf);
  EXPECT_EQ(feature(features, 1, "followup_overdue_days"), 20 - 15);  // strategic: two contacts a month
}

}  // namespace
}  // namespace crm::host
