// Campaigns over a real store, the real alert_console channel and the outbox,
// on a clock the tests move: a simulated year whose true recovery effect is
// known and must fall in the report's interval; idempotent steps (a crash
// between send and mark, a re-run); caps, quiet hours, exit on conversion,
// exclusions, budgets, the holdout and the revival pool.
#include "winback/campaigns.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "alerts/alert_engine.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/text_files.hpp"
#include "winback/lost_customers.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kDay = 86'400'000;

class CampaignsTest : public ::testing::Test {
 protected:
  CampaignsTest() : dir_("campaigns"), store_(testing::store_locator(dir_ / "crm.db")) {
    fs::create_directories(dir_ / "out");
    test_.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", output().string()}}}}}});
    settings_.playbooks = {{"two_touches",
                            1,
                            {},
                            {},
                            {{.kind = "message", .channel = "alert_console", .text = "{name}: we miss you"},
                             {.kind = "wait", .days = 30},
                             {.kind = "branch", .condition = "replied", .goto_step = -1},
                             {.kind = "message", .channel = "alert_console", .text = "{name}: still here for you"},
                             {.kind = "end"}}}};
    settings_.mass_churn_count = 1'000'000;
    settings_.mass_churn_min_count = 1'000'000;  // these tests are about campaigns, not mass churn
  }

  fs::path output() { return dir_ / "out" / "messages.txt"; }
  std::int64_t now() { return test_.clock().now_ms(); }

  // A weekly buyer who stopped 100 days ago, with an e-mail address; `subject` an interaction.
  void lost_customer(std::int64_t id, const std::string& subject = "") {
    Database& db = store_.database();
    db.prepare("INSERT INTO customers(id, source, external_id, name) VALUES (?1, 'erp', ?2, ?3)")
        .bind(1, id)
        .bind(2, std::to_string(id))
        .bind(3, fmt::format("Customer {}", id))
        .run();
    db.prepare(
          "INSERT INTO contacts(source, external_id, customer_id, name, email, owner, is_key_contact) VALUES ('erp', "
          "?1, ?3, 'Buyer', ?2, 'am@example.test', 1)")
        .bind(1, std::to_string(id))
        .bind(2, fmt::format("buyer{}@example.test", id))
        .bind(3, id)
        .run();
    Statement order = db.prepare(
        "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', ?1, ?2, "
        "?3, 100, 'confirmed')");
    for (int day = 400; day >= 100; day -= 7) {
      order.bind(1, fmt::format("{}-{}", id, day)).bind(2, id).bind(3, now() - day * kDay).run();
    }
    if (!subject.empty()) {
      db.prepare(
            "INSERT INTO interactions(source, external_id, customer_id, occurred_at_ms, direction, subject) VALUES "
            "('mail', ?1, ?1, ?2, 'inbound', ?3)")
          .bind(1, id)
          .bind(2, now() - 110 * kDay)
          .bind(3, subject)
          .run();
    }
  }
  void order(std::int64_t customer, std::int64_t at_ms, double amount = 200) {
    store_.database()
        .prepare(
            "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', ?1, "
            "?2, ?3, ?4, 'confirmed')")
        .bind(1, fmt::format("back-{}-{}", customer, at_ms))
        .bind(2, customer)
        .bind(3, at_ms)
        .bind(4, amount)
        .run();
  }
  void detect() { LostCustomers(store_, nullptr, test_.logger(), test_.clock(), settings_).detect(now()); }
  CampaignEngine campaigns() { return CampaignEngine(store_, test_.logger(), test_.clock(), settings_); }
  AlertEngine delivery() { return AlertEngine(store_, test_.host(), test_.logger(), test_.clock(), {}, {}); }
  std::int64_t count(const std::string& sql) {
    Statement query = store_.database().prepare(sql);
    query.step();
    return query.column_int64(0);
  }
  std::size_t occurrences(const std::string& needle) {
    return testing::count_occurrences(testing::read_text(output()), needle);
  }

  testing::TempDir dir_;
  Store store_;
  testing::TestHost test_;
  WinbackSettings settings_;
};

// A year of simulated customers: 10 % come back by themselves within 90 days;
// a contacted customer who would not have also comes back with probability
// 0.20 within 10 days of the first message. The true uplift is 0.9 x 0.2 = 0.18.
TEST_F(CampaignsTest, ASimulatedYearRecoversTheKnownUpliftWithinTheReportsInterval) {
  constexpr int kCustomers = 3'000;
  constexpr double kBaseRate = 0.10;
  constexpr double kEffect = 0.20;
  constexpr double kTrueUplift = (1.0 - kBaseRate) * kEffect;
  for (int id = 1; id <= kCustomers; ++id) {
    lost_customer(id);
  }
  detect();
  std::mt19937_64 random(2026);
  std::bernoulli_distribution base(kBaseRate);
  std::bernoulli_distribution effect(kEffect);
  std::uniform_int_distribution<int> base_day(1, 90);
  std::uniform_int_distribution<int> effect_delay(1, 10);
  std::map<int, int> base_recovery_day;  // customer -> day
  std::set<int> responds;
  for (int id = 1; id <= kCustomers; ++id) {
    if (base(random)) {
      base_recovery_day[id] = base_day(random);
    }
    if (effect(random)) {
      responds.insert(id);
    }
  }
  CampaignEngine engine = campaigns();
  AlertEngine outbox = delivery();
  std::map<int, int> effect_recovery_day;
  std::set<int> ordered;
  for (int day = 0; day <= 365; ++day) {
    engine.run();
    outbox.deliver();
    // Who got a message today: the responders among them come back a few days later.
    Statement contacted =
        store_.database().prepare("SELECT notification FROM outbox WHERE state = 'sent' AND sent_ms = ?1");
    contacted.bind(1, now());
    std::set<int> contacted_today;
    while (contacted.step()) {
      contacted_today.insert(nlohmann::json::parse(contacted.column_text(0)).value("customer_id", 0));
    }
    for (const int id : contacted_today) {
      if (responds.count(id) != 0 && effect_recovery_day.count(id) == 0) {
        effect_recovery_day[id] = day + effect_delay(random);
      }
    }
    for (const auto* days : {&base_recovery_day, &effect_recovery_day}) {
      for (const auto& [id, when] : *days) {
        if (when == day && ordered.insert(id).second) {
          order(id, now());
        }
      }
    }
    test_.clock().advance_ms(kDay);
  }
  const auto rows = engine.list();
  ASSERT_EQ(rows.size(), 1U);
  const auto report = engine.report(rows[0].id);
  ASSERT_TRUE(report);
  std::cout << fmt::format(
      "simulated year: {} treated, {} held out; recovery {:.3f} vs {:.3f}; uplift {:.3f} [{:.3f}, "
      "{:.3f}], true {:.3f}\n",
      report->enrolled, report->holdout, report->recovery_rate, report->holdout_recovery_rate, report->uplift,
      report->uplift_low, report->uplift_high, kTrueUplift);
  EXPECT_EQ(report->enrolled + report->holdout, static_cast<std::size_t>(kCustomers));
  EXPECT_NEAR(static_cast<double>(report->holdout) / kCustomers, 0.10, 0.02);
  EXPECT_EQ(report->contacted, report->enrolled) << "every treated customer has an address";
  EXPECT_NEAR(report->holdout_recovery_rate, kBaseRate, 0.04);
  EXPECT_TRUE(report->uplift_measured);
  EXPECT_LE(report->uplift_low, kTrueUplift);
  EXPECT_GE(report->uplift_high, kTrueUplift);
  EXPECT_GT(report->uplift_low, 0.0) << "the effect is detected";
  EXPECT_LT(report->uplift_high - report->uplift_low, 0.12);
  EXPECT_GT(report->revenue_recovered, 0.0);
  std::set<std::int64_t> held_out;
  std::map<std::int64_t, std::int64_t> converted_ms;  // customer -> when the enrolment ended on an order
  Statement enrolments = store_.database().prepare("SELECT customer_id, holdout, state, ended_ms FROM enrolments");
  while (enrolments.step()) {
    if (enrolments.column_int64(1) == 1) {
      held_out.insert(enrolments.column_int64(0));
    }
    if (enrolments.column_text(2) == "converted") {
      converted_ms[enrolments.column_int64(0)] = enrolments.column_int64(3);
    }
  }
  int to_holdout = 0;
  int after_conversion = 0;
  Statement messages = store_.database().prepare("SELECT notification, created_ms FROM outbox");
  while (messages.step()) {
    const std::int64_t customer = nlohmann::json::parse(messages.column_text(0)).value("customer_id", 0);
    to_holdout += held_out.count(customer) != 0 ? 1 : 0;
    const auto converted = converted_ms.find(customer);
    after_conversion += converted != converted_ms.end() && messages.column_int64(1) > converted->second ? 1 : 0;
  }
  // The holdout received nothing.
  EXPECT_EQ(to_holdout, 0);
  // Converted customers stopped receiving: nobody got the second message after ordering.
  EXPECT_EQ(after_conversion, 0);
}

TEST_F(CampaignsTest, ACrashBetweenSendAndMarkAndAReRunSendNothingTwice) {
  lost_customer(1);
  detect();
  settings_.holdout_fraction = 0;
  CampaignEngine engine = campaigns();
  engine.run();
  ASSERT_EQ(count("SELECT count(*) FROM outbox"), 1);
  // The same run again, at the same time: every step is recorded, nothing is queued twice.
  engine.run();
  engine.advance();
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM enrolment_steps"), 2);  // the message and the wait
  // The channel got the message but the process died before marking it sent.
  AlertEngine first = delivery();
  const auto pending = first.outbox("pending");
  ASSERT_EQ(pending.size(), 1U);
  Statement row = store_.database().prepare("SELECT idempotency_key, notification FROM outbox");
  row.step();
  Notification notification;
  notification.idempotency_key = row.column_text(0);
  notification.title = nlohmann::json::parse(row.column_text(1))["title"];
  ASSERT_EQ(send_notification(*test_.host().find("alert_console"), notification).outcome, DeliveryOutcome::delivered);
  testing::TestHost restarted;
  restarted.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", output().string()}}}}}});
  AlertEngine after(store_, restarted.host(), restarted.logger(), test_.clock(), {}, {});
  EXPECT_EQ(after.deliver().delivered, 1U);
  EXPECT_EQ(occurrences("Customer 1: we miss you"), 1U);
}

// Two runs at once (a cron job and a person): the second one's view of an
// enrolment is stale by the time it gets the store, and the step it would
// execute is already recorded. Nothing of the step happens again: no task,
// no message, no spending.
TEST_F(CampaignsTest, AStepAnotherRunAlreadyRecordedDoesNothingAgain) {
  settings_.holdout_fraction = 0;
  settings_.playbooks[0].steps = {{.kind = "task", .text = "Call {name}"},
                                  {.kind = "offer", .channel = "alert_console", .text = "{name}: 50 off", .cost = 50},
                                  {.kind = "end"}};
  lost_customer(1);
  detect();
  CampaignEngine engine = campaigns();
  engine.enrol();
  // The other run recorded both steps (and did them) but has not moved the enrolment yet.
  store_.database().exec(
      "INSERT INTO enrolment_steps(enrolment_id, sequence, step_index, kind, executed_ms, outcome) VALUES (1, 1, 0, "
      "'task', 0, 'task for am@example.test')");
  EXPECT_EQ(engine.advance().steps, 0U);
  EXPECT_EQ(count("SELECT count(*) FROM tasks"), 0);
  store_.database().exec("UPDATE enrolments SET step_index = 1, steps_done = 1");
  store_.database().exec(
      "INSERT INTO enrolment_steps(enrolment_id, sequence, step_index, kind, executed_ms, outcome) VALUES (1, 2, 1, "
      "'offer', 0, 'offer of 50.00 sent')");
  EXPECT_EQ(engine.advance().steps, 0U);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM campaigns WHERE spent = 0"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE cost = 0 AND contacted = 0"), 1);
}

TEST_F(CampaignsTest, FrequencyAndChannelCapsDeferStepsWithoutSkippingThem) {
  settings_.holdout_fraction = 0;
  settings_.playbooks[0].steps = {{.kind = "message", .channel = "alert_console", .text = "{name}: first"},
                                  {.kind = "message", .channel = "alert_console", .text = "{name}: second"},
                                  {.kind = "end"}};
  settings_.min_days_between_contacts = 7;
  settings_.channel_daily_cap = 3;
  for (int id = 1; id <= 5; ++id) {
    lost_customer(id);
  }
  detect();
  CampaignEngine engine = campaigns();
  CampaignPass pass = engine.run();
  EXPECT_EQ(pass.messages, 3U);  // the channel's daily cap
  EXPECT_GE(pass.deferred, 2U);
  test_.clock().advance_ms(kDay);
  pass = engine.run();
  EXPECT_EQ(pass.messages, 2U);  // the two left from yesterday; the second messages wait 7 days
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%second%'"), 0);
  test_.clock().advance_ms(6 * kDay);
  EXPECT_EQ(engine.run().messages, 3U);  // a week after the first three
  test_.clock().advance_ms(kDay);
  EXPECT_EQ(engine.run().messages, 2U);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 10);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE state = 'completed'"), 5);
}

TEST_F(CampaignsTest, AReplayOfAnEarlierDayDoesNotCountALaterDaysMessagesAgainstItsCap) {
  settings_.holdout_fraction = 0;
  settings_.channel_daily_cap = 2;
  lost_customer(1);
  lost_customer(2);
  detect();
  // A replay of a later date already queued three messages of this channel.
  Statement queue = store_.database().prepare(
      "INSERT INTO outbox(alert_id, channel_id, idempotency_key, notification, state, next_attempt_ms, created_ms) "
      "VALUES (NULL, 'alert_console', ?1, '{}', 'sent', ?2, ?2)");
  for (int i = 1; i <= 3; ++i) {
    queue.bind(1, fmt::format("crm-winback-later-{}", i)).bind(2, now() + 30 * kDay).run();
  }
  EXPECT_EQ(campaigns().run().messages, 2U);  // today's cap is today's
}

TEST_F(CampaignsTest, QuietHoursHoldStepsAndReleaseThemWhenTheyEnd) {
  // 22:00-07:00 in UTC+8; the test clock starts at 22:13 local time.
  settings_.quiet_hours = {22 * 60, 7 * 60, 8 * 60, {}};
  settings_.holdout_fraction = 0;
  lost_customer(1);
  detect();
  CampaignEngine engine = campaigns();
  EXPECT_EQ(engine.run().messages, 0U);
  constexpr std::int64_t kHourMs = 3'600'000;
  constexpr std::int64_t kMinuteMs = 60'000;
  EXPECT_EQ(count("SELECT next_step_ms FROM enrolments"), now() + (8 * 60 + 47) * kMinuteMs - 20'000);  // 07:00
  test_.clock().advance_ms(4 * kHourMs);
  EXPECT_EQ(engine.run().messages, 0U);
  test_.clock().advance_ms(5 * kHourMs);
  EXPECT_EQ(engine.run().messages, 1U);
}

TEST_F(CampaignsTest, AnOrderEndsTheEnrolmentAndCancelsItsPendingSteps) {
  settings_.holdout_fraction = 0;
  lost_customer(1);
  lost_customer(2);
  detect();
  CampaignEngine engine = campaigns();
  engine.run();
  test_.clock().advance_ms(10 * kDay);
  order(1, now());
  test_.clock().advance_ms(21 * kDay);
  const CampaignPass pass = engine.run();
  EXPECT_EQ(pass.converted, 1U);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 1: still here%'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 2: still here%'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE customer_id = 1 AND state = 'converted'"), 1);
}

TEST_F(CampaignsTest, AReturnOrACancelledOrderIsNotOrderingAgainForTreatedOrControlCustomers) {
  settings_.holdout_fraction = 0;
  lost_customer(1);
  detect();
  CampaignEngine engine = campaigns();
  engine.run();
  settings_.holdout_fraction = 1.0;
  lost_customer(2);
  detect();
  CampaignEngine control = campaigns();
  EXPECT_EQ(control.run().holdout, 1U);
  test_.clock().advance_ms(10 * kDay);
  Database& db = store_.database();
  for (const std::int64_t customer : {1, 2}) {
    db.prepare(
          "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', "
          "?3, ?1, ?2, -150, 'confirmed'), ('erp', ?4, ?1, ?2, 400, 'cancelled')")
        .bind(1, customer)
        .bind(2, now() - 60'000)
        .bind(3, fmt::format("return-{}", customer))
        .bind(4, fmt::format("C-{}", customer))
        .run();
  }
  detect();
  EXPECT_EQ(count("SELECT count(*) FROM lost_customers WHERE recovered_ms IS NOT NULL"), 0);
  test_.clock().advance_ms(21 * kDay);
  const CampaignPass pass = engine.run();
  EXPECT_EQ(pass.converted, 0U);
  EXPECT_EQ(pass.control_closed, 0U);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE state = 'converted'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 1: still here%'"), 1);
  for (const CampaignRow& row : engine.list()) {
    const auto report = engine.report(row.id);
    ASSERT_TRUE(report);
    EXPECT_EQ(report->recovered + report->holdout_recovered, 0U) << "campaign " << row.id;
    EXPECT_EQ(report->revenue_recovered, 0.0);
  }
  // A real order (the playbook has ended by now) recovers the customer, and the report
  // counts its revenue alone, not net of the return.
  order(1, now() - 60'000, 200);
  detect();
  EXPECT_EQ(count("SELECT count(*) FROM lost_customers WHERE recovered_ms IS NOT NULL"), 1);
  std::size_t recovered = 0;
  double revenue = 0;
  for (const CampaignRow& row : engine.list()) {
    recovered += engine.report(row.id)->recovered;
    revenue += engine.report(row.id)->revenue_recovered;
  }
  EXPECT_EQ(recovered, 1U);
  EXPECT_EQ(revenue, 200.0);
}

TEST_F(CampaignsTest, ExclusionsDoNotContactOfferCapsAndBudgetsAreEnforcedAndExplained) {
  settings_.holdout_fraction = 0;
  settings_.playbooks[0].steps = {
      {.kind = "offer", .channel = "alert_console", .text = "{name}: {offer_cost} off", .cost = 400}, {.kind = "end"}};
  settings_.budget = 1'000;
  for (int id = 1; id <= 5; ++id) {
    lost_customer(id);
  }
  detect();
  // Customer 5's history is tiny: an offer of 400 is worth more than winning them back.
  store_.database().exec("UPDATE lost_customers SET expected_value = 50 WHERE customer_id = 5");
  CampaignEngine engine = campaigns();
  engine.add_do_not_contact(4, "asked not to be contacted (GDPR request)", "dpo");
  const CampaignPass pass = engine.run();
  EXPECT_EQ(pass.enrolled, 3U);
  EXPECT_EQ(pass.excluded, 1U);
  LostCustomers lost(store_, nullptr, test_.logger(), test_.clock(), settings_);
  EXPECT_EQ(lost.find(5)->exclusion, "offer cost 400.00 of playbook 'two_touches' exceeds the expected value 50.00");
  EXPECT_EQ(lost.find(4)->exclusion, "on the do-not-contact list");
  // A budget of 1,000 pays two offers of 400; the third is skipped and says why.
  EXPECT_EQ(pass.messages, 2U);
  EXPECT_EQ(count("SELECT count(*) FROM enrolment_steps WHERE outcome = 'skipped: campaign budget 1000.00 spent'"), 1);
  EXPECT_EQ(engine.list()[0].spent, 800.0);
  // A per-customer cap below the offer skips it for everyone.
  settings_.max_offer_cost = 300;
  settings_.playbooks[0].version = 2;
  store_.database().exec("UPDATE lost_customers SET churn_date_ms = churn_date_ms + 1");  // a new loss episode
  store_.database().exec("UPDATE enrolments SET enrolled_ms = 0");
  EXPECT_EQ(campaigns().run().messages, 0U);
  EXPECT_EQ(count("SELECT count(*) FROM enrolment_steps WHERE outcome LIKE 'skipped: offer of 400.00 over the "
                  "per-customer cap 300.00'"),
            3);
}

TEST_F(CampaignsTest, TheHoldoutIsDeterministicAndItsShareAsConfigured) {
  std::size_t held = 0;
  for (std::int64_t customer = 1; customer <= 100'000; ++customer) {
    const bool first = in_holdout(7, customer, 0.10);
    EXPECT_EQ(first, in_holdout(7, customer, 0.10));
    held += first ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(held) / 100'000.0, 0.10, 0.005);
  EXPECT_FALSE(in_holdout(7, 42, 0.0));
  EXPECT_TRUE(in_holdout(7, 42, 1.0));
}

TEST_F(CampaignsTest, TheRevivalPoolTouchesEverySixMonthsAndAtOnceOnANewNeed) {
  settings_.playbooks.clear();  // no playbook: every lost customer goes to the pool
  settings_.revival_channel = "alert_console";
  lost_customer(1);
  lost_customer(2);
  detect();
  CampaignEngine engine = campaigns();
  EXPECT_EQ(engine.run().revival_touches, 0U);
  EXPECT_EQ(count("SELECT count(*) FROM revival_pool"), 2);
  test_.clock().advance_ms(30 * kDay);
  store_.database()
      .prepare(
          "INSERT INTO activities(source, external_id, customer_id, occurred_at_ms, kind, detail) VALUES ('news', "
          "'n1', 2, ?1, 'new_need', 'announced a new production line')")
      .bind(1, now() - 3'600'000)
      .run();
  EXPECT_EQ(engine.run().revival_touches, 1U);  // customer 2's new need, at once
  EXPECT_EQ(engine.run().revival_touches, 0U);
  test_.clock().advance_ms(153 * kDay);         // 183 days after joining
  EXPECT_EQ(engine.run().revival_touches, 1U);  // customer 1's half-yearly touch
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE idempotency_key LIKE 'crm-revival-%'"), 2);
}

TEST_F(CampaignsTest, BranchesFollowRepliesAndABandBackAboveTheThreshold) {
  settings_.holdout_fraction = 0;
  settings_.playbooks[0].steps = {{.kind = "branch", .condition = "replied", .goto_step = 3},
                                  {.kind = "branch", .condition = "score_above", .band = "yellow", .goto_step = 4},
                                  {.kind = "end"},
                                  {.kind = "message", .channel = "alert_console", .text = "{name}: thanks for writing"},
                                  {.kind = "message", .channel = "alert_console", .text = "{name}: glad you are back"}};
  lost_customer(1);
  lost_customer(2);
  lost_customer(3);
  detect();
  CampaignEngine engine = campaigns();
  engine.enrol();
  test_.clock().advance_ms(60'000);
  // After enrolment: customer 1 writes back, customer 2 is scored green again, customer 3 red.
  Database& db = store_.database();
  db.prepare(
        "INSERT INTO interactions(source, external_id, customer_id, occurred_at_ms, direction, subject) VALUES "
        "('mail', 'r1', 1, ?1, 'inbound', 'Re: we miss you')")
      .bind(1, now())
      .run();
  db.prepare("INSERT INTO score_runs(id, as_of_ms, started_ms, finished_ms) VALUES (1, ?1, ?1, ?1)")
      .bind(1, now())
      .run();
  db.exec(
      "INSERT INTO customer_scores(run_id, customer_id, score, band) VALUES (1, 2, 85, 'green'), (1, 3, 55, 'red')");
  engine.run();
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 1: thanks for writing%'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 2: glad you are back%'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 3%'"), 0);  // still red: ends
}

TEST_F(CampaignsTest, TheControlGroupLeavesAfterItsWindowOrItsOrderAndJoinsTheRevivalPool) {
  settings_.holdout_fraction = 1.0;  // everyone is held out
  settings_.recovery_window_days = 90;
  settings_.revival_channel = "alert_console";
  lost_customer(1);
  lost_customer(2);
  detect();
  CampaignEngine engine = campaigns();
  EXPECT_EQ(engine.run().holdout, 2U);
  EXPECT_EQ(count("SELECT count(*) FROM revival_pool"), 0);  // measured: not touched at all
  test_.clock().advance_ms(10 * kDay);
  order(1, now() - 60'000);
  detect();  // customer 1 ordered again
  EXPECT_EQ(engine.run().control_closed, 1U);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE customer_id = 1 AND state = 'converted'"), 1);
  test_.clock().advance_ms(79 * kDay);  // day 89 of the window
  EXPECT_EQ(engine.run().control_closed, 0U);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE state = 'holdout'"), 1);
  test_.clock().advance_ms(kDay);  // day 90: the window ends
  const CampaignPass pass = engine.run();
  EXPECT_EQ(pass.control_closed, 1U);
  EXPECT_EQ(count("SELECT count(*) FROM enrolments WHERE customer_id = 2 AND state = 'completed' AND exit_reason = "
                  "'control window ended'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM revival_pool WHERE customer_id = 2"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM revival_pool WHERE customer_id = 1"), 0);  // back: nothing to revive
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);  // nothing was ever sent to the control group
  EXPECT_EQ(engine.report(1)->holdout, 2U);            // and the report still counts both
  EXPECT_EQ(engine.report(1)->holdout_recovered, 1U);
  EXPECT_FALSE(engine.report(1)->uplift_measured);  // nobody treated: nothing to compare
}

TEST_F(CampaignsTest, ATaskDoneBranchWaitsForTheOwnerToCloseTheEnrolmentsTasks) {
  settings_.holdout_fraction = 0;
  settings_.playbooks[0].steps = {
      {.kind = "task", .text = "Senior dialogue with {name}", .owner = "@account_manager", .days = 2},
      {.kind = "wait", .days = 3},
      {.kind = "branch", .condition = "task_done", .goto_step = 4},
      {.kind = "end"},
      {.kind = "message", .channel = "alert_console", .text = "{name}: as discussed on the phone"}};
  lost_customer(1);
  lost_customer(2);
  detect();
  CampaignEngine engine = campaigns();
  EXPECT_EQ(engine.run().tasks, 2U);
  std::int64_t task_of_1 = 0;
  {
    Statement query = store_.database().prepare("SELECT id, owner, title FROM tasks WHERE customer_id = 1");
    ASSERT_TRUE(query.step());
    task_of_1 = query.column_int64(0);
    EXPECT_EQ(query.column_text(1), "am@example.test");
    EXPECT_EQ(query.column_text(2), "Senior dialogue with Customer 1");
  }
  EXPECT_TRUE(engine.complete_task(task_of_1, "called; they will order in May", "alice"));
  EXPECT_FALSE(engine.complete_task(999'999, "no such task", "alice"));
  test_.clock().advance_ms(3 * kDay);
  engine.run();
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 1: as discussed on the phone%'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE notification LIKE '%Customer 2%'"), 0);  // task still open: end
  EXPECT_EQ(count("SELECT count(*) FROM tasks WHERE state = 'done' AND done_by = 'alice' AND outcome = 'called; they "
                  "will order in May'"),
            1);
}

}  // namespace
}  // namespace crm::host
