// A schema-7 SQLite store written by the main of before the store interface
// (commit 4a532ab), opened by today's Store and read through today's
// repositories and application core: SQLite stays the embedded default, same
// file format, migrations forward from schema 7 (issue 12).
//
// tests/fixtures/stores/schema7-4a532ab.db was made by that commit's crmhost
// (Release, build-bench/) from the first line of every invoice of the Online
// Retail customers whose id is a multiple of 300 (../shared/data/online_retail,
// 51 order lines, 16 customers), with erp_csv configured as in
// examples/demo/crmhost.json, alert_console as the only channel for red,
// orange and yellow, and the demo's personal_contact playbook cut to a task, a
// message and the end: `crmhost run` (sync, score, 24 alerts raised and
// delivered, churn detection, campaigns) on 2026-11-30, then
// `crmhost alerts ack 1 --by anna`, then sqlite3's VACUUM to keep it small.
// Runs on SQLite only (a file of that backend).
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <vector>

#include "app/alert_jobs.hpp"
#include "app/customers.hpp"
#include "app/session.hpp"
#include "app/winback_jobs.hpp"
#include "store/customer_history_repository.hpp"
#include "store/customer_read_repository.hpp"
#include "store/store.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

class StoreTestSchema7 : public ::testing::Test {
 protected:
  StoreTestSchema7()
      : dir_(fs::temp_directory_path() / fmt::format("crm-schema7-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(fs::path(CRM_SOURCE_DIR) / "tests/fixtures/stores/schema7-4a532ab.db", dir_ / "crm.db");
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = (dir_ / "crm.db").string();
    options_.no_default_plugin_dir = true;
  }
  StoreTestSchema7(const StoreTestSchema7&) = delete;
  StoreTestSchema7& operator=(const StoreTestSchema7&) = delete;
  ~StoreTestSchema7() override { fs::remove_all(dir_); }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(StoreTestSchema7, OpensAtTheCurrentSchemaAndReadsCustomersAndOrders) {
  Store store(options_.db_path);
  EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
  CustomerReadRepository customers(store.database());
  EXPECT_EQ(customers.find_by_source("erp_csv", "12600"), std::optional<std::int64_t>(1));
  EXPECT_EQ(customers.known_as(1), (std::vector<std::string>{"erp_csv:12600"}));
  EXPECT_EQ(customers.find_by_id(17), std::nullopt);

  // 51 order lines, of which 46 confirmed with a positive amount (5 cancellations).
  CustomerHistoryRepository history(store.database());
  RowScan<PurchaseRow> purchases =
      history.scan_purchases_before(std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
                                    std::numeric_limits<std::int64_t>::max());
  PurchaseRow purchase;
  std::size_t count = 0;
  std::size_t of_customer_1 = 0;
  double total = 0;
  double total_of_customer_1 = 0;
  while (purchases.next(purchase)) {
    ++count;
    total += purchase.amount;
    if (purchase.customer_id == 1) {
      ++of_customer_1;
      total_of_customer_1 += purchase.amount;
    }
  }
  EXPECT_EQ(count, 46U);
  EXPECT_NEAR(total, 1090.54, 1e-6);
  EXPECT_EQ(of_customer_1, 10U);
  EXPECT_NEAR(total_of_customer_1, 289.2, 1e-6);
  EXPECT_EQ(store.last_connector_run("erp_csv")->inserted, 51U);
}

TEST_F(StoreTestSchema7, ReadsScoresAlertsAndWinBackThroughTheApplicationCore) {
  Session session(options_, LogLevel::error, cancelled_);

  const std::vector<CustomerListRow> listed = list_customers(session, {});
  ASSERT_EQ(listed.size(), 16U);
  EXPECT_EQ(listed.front().customer_id, 1);
  EXPECT_EQ(listed.front().band, "red");

  const Customer360 first = customer_360(session, "1");
  EXPECT_EQ(first.run_id, 1);
  ASSERT_TRUE(first.score.has_value());
  EXPECT_NEAR(*first.score, 42.857142857, 1e-6);
  EXPECT_EQ(first.band, "red");
  EXPECT_EQ(first.tier, "general");
  EXPECT_EQ(first.abc_class, "C");
  EXPECT_EQ(first.primary_scorer, "scorer_health");
  ASSERT_EQ(first.reasons.size(), 1U);
  EXPECT_EQ(first.reasons.front().code, "order_trend_break");
  EXPECT_EQ(first.known_as, (std::vector<std::string>{"erp_csv:12600"}));

  const AlertList alerts = list_alerts(session, "");
  ASSERT_EQ(alerts.alerts.size(), 24U);
  EXPECT_EQ(alerts.alerts.front().id, 1);
  EXPECT_EQ(alerts.alerts.front().customer_id, 1);
  EXPECT_EQ(alerts.alerts.front().level, "red");
  EXPECT_EQ(alerts.alerts.front().state, "acknowledged");
  EXPECT_EQ(alerts.alerts.front().acked_by, "anna");
  EXPECT_EQ(alerts.alerts.front().title, "[red] customer 1: health 42.9");
  EXPECT_EQ(list_alerts(session, "open").alerts.size(), 23U);
  EXPECT_EQ(list_outbox(session, "sent").size(), 22U);

  const std::vector<LostCustomer> lost = list_lost_customers(session, false);
  ASSERT_EQ(lost.size(), 8U);
  EXPECT_EQ(lost.front().customer_id, 1);
  EXPECT_EQ(lost.front().reason, "other");
  EXPECT_TRUE(lost.front().eligible);
  EXPECT_EQ(list_tasks(session, "").size(), 6U);

  // The old file takes today's writes too.
  acknowledge_alert(session, 2, "ben");
  EXPECT_EQ(list_alerts(session, "acknowledged").alerts.size(), 2U);
}

}  // namespace
}  // namespace crm::host
