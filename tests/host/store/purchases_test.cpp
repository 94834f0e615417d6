// One definition of a purchase: the SQL condition every reader of the orders
// table uses, over a real store; and the readers agreeing on it: a return, a
// cancellation, a quotation or a zero-value line after the churn date neither
// recovers a lost customer nor counts as buying in features or churn labels.
#include "store/purchases.hpp"

#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <optional>
#include <set>

#include "scoring/features.hpp"
#include "store/store.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "winback/lost_customers.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDay = kMillisecondsPerDay;
constexpr std::int64_t kAsOf = 20'000 * kDay;  // 2024-10-04

class PurchasesTest : public ::testing::Test {
 protected:
  PurchasesTest() : dir_("purchases"), store_(testing::store_locator(dir_ / "crm.db")) {}

  void order(const std::string& id, std::int64_t customer, std::int64_t at_ms, std::optional<double> amount,
             std::optional<std::string> status) {
    Statement insert = store_.database().prepare(
        "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', ?1, ?2, "
        "?3, ?4, ?5)");
    insert.bind(1, id).bind(2, customer).bind(3, at_ms);
    amount ? insert.bind(4, *amount) : insert.bind_null(4);
    status ? insert.bind(5, *status) : insert.bind_null(5);
    insert.run();
  }
  std::set<std::string> purchases(const std::string& sql) {
    std::set<std::string> ids;
    Statement query = store_.database().prepare(sql);
    while (query.step()) {
      ids.insert(query.column_text(0));
    }
    return ids;
  }

  testing::TempDir dir_;
  Store store_;
  testing::TestHost test_;
};

TEST_F(PurchasesTest, OnlyConfirmedPositiveOrdersArePurchasesWhateverTheSourceWrote) {
  store_.database().exec("INSERT INTO customers(id, source, external_id) VALUES (1, 'erp', '1')");
  // Purchases: statuses of erp_csv mappings and Tryton sales, none, in any case and spacing.
  order("confirmed", 1, kAsOf, 100, "confirmed");
  order("tryton-processing", 1, kAsOf, 100, "processing");
  order("tryton-done", 1, kAsOf, 100, "done");
  order("no-status", 1, kAsOf, 100, std::nullopt);
  order("empty-status", 1, kAsOf, 100, "");
  order("spaced-capitals", 1, kAsOf, 100, " Confirmed ");
  order("unknown-amount", 1, kAsOf, std::nullopt, "confirmed");
  // Not purchases: returns and zero lines, cancellations, unaccepted offers, refunds.
  order("return", 1, kAsOf, -40, "confirmed");
  order("zero", 1, kAsOf, 0, "confirmed");
  order("cancelled", 1, kAsOf, 100, "cancelled");
  order("cancelled-capitals", 1, kAsOf, 100, " CANCELLED");
  order("canceled", 1, kAsOf, 100, "Canceled");
  order("tryton-draft", 1, kAsOf, 100, "draft");
  order("tryton-quotation", 1, kAsOf, 100, "quotation");
  order("returned", 1, kAsOf, 100, "returned");
  order("refunded", 1, kAsOf, 100, "refunded");
  order("void", 1, kAsOf, 100, "void");
  const std::set<std::string> expected = {"confirmed",    "tryton-processing", "tryton-done",   "no-status",
                                          "empty-status", "spaced-capitals",   "unknown-amount"};
  EXPECT_EQ(purchases("SELECT external_id FROM orders WHERE " + purchase_condition()), expected);
  EXPECT_EQ(purchases("SELECT o.external_id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE " +
                      purchase_condition("o")),
            expected);
  for (const std::string_view status : kNonPurchaseStatuses) {
    EXPECT_NE(purchase_condition().find(fmt::format("'{}'", status)), std::string::npos) << status;
  }
}

// A weekly buyer lost by silence, then only rows that are not purchases after the churn date.
TEST_F(PurchasesTest, ChurnRecoveryFeaturesAndLabelsAgreeThatAReturnIsNoPurchase) {
  store_.database().exec("INSERT INTO customers(id, source, external_id) VALUES (1, 'erp', '1'), (2, 'erp', '2')");
  for (int day = 400; day >= 100; day -= 7) {
    order(fmt::format("1-{}", day), 1, kAsOf - day * kDay, 100, "confirmed");
    order(fmt::format("2-{}", day), 2, kAsOf - day * kDay, 100, "confirmed");
  }
  WinbackSettings settings;
  LostCustomers lost(store_, nullptr, test_.logger(), test_.clock(), settings);
  ASSERT_EQ(lost.detect(kAsOf).newly_lost, 2U);
  // Customer 1 sends goods back, has an order cancelled, gets a quotation and a free line;
  // customer 2 orders again.
  order("1-return", 1, kAsOf + kDay, -250, "confirmed");
  order("1-cancelled", 1, kAsOf + 2 * kDay, 300, "cancelled");
  order("1-quotation", 1, kAsOf + 3 * kDay, 300, "quotation");
  order("1-free", 1, kAsOf + 4 * kDay, 0, "confirmed");
  order("2-back", 2, kAsOf + 5 * kDay, 300, "confirmed");
  const std::int64_t later = kAsOf + 10 * kDay;

  const ChurnDetection counts = lost.detect(later);
  EXPECT_EQ(counts.recovered, 1U);
  EXPECT_FALSE(lost.find(1)->recovered_ms) << "a return, a cancellation or a quotation is no recovery";
  EXPECT_TRUE(lost.find(2)->recovered_ms);

  const CustomerFeatures features = build_features(store_.database(), FeatureSettings{}, later);
  const std::vector<double> churned = churn_labels(store_.database(), features, kAsOf, later);
  for (std::size_t i = 0; i < features.size(); ++i) {
    const bool first = features.customer_ids[i] == 1;
    EXPECT_EQ(features.column("recency_days")[i], first ? 116 : 5) << features.customer_ids[i];
    EXPECT_EQ(features.column("monetary_total")[i], first ? 4'300 : 4'600) << features.customer_ids[i];
    EXPECT_EQ(churned[i], first ? 1.0 : 0.0) << "backtest label of customer " << features.customer_ids[i];
  }
}

}  // namespace
}  // namespace crm::host
