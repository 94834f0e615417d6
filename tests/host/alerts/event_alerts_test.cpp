// Alerts raised by events (a WeCom change event) rather than by a scoring run:
// at the level asked for, to that level's people, once while open, and left
// alone by the scoring runs that follow.
#include <gtest/gtest.h>
#include <map>

#include "alerts/alert_engine.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

class EventAlertsTest : public ::testing::Test {
 protected:
  EventAlertsTest() : dir_("event-alerts"), store_(testing::store_locator(dir_ / "crm.db")) {
    fs::create_directories(dir_ / "out");
    test_.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", output().string()}}}}}});
    settings_.roles = {{"csm", {"csm@example.test"}}, {"cs_director", {"director@example.test"}}};
  }

  fs::path output() { return dir_ / "out" / "alerts.txt"; }
  AlertEngine engine() { return AlertEngine(store_, test_.host(), test_.logger(), test_.clock(), settings_, {}); }

  testing::TempDir dir_;
  Store store_;
  testing::TestHost test_;
  AlertSettings settings_;
};

TEST_F(EventAlertsTest, RaisedAtOnceToTheLevelsPeopleOnceAndNotEndedByScoring) {
  AlertEngine alerts = engine();
  const std::int64_t removed =
      alerts.raise_customer_event(1, "customer_removed_owner", "", "[signal] customer 1: deleted their manager", "d1");
  const std::int64_t handover = alerts.raise_customer_event(2, "handover_failed", kEventAlertLevelDirector,
                                                            "[handover] customer 2: no owner", "d2");
  EXPECT_EQ(alerts.deliver().delivered, 2U);
  const std::string sent = testing::read_text(output());
  EXPECT_NE(sent.find("[signal] customer 1: deleted their manager\nto: csm@example.test"), std::string::npos) << sent;
  EXPECT_NE(sent.find("[handover] customer 2: no owner\nto: director@example.test"), std::string::npos) << sent;

  // The same event again: the open alert, its detail updated, and nothing sent twice.
  EXPECT_EQ(alerts.raise_customer_event(1, "customer_removed_owner", "", "again", "d1 again"), removed);
  EXPECT_EQ(alerts.deliver().delivered, 0U);

  // A scoring run that knows nothing of events does not end them.
  const AlertCounts counts =
      alerts.evaluate(testing::insert_scoring_run(store_, test_.clock().now_ms(), {{1, "green", "", 90}}));
  EXPECT_EQ(counts.resolved, 0U);
  std::map<std::int64_t, AlertRow> open;
  for (const AlertRow& row : alerts.list("open")) {
    open.emplace(row.id, row);
  }
  ASSERT_EQ(open.count(removed), 1U);
  ASSERT_EQ(open.count(handover), 1U);
  EXPECT_EQ(open.at(removed).level, "signal");
  EXPECT_EQ(open.at(handover).level, "orange");
}

}  // namespace
}  // namespace crm::host
