// The alert engine over a real store and the real alert_console channel,
// with a clock the tests move: identity and de-duplication across runs,
// SLA escalation, acknowledgement, and delivery through the outbox while
// the channel is down.
#include "alerts/alert_engine.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <set>

#include "app/ack_links.hpp"
#include "scoring/known_labels.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kMinute = 60'000;

using Scored = testing::ScoredCustomer;

class AlertEngineTest : public ::testing::Test {
 protected:
  AlertEngineTest() : dir_("alert-engine"), store_(testing::store_locator(dir_ / "crm.db")) {
    fs::create_directories(dir_ / "out");
    test_.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", output().string()}}}}}});
    settings_.initial_backoff_ms = 1'000;
    settings_.max_backoff_ms = 60'000;
    settings_.max_attempts = 4;
    settings_.roles = {{"csm", {"csm@example.test"}}, {"cs_director", {"director@example.test"}}};
  }

  fs::path output() { return dir_ / "out" / "alerts.txt"; }
  AlertEngine engine() { return AlertEngine(store_, test_.host(), test_.logger(), test_.clock(), settings_, {}); }

  std::int64_t run(const std::vector<Scored>& customers) {
    return testing::insert_scoring_run(store_, test_.clock().now_ms(), customers);
  }

  std::size_t occurrences(const std::string& needle) {
    return testing::count_occurrences(testing::read_text(output()), needle);
  }

  testing::TempDir dir_;
  Store store_;
  testing::TestHost test_;
  AlertSettings settings_;
};

TEST_F(AlertEngineTest, FiresOnceIsQuietOnARerunRemindsAfterTheIntervalAndResolves) {
  AlertEngine alerts = engine();
  const std::vector<Scored> first = {{1, "yellow", "", 75}, {2, "green", "volume_drop", 85}, {3, "green", "", 95}};
  AlertCounts counts = alerts.evaluate(run(first));
  EXPECT_EQ(counts.opened, 2U);
  EXPECT_EQ(counts.opened_by_level["yellow"], 1U);
  EXPECT_EQ(counts.opened_by_level["signal"], 1U);
  EXPECT_EQ(alerts.deliver().delivered, 2U);
  EXPECT_EQ(occurrences("[yellow] customer 1: health 75.0"), 1U);
  EXPECT_EQ(occurrences("to: csm@example.test"), 2U);  // the yellow owner, and signals go to the CSM

  // The same condition again: nothing new is sent.
  test_.clock().advance_ms(kHour);
  counts = alerts.evaluate(run(first));
  EXPECT_EQ(counts.opened + counts.renotified + counts.resolved, 0U);
  EXPECT_EQ(alerts.deliver().delivered, 0U);

  // After the repeat interval (24 h) the lasting alerts are re-notified once.
  test_.clock().advance_ms(24 * kHour);
  EXPECT_EQ(alerts.evaluate(run(first)).renotified, 2U);
  EXPECT_EQ(alerts.deliver().delivered, 2U);
  EXPECT_EQ(occurrences("Reminder: [yellow] customer 1"), 1U);

  // Healthy again: both resolve, and say so.
  counts = alerts.evaluate(run({{1, "green", "", 90}, {2, "green", "", 90}}));
  EXPECT_EQ(counts.resolved, 2U);
  EXPECT_EQ(alerts.deliver().delivered, 2U);
  EXPECT_EQ(occurrences("Resolved: "), 2U);
  EXPECT_TRUE(alerts.list("open").empty());
  // A new episode is a new alert.
  EXPECT_EQ(alerts.evaluate(run(first)).opened, 2U);
  EXPECT_EQ(alerts.list("").size(), 4U);
}

TEST_F(AlertEngineTest, UnacknowledgedAlertsEscalateAtTheirDeadline) {
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "yellow", "", 72}, {2, "yellow", "", 71}}));
  const auto open = alerts.list("open");
  ASSERT_EQ(open.size(), 2U);
  EXPECT_EQ(open[0].deadline_ms - open[0].opened_ms, 48 * kHour);  // yellow: a plan within 48 h
  test_.clock().advance_ms(30 * kMinute);
  ASSERT_TRUE(alerts.acknowledge(open[1].id, "li.wei"));
  EXPECT_EQ(alerts.median_time_to_acknowledge_ms(), static_cast<double>(30 * kMinute));

  test_.clock().advance_ms(47 * kHour);
  EXPECT_EQ(alerts.escalate(), 0U);
  test_.clock().advance_ms(1 * kHour);
  EXPECT_EQ(alerts.escalate(), 1U);  // the acknowledged one stays where it is
  const auto after = alerts.list("");
  EXPECT_EQ(after[0].level, "orange");
  EXPECT_EQ(after[0].escalation_level, 1);
  EXPECT_EQ(after[0].deadline_ms, test_.clock().now_ms() + 24 * kHour);
  EXPECT_EQ(after[1].level, "yellow");
  EXPECT_EQ(after[1].acked_by, "li.wei");
  alerts.deliver();
  EXPECT_EQ(occurrences("Escalated: [yellow] customer 1: health 72.0 (not acknowledged in time; now cs_director)"), 1U);
  EXPECT_EQ(occurrences("to: director@example.test"), 1U);

  // Not acknowledged again: orange -> red, to the COO.
  test_.clock().advance_ms(24 * kHour);
  EXPECT_EQ(alerts.escalate(), 1U);
  EXPECT_EQ(alerts.list("")[0].level, "red");
  EXPECT_TRUE(alerts.resolve(after[1].id, "li.wei", "called the buyer; order placed"));
  EXPECT_EQ(alerts.list("resolved")[0].resolution_note, "called the buyer; order placed");
}

TEST_F(AlertEngineTest, ABandGettingWorseNotifiesAgainAtOnce) {
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "yellow", "", 75}}));
  test_.clock().advance_ms(kHour);
  const AlertCounts counts = alerts.evaluate(run({{1, "red", "", 50}}));
  EXPECT_EQ(counts.updated, 1U);
  EXPECT_EQ(alerts.list("open")[0].level, "red");
  EXPECT_EQ(alerts.deliver().delivered, 2U);
  EXPECT_EQ(occurrences("Escalated: [red] customer 1: health 50.0"), 1U);
}

TEST_F(AlertEngineTest, AChannelDownForAWhileDeliversEverythingExactlyOnceWhenBack) {
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 40}, {2, "orange", "", 65}, {3, "yellow", "csat_low_streak", 75}}));
  fs::remove_all(dir_ / "out");  // the channel cannot write: down
  DeliveryCounts counts = alerts.deliver();
  EXPECT_EQ(counts.retried, 4U);
  EXPECT_EQ(alerts.deliver().retried, 0U);  // nothing is due before its backoff
  test_.clock().advance_ms(2'000);
  EXPECT_EQ(alerts.deliver().retried, 4U);
  fs::create_directories(dir_ / "out");  // back
  test_.clock().advance_ms(60'000);
  counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 4U);
  for (const OutboxRow& row : alerts.outbox("")) {
    EXPECT_EQ(row.state, "sent");
    EXPECT_EQ(row.attempts, 3);
    EXPECT_EQ(occurrences(fmt::format("key: crm-alert-{}-1-alert_console", row.alert_id)), 1U);
  }
  test_.clock().advance_ms(kHour);
  EXPECT_EQ(alerts.deliver().delivered, 0U);
}

TEST_F(AlertEngineTest, AfterTooManyFailuresANotificationIsDeadListedAndResendable) {
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 40}}));
  fs::remove_all(dir_ / "out");
  for (int attempt = 0; attempt < 4; ++attempt) {
    alerts.deliver();
    test_.clock().advance_ms(60'000);
  }
  const auto dead = alerts.outbox("dead");
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].attempts, 4);
  EXPECT_NE(dead[0].last_error.find("cannot append to"), std::string::npos) << dead[0].last_error;
  fs::create_directories(dir_ / "out");
  ASSERT_TRUE(alerts.resend(dead[0].id));
  EXPECT_EQ(alerts.deliver().delivered, 1U);
  EXPECT_EQ(occurrences("[red] customer 1"), 1U);
}

TEST_F(AlertEngineTest, DeadNotificationsRaiseOneAlertOnAnotherChannelAndReasonKindsRouteEveryConnector) {
  settings_.routes = {
      {.reasons = {"delivery_dead", "sync_failed"}, .channel = "alert_console", .recipients = {"ops@example.test"}},
      {.levels = {"red"}, .channel = "no_such_channel", .recipients = {"@cs_director"}}};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 40}, {2, "red", "", 45}}));
  DeliveryCounts counts;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    counts = alerts.deliver();
    test_.clock().advance_ms(60'000);
  }
  EXPECT_EQ(counts.dead, 2U);
  EXPECT_EQ(counts.dead_by_channel["no_such_channel"], 2U);
  EXPECT_EQ(counts.delivered, 1U);  // the alert about it, at once, on the channel that works
  EXPECT_EQ(occurrences("[delivery] notifications to channel 'no_such_channel' are dead"), 1U);
  EXPECT_EQ(occurrences("2 notification(s) to 'no_such_channel' failed for good"), 1U);
  EXPECT_EQ(occurrences("to: ops@example.test"), 1U);
  // More deaths while it is open update the alert; nobody is told twice.
  alerts.evaluate(run({{1, "red", "", 40}, {2, "red", "", 45}, {3, "red", "", 40}}));
  for (int attempt = 1; attempt <= 4; ++attempt) {
    alerts.deliver();
    test_.clock().advance_ms(60'000);
  }
  EXPECT_EQ(alerts.outbox("dead").size(), 3U);
  EXPECT_EQ(occurrences("[delivery]"), 1U);
  std::size_t delivery_alerts = 0;
  for (const AlertRow& alert : alerts.list("open")) {
    delivery_alerts += alert.reason == "delivery_dead:no_such_channel" ? 1 : 0;
  }
  EXPECT_EQ(delivery_alerts, 1U);
  // A route naming the kind "sync_failed" reaches the alert of any connector.
  alerts.raise_sync_failure("erp_csv", "exports/ is not readable");
  EXPECT_EQ(alerts.deliver().delivered, 1U);
  EXPECT_EQ(occurrences("[sync] connector erp_csv failed"), 1U);
}

TEST_F(AlertEngineTest, ADeadChannelIsNotToldAboutItself) {
  AlertEngine alerts = engine();  // no routes: every channel, here only alert_console
  alerts.evaluate(run({{1, "red", "", 40}}));
  fs::remove_all(dir_ / "out");
  for (int attempt = 1; attempt <= 4; ++attempt) {
    alerts.deliver();
    test_.clock().advance_ms(60'000);
  }
  EXPECT_EQ(alerts.outbox("dead").size(), 1U);  // no notification about it through the same broken channel
  EXPECT_EQ(alerts.outbox("").size(), 1U);
  EXPECT_EQ(alerts.list("open").size(), 2U);  // but the alert is there, listed
}

TEST_F(AlertEngineTest, ACrashBetweenSendAndMarkSendsNothingTwice) {
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 40}}));
  // The process sent the notification and died before marking it sent: the
  // outbox still says pending, so the next run sends it again, with the same key.
  const OutboxRow pending = alerts.outbox("pending").at(0);
  Notification notification;
  notification.idempotency_key = fmt::format("crm-alert-{}-1-alert_console", pending.alert_id);
  notification.title = pending.title;
  ASSERT_EQ(send_notification(*test_.host().find("alert_console"), notification).outcome, DeliveryOutcome::delivered);
  testing::TestHost restarted;
  restarted.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", output().string()}}}}}});
  AlertEngine after(store_, restarted.host(), restarted.logger(), test_.clock(), settings_, {});
  EXPECT_EQ(after.deliver().delivered, 1U);
  EXPECT_EQ(occurrences("[red] customer 1"), 1U);
  EXPECT_EQ(after.outbox("sent").size(), 1U);
}

TEST_F(AlertEngineTest, RoutesPickTheChannelAndRecipientsByLevelAndReason) {
  settings_.routes = {{.levels = {"red"}, .channel = "alert_console", .recipients = {"@coo", "ops@example.test"}},
                      {.reasons = {"csat_low_streak"}, .channel = "no_such_channel", .recipients = {"@csm"}}};
  settings_.roles["coo"] = {"coo@example.test"};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 40}, {2, "green", "csat_low_streak", 85}, {3, "yellow", "", 75}}));
  const auto queued = alerts.outbox("");
  ASSERT_EQ(queued.size(), 2U);  // yellow matches no route
  EXPECT_EQ(queued[0].channel_id, "alert_console");
  EXPECT_EQ(queued[1].channel_id, "no_such_channel");
  const DeliveryCounts counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 1U);
  EXPECT_EQ(counts.retried, 1U);
  EXPECT_EQ(occurrences("to: coo@example.test ops@example.test"), 1U);
  EXPECT_EQ(alerts.outbox("pending")[0].last_error, "channel 'no_such_channel' is not loaded");
}

TEST_F(AlertEngineTest, QuietHoursHoldTheirLevelsAndReleaseThemWhenTheyEnd) {
  // 22:00-07:00 in UTC+8; the test clock starts at 2026-09-21 14:13:20 UTC = 22:13:20 in UTC+8.
  settings_.quiet_hours = {22 * 60, 7 * 60, 8 * 60, {"yellow", "signal"}};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "yellow", "", 75}, {2, "red", "", 40}}));
  DeliveryCounts counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 1U);  // red goes through at night
  EXPECT_EQ(counts.held, 1U);
  EXPECT_EQ(occurrences("[red] customer 2"), 1U);
  EXPECT_EQ(occurrences("[yellow] customer 1"), 0U);
  test_.clock().advance_ms(4 * kHour);  // 02:13 local: still quiet, nothing due yet
  EXPECT_EQ(alerts.deliver().delivered, 0U);
  EXPECT_EQ(alerts.outbox("pending").size(), 1U);
  test_.clock().advance_ms(5 * kHour);  // 07:13 local: released
  counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 1U);
  EXPECT_EQ(counts.held, 0U);
  EXPECT_EQ(occurrences("[yellow] customer 1"), 1U);
}

TEST_F(AlertEngineTest, ADigestWindowGroupsARoutesNotificationsIntoOneMessage) {
  // Yellow alerts wait up to 10 minutes and leave as one digest per level; red goes at once.
  settings_.routes = {{.levels = {"yellow"},
                       .channel = "alert_console",
                       .recipients = {"@csm"},
                       .digest_window_ms = 10 * kMinute,
                       .group_by = {"level"}},
                      {.levels = {"red"}, .channel = "alert_console", .recipients = {"@coo"}}};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "yellow", "", 75}, {2, "yellow", "", 74}, {3, "red", "", 40}}));
  DeliveryCounts counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 1U);  // only the red one
  EXPECT_EQ(occurrences("[red] customer 3"), 1U);
  // A late member joins the open window rather than opening its own.
  test_.clock().advance_ms(5 * kMinute);
  alerts.evaluate(run({{1, "yellow", "", 75}, {2, "yellow", "", 74}, {3, "red", "", 40}, {4, "yellow", "", 73}}));
  EXPECT_EQ(alerts.deliver().delivered, 0U);
  test_.clock().advance_ms(5 * kMinute);
  counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 3U);
  EXPECT_EQ(counts.messages, 1U);
  EXPECT_EQ(counts.digested, 3U);
  EXPECT_EQ(occurrences("3 CRM alerts (3 yellow)"), 1U);
  for (const char* customer : {"customer 1:", "customer 2:", "customer 4:"}) {
    EXPECT_EQ(occurrences(fmt::format("- [yellow] {}", customer)), 1U) << customer;
  }
  // Rerunning sends nothing again; the digest's key is stored on each member.
  EXPECT_EQ(alerts.deliver().messages, 0U);
  EXPECT_EQ(alerts.outbox("sent").size(), 4U);
}

TEST_F(AlertEngineTest, ARecipientCapHoldsTheRestAndReleasesThemAsOneDigest) {
  settings_.recipient_cap = {2, {"red"}};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "yellow", "", 75},
                       {2, "yellow", "", 74},
                       {3, "yellow", "", 73},
                       {4, "yellow", "", 72},
                       {5, "yellow", "", 71},
                       {6, "red", "", 30}}));
  DeliveryCounts counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 3U);  // two yellow to the CSM, and red is exempt
  EXPECT_EQ(counts.held, 3U);
  EXPECT_EQ(occurrences("to: csm@example.test"), 2U);
  test_.clock().advance_ms(30 * kMinute);
  EXPECT_EQ(alerts.deliver().delivered, 0U) << "still inside the hour";
  test_.clock().advance_ms(31 * kMinute);
  counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 3U);
  EXPECT_EQ(counts.messages, 1U);
  EXPECT_EQ(occurrences("3 CRM alerts (3 yellow)"), 1U);
  EXPECT_TRUE(alerts.outbox("pending").empty());
}

TEST_F(AlertEngineTest, RoutesMatchSegmentsAndOwnersAndReachTheCustomersAccountManager) {
  Database& db = store_.database();
  db.exec(
      "INSERT INTO customers(id, source, external_id, name, industry) VALUES (1, 'erp', 'C1', 'Huadong Machinery', "
      "'machinery'), (2, 'erp', 'C2', 'Corner Shop', 'retail');"
      "INSERT INTO contacts(source, external_id, customer_id, name, owner, is_key_contact) VALUES "
      "('wecom', 'x1', 1, 'Buyer', 'sales.zhao@example.test', 0), "
      "('wecom', 'x2', 1, 'Director', 'wang.li@example.test', 1)");
  settings_.routes = {
      {.channel = "alert_console", .recipients = {"@account_manager", "@coo"}, .label_matches = {{"abc_class", {"A"}}}},
      {.channel = "alert_console", .recipients = {"@account_manager"}, .label_matches = {{"industry", {"retail"}}}}};
  settings_.roles["coo"] = {"coo@example.test"};
  AlertEngine alerts = engine();
  const std::int64_t run_id = run({{1, "red", "", 40}, {2, "yellow", "", 74}, {3, "yellow", "", 73}});
  db.prepare("UPDATE customer_scores SET abc_class = 'A' WHERE customer_id = 1 AND run_id = ?1").bind(1, run_id).run();
  alerts.evaluate(run_id);
  EXPECT_EQ(alerts.deliver().delivered, 2U);                                // customer 3 is neither class A nor retail
  EXPECT_EQ(occurrences("to: wang.li@example.test coo@example.test"), 1U);  // the key contact's owner
  EXPECT_EQ(occurrences("to: csm@example.test"), 1U);                       // no account manager: the yellow owner
  // Escalated two days later, the retail alert still matches its route.
  test_.clock().advance_ms(49 * kHour);
  EXPECT_EQ(alerts.escalate(), 3U);  // both yellows (48 h) and the red (24 h)
  alerts.deliver();
  EXPECT_EQ(occurrences("Escalated: [yellow] customer 2"), 1U);
  EXPECT_EQ(occurrences("Escalated: [yellow] customer 3"), 0U);
}

TEST_F(AlertEngineTest, NoFirstResponseIn15MinutesOrNoClosedLoopIn24HoursRemindsOnce) {
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "yellow", "", 75}, {2, "yellow", "", 74}}));
  alerts.deliver();
  test_.clock().advance_ms(10 * kMinute);
  EXPECT_EQ(alerts.escalate(), 0U);
  alerts.deliver();
  EXPECT_EQ(occurrences("no first response within 15 min"), 0U);
  ASSERT_TRUE(alerts.acknowledge(alerts.list("open")[0].id, "li.na"));  // customer 1 answered in time
  test_.clock().advance_ms(6 * kMinute);
  EXPECT_EQ(alerts.escalate(), 0U);  // a reminder, not an escalation
  alerts.deliver();
  EXPECT_EQ(occurrences("[yellow] customer 2: health 74.0 (no first response within 15 min)"), 1U);
  EXPECT_EQ(occurrences("customer 1: health 75.0 (no first response"), 0U);
  alerts.escalate();
  alerts.deliver();
  EXPECT_EQ(occurrences("(no first response within 15 min)"), 1U) << "once";
  // Acknowledged at 10 min and still not resolved 24 h later.
  test_.clock().advance_ms(24 * kHour);
  alerts.escalate();
  alerts.deliver();
  EXPECT_EQ(occurrences("[yellow] customer 1: health 75.0 (acknowledged but not closed within 24 h)"), 1U);
}

TEST_F(AlertEngineTest, ARouteThatContinuesLetsLaterRoutesSendTheSameAlertToo) {
  settings_.routes = {
      {.levels = {"red"}, .channel = "alert_console", .recipients = {"@coo"}, .continue_matching = true},
      {.channel = "other_channel", .recipients = {"@owner"}},
      {.channel = "never_reached"}};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 40}, {2, "yellow", "", 75}}));
  std::vector<std::string> channels;
  for (const OutboxRow& row : alerts.outbox("")) {
    channels.push_back(row.channel_id);
  }
  EXPECT_EQ(channels, (std::vector<std::string>{"alert_console", "other_channel", "other_channel"}));
}

}  // namespace
}  // namespace crm::host

namespace crm::host {
namespace {

// crm/abi.h: after FATAL the host stops using the plugin. A channel that
// returns FATAL is called once: what it was to send is dead with the reason,
// the rest of the process sends nothing more through it, one error line says
// why, and the delivery_dead alert goes out through the other channel.
TEST(AlertEngineFatalChannel, IsNotCalledAgainAfterFatalAndItsNotificationsAreDeadWithTheReason) {
  testing::TempDir dir("alert-fatal-channel");
  testing::TestHost test;
  const fs::path console = dir / "console.txt";
  test.load({CRM_TEST_PLUGIN_DIR, CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", console.string()}}}}}});
  ASSERT_NE(test.host().find("fatal_channel"), nullptr) << test.record("fatal_channel")->reason;
  EXPECT_EQ(test.record("fatal_channel")->abi, "1.1");  // a 1.1 channel in this host
  Store store(testing::store_locator(dir / "crm.db"));
  AlertSettings settings;
  settings.initial_backoff_ms = 1'000;
  settings.max_attempts = 8;
  settings.routes = {{.levels = {"red"}, .channel = "fatal_channel", .recipients = {"ops@example.test"}},
                     {.reasons = {"delivery_dead"}, .channel = "alert_console", .recipients = {"ops@example.test"}}};
  AlertEngine alerts(store, test.host(), test.logger(), test.clock(), settings, {});
  alerts.evaluate(testing::insert_scoring_run(store, test.clock().now_ms(),
                                              {{1, "red", "", 10}, {2, "red", "", 12}, {3, "red", "", 14}}));
  DeliveryCounts first = alerts.deliver();
  EXPECT_EQ(first.dead_by_channel["fatal_channel"], 3U);
  EXPECT_EQ(first.retried, 0U);

  // Later passes of the same process: nothing is due, and nothing new is sent through it either.
  for (int pass = 0; pass < 5; ++pass) {
    test.clock().advance_ms(kHour);
    alerts.evaluate(testing::insert_scoring_run(
        store, test.clock().now_ms(), {{1, "red", "", 10}, {2, "red", "", 12}, {3, "red", "", 14}, {4, "red", "", 9}}));
    alerts.deliver();
  }
  const auto lines = test.log_lines();
  const auto count = [&](const std::string& fragment) {
    return std::count_if(lines.begin(), lines.end(),
                         [&](const std::string& line) { return line.find(fragment) != std::string::npos; });
  };
  EXPECT_EQ(count("[fatal_channel] send called"), 1) << "the host kept calling a channel that returned FATAL";
  EXPECT_EQ(count("ERROR [alerts] fatal error: licence check failed; the plugin cannot go on; the host stops using "
                  "channel 'fatal_channel' until it restarts; what it was to send is marked dead (`crmhost alerts "
                  "resend` after a fix)"),
            1);
  const auto dead = alerts.outbox("dead");
  std::size_t fatal_dead = 0;
  for (const OutboxRow& row : dead) {
    if (row.channel_id == "fatal_channel") {
      ++fatal_dead;
      EXPECT_EQ(row.attempts, 1);
      EXPECT_NE(row.last_error.find("licence check failed"), std::string::npos) << row.last_error;
    }
  }
  EXPECT_EQ(fatal_dead, 4U);  // the three of the first pass and customer 4's
  EXPECT_TRUE(alerts.outbox("pending").empty());
  const auto open = alerts.list("open");
  EXPECT_EQ(std::count_if(open.begin(), open.end(),
                          [](const AlertRow& row) { return row.reason == "delivery_dead:fatal_channel"; }),
            1);
  EXPECT_NE(testing::read_text(console).find("fatal_channel"), std::string::npos)
      << "the delivery_dead alert goes out through the console";
}

// With a public URL, a notification names the customer as people know them,
// why, the value at stake, the deadline on the route's clock, the first
// action and two links; each recipient gets their own acknowledge link, which
// acknowledges the alert as them.
TEST_F(AlertEngineTest, ANotificationSaysWhoWhyWhatIsAtStakeAndLinksAnAcknowledgeLinkPerRecipient) {
  const std::int64_t now = test_.clock().now_ms();
  store_.database().exec(fmt::format(
      "INSERT INTO customers(id, source, external_id, name) VALUES (1, 'erp_csv', 'C-0042', 'Acme Trading');"
      "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, currency, status) VALUES "
      "('erp_csv', 'o1', 1, {0}, 1000.5, 'CNY', 'done'), ('erp_csv', 'o2', 1, {0}, 250, 'CNY', NULL), "
      "('erp_csv', 'o3', 1, {0}, 9999, 'CNY', 'cancelled'), ('erp_csv', 'o4', 1, {1}, 7777, 'CNY', 'done');",
      now - 30 * 24 * kHour, now - 400 * 24 * kHour));
  settings_.public_url = "https://crm.example.test";
  settings_.roles["coo"] = {"coo@example.test", "ceo@example.test"};
  settings_.routes = {{.levels = {"red"}, .channel = "alert_console", .recipients = {"@owner"}}};
  settings_.routes.front().language = "zh-CN";
  settings_.routes.front().utc_offset_minutes = 480;
  settings_.signal_reasons.clear();  // volume_drop explains the band here, without an alert of its own
  AlertEngine alerts = engine();
  ASSERT_EQ(alerts.evaluate(run({{1, "red", "volume_drop", 42.9}})).opened, 1U);
  EXPECT_EQ(alerts.deliver().delivered, 2U) << "one message per recipient";
  const std::string out = testing::read_text(output());
  for (const char* expected :
       {"客户 Acme Trading（erp_csv C-0042）处于红色预警：健康分 42.9。", "涉及价值：1,250.50 CNY",
        "首要行动：由高管牵头组建挽留小组", "客户页面: https://crm.example.test/app/customers/1"}) {
    EXPECT_EQ(testing::count_occurrences(out, expected), 2U) << expected << "\n" << out;
  }
  EXPECT_NE(out.find("- " + plain_label({}, "volume_drop")), std::string::npos) << out;
  std::vector<std::string> tokens;
  for (std::size_t at = out.find("/ack/"); at != std::string::npos; at = out.find("/ack/", at + 1)) {
    tokens.push_back(out.substr(at + 5, out.find('\n', at) - at - 5));
  }
  ASSERT_EQ(tokens.size(), 2U);
  EXPECT_NE(tokens[0], tokens[1]);
  const AckLinkView first = inspect_ack_link(store_, test_.clock(), tokens[0]);
  const AckLinkView second = inspect_ack_link(store_, test_.clock(), tokens[1]);
  EXPECT_EQ(first.status, AckLinkStatus::valid);
  EXPECT_EQ(first.customer_name, "Acme Trading");
  EXPECT_EQ(std::set<std::string>({first.recipient, second.recipient}),
            std::set<std::string>({"coo@example.test", "ceo@example.test"}));
  EXPECT_EQ(confirm_ack_link(store_, test_.clock(), tokens[1]).status, AckLinkStatus::acknowledged);
  EXPECT_EQ(inspect_ack_link(store_, test_.clock(), tokens[0]).status, AckLinkStatus::alert_closed);
  ASSERT_EQ(alerts.list("acknowledged").size(), 1U);
  EXPECT_EQ(alerts.list("acknowledged").front().acked_by, second.recipient);
}

// Without a public URL: the same words, no links, one message to all recipients.
TEST_F(AlertEngineTest, WithoutAPublicUrlANotificationHasNoLinks) {
  store_.database().exec(
      "INSERT INTO customers(id, source, external_id, name) VALUES (1, 'erp_csv', 'C-0042', 'Acme Trading')");
  settings_.roles["coo"] = {"coo@example.test", "ceo@example.test"};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 42.9}}));
  EXPECT_EQ(alerts.deliver().delivered, 1U);
  const std::string out = testing::read_text(output());
  EXPECT_NE(out.find("Acme Trading (erp_csv C-0042) is red: health score 42.9."), std::string::npos) << out;
  EXPECT_NE(out.find("Respond by: "), std::string::npos);
  EXPECT_NE(out.find("First action: An executive-led retention team"), std::string::npos);
  EXPECT_EQ(out.find("/ack/"), std::string::npos);
  EXPECT_EQ(out.find("Value at stake"), std::string::npos) << "no purchases: no value claimed";
}

// Each recipient reads the deadline on their own clock and in their own
// language: recipients who differ get messages of their own, the zone's
// offset is the one in force at the deadline (daylight saving time included).
TEST_F(AlertEngineTest, EachRecipientReadsTheDeadlineInTheirOwnTimeZoneAndLanguage) {
  store_.database().exec(
      "INSERT INTO customers(id, source, external_id, name) VALUES (1, 'erp_csv', 'C-0042', 'Acme Trading')");
  settings_.roles["coo"] = {"COO@example.test", "ceo@example.test", "cfo@example.test"};
  settings_.time_zone = std::make_shared<const TimeZone>(TimeZone::load("Europe/Berlin"));
  settings_.recipient_settings["coo@example.test"] = {
      .language = std::nullopt, .time_zone = std::make_shared<const TimeZone>(TimeZone::load("America/New_York"))};
  settings_.recipient_settings["ceo@example.test"] = {
      .language = "zh-CN", .time_zone = std::make_shared<const TimeZone>(TimeZone::load("Asia/Shanghai"))};
  AlertEngine alerts = engine();
  alerts.evaluate(run({{1, "red", "", 42.9}}));
  EXPECT_EQ(alerts.deliver().delivered, 3U) << "three clocks, three messages";
  const std::string out = testing::read_text(output());
  const std::int64_t deadline_s = alerts.list("open").front().deadline_ms / 1000;
  const auto offset_text = [&](const char* zone) {
    const int minutes = TimeZone::load(zone).offset_seconds_at(deadline_s) / 60;
    return fmt::format("({}, UTC{}{:02}:{:02})", zone, minutes < 0 ? '-' : '+', std::abs(minutes) / 60,
                       std::abs(minutes) % 60);
  };
  EXPECT_EQ(testing::count_occurrences(out, offset_text("America/New_York")), 1U) << out;
  EXPECT_EQ(testing::count_occurrences(out, offset_text("Asia/Shanghai")), 1U) << out;
  EXPECT_EQ(testing::count_occurrences(out, offset_text("Europe/Berlin")), 1U) << "the section's zone, for cfo\n"
                                                                               << out;
  EXPECT_EQ(testing::count_occurrences(out, "客户 Acme Trading（erp_csv C-0042）处于红色预警"), 1U) << out;
  EXPECT_EQ(testing::count_occurrences(out, "Acme Trading (erp_csv C-0042) is red"), 2U) << out;
}

}  // namespace
}  // namespace crm::host
