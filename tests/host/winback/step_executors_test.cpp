// One executor per playbook step kind, over plain facts and no store: what a
// message, an offer, a task, a wait, a branch and an end decide (the text,
// the recipients, the cost, the next step and when), and when an enrolment
// leaves before its step.
#include "winback/step_executors.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kNow = 19'358 * kDay + 12 * 3'600'000;  // 2023-01-01 12:00 UTC
constexpr std::int64_t kCustomer = 42;
constexpr std::int64_t kEnrolment = 7;

class StepExecutors : public ::testing::Test {
 protected:
  StepExecutors() {
    settings_.min_days_between_contacts = 7;
    enrolment_ = {kEnrolment, 1, kCustomer, 0, 0, kNow - 10 * kDay, 0};
    facts_.email[kCustomer] = "buyer@example.test";
    facts_.account_manager[kCustomer] = "am@example.test";
    facts_.lost[kCustomer] = {"Acme", "left_dissatisfied", 120, 19'000 * kDay};
  }

  // Runs the enrolment's current step (step_index) of `steps`.
  StepResult run(std::vector<PlaybookStep> steps) {
    campaign_.playbook_id = "test";
    campaign_.steps = std::move(steps);
    const ContactPolicy policy(settings_, kNow);
    return execute_step({enrolment_, campaign_, facts_, policy, settings_.band_order, sent_today_, kNow});
  }

  WinbackSettings settings_;
  DueEnrolment enrolment_;
  CampaignPlan campaign_;
  CampaignFacts facts_;
  std::map<std::string, std::int64_t> sent_today_;
};

TEST_F(StepExecutors, AMessageRendersItsTemplateForTheCustomersKeyContactAndGoesOnAtOnce) {
  const StepResult result =
      run({{.kind = "message",
            .channel = "mail",
            .text = "{name} ({customer_id}), {reason} since {churn_date}: worth {expected_value}. {owner}\nmore"},
           {.kind = "end"}});
  EXPECT_FALSE(result.deferred_until_ms);
  ASSERT_TRUE(result.message);
  EXPECT_EQ(result.message->channel, "mail");
  EXPECT_EQ(result.message->event, "message");
  EXPECT_EQ(result.message->text, "Acme (42), left_dissatisfied since 2022-01-08: worth 120.00. am@example.test\nmore");
  EXPECT_EQ(result.message->recipients, std::vector<std::string>{"buyer@example.test"});
  EXPECT_EQ(result.kind, "message");
  EXPECT_EQ(result.outcome, "done");
  EXPECT_EQ(result.next_step_index, 1);
  EXPECT_EQ(result.next_step_ms, kNow);
  EXPECT_EQ(result.state, "active");
  EXPECT_EQ(result.cost, 0);
  EXPECT_FALSE(result.task);
}

TEST_F(StepExecutors, AMessageResolvesEveryRecipientKindAndSkipsWhenNobodyIsLeft) {
  StepResult result = run({{.kind = "message",
                            .channel = "mail",
                            .text = "hi",
                            .recipients = {"@account_manager", "@customer", "boss@example.test"}}});
  ASSERT_TRUE(result.message);
  EXPECT_EQ(result.message->recipients,
            (std::vector<std::string>{"am@example.test", "buyer@example.test", "boss@example.test"}));

  facts_.email.clear();
  result = run({{.kind = "message", .channel = "mail", .text = "hi"}, {.kind = "end"}});
  EXPECT_FALSE(result.message);
  EXPECT_EQ(result.outcome, "skipped: no address for the customer");
  EXPECT_EQ(result.next_step_index, 1);  // a skipped step is done: on to the next
}

TEST_F(StepExecutors, AMessageTooSoonAfterTheLastContactIsDeferredNotSkipped) {
  enrolment_.last_contact_ms = kNow - 2 * kDay;
  const StepResult result = run({{.kind = "message", .channel = "mail", .text = "hi"}, {.kind = "end"}});
  EXPECT_EQ(result.deferred_until_ms, kNow + 5 * kDay);
  EXPECT_FALSE(result.message);
  EXPECT_EQ(result.state, "active");
}

TEST_F(StepExecutors, TheDailyCapCountsTheStepsOwnChannel) {
  settings_.channel_daily_cap = 3;
  sent_today_ = {{"sms", 3}, {"mail", 2}};
  EXPECT_FALSE(run({{.kind = "message", .channel = "mail", .text = "hi"}}).deferred_until_ms);
  EXPECT_EQ(run({{.kind = "message", .channel = "sms", .text = "hi"}}).deferred_until_ms, 19'359 * kDay);
}

TEST_F(StepExecutors, AnOfferWithinTheCapsIsSentAndCostsItsPrice) {
  campaign_.budget = 100;
  campaign_.spent = 40;
  const StepResult result =
      run({{.kind = "offer", .channel = "mail", .text = "{offer_cost} off for {name}", .cost = 60}, {.kind = "end"}});
  ASSERT_TRUE(result.message);
  EXPECT_EQ(result.message->event, "offer");
  EXPECT_EQ(result.message->text, "60.00 off for Acme");
  EXPECT_EQ(result.cost, 60);
  EXPECT_EQ(result.outcome, "offer of 60.00 sent");
}

TEST_F(StepExecutors, AnOfferOverTheBudgetOrWithoutAnAddressIsSkippedAndCostsNothing) {
  campaign_.budget = 100;
  campaign_.spent = 50;
  StepResult result = run({{.kind = "offer", .channel = "mail", .text = "x", .cost = 60}, {.kind = "end"}});
  EXPECT_FALSE(result.message);
  EXPECT_EQ(result.cost, 0);
  EXPECT_EQ(result.outcome, "skipped: campaign budget 100.00 spent");
  EXPECT_EQ(result.next_step_index, 1);

  campaign_.budget = 0;
  facts_.email.clear();
  result = run({{.kind = "offer", .channel = "mail", .text = "x", .cost = 60}});
  EXPECT_EQ(result.outcome, "skipped: no address for the customer");
  EXPECT_EQ(result.state, "completed");  // it was the last step
}

TEST_F(StepExecutors, ATaskGoesToTheAccountManagerOrANamedOwnerDueInAtLeastADay) {
  StepResult result = run({{.kind = "task", .text = "Call {name}", .days = 0.25}, {.kind = "end"}});
  ASSERT_TRUE(result.task);
  EXPECT_EQ(result.task->owner, "am@example.test");
  EXPECT_EQ(result.task->title, "Call Acme");
  EXPECT_EQ(result.task->due_ms, kNow + kDay);
  EXPECT_EQ(result.outcome, "task for am@example.test");
  EXPECT_FALSE(result.message);

  result = run({{.kind = "task", .text = "Analyse", .owner = "analyst", .days = 5}});
  EXPECT_EQ(result.task->owner, "analyst");
  EXPECT_EQ(result.task->due_ms, kNow + 5 * kDay);

  facts_.account_manager.clear();
  result = run({{.kind = "task", .text = "Call", .owner = "@account_manager"}});
  EXPECT_EQ(result.task->owner, "unassigned");
  EXPECT_EQ(result.outcome, "task for unassigned");
}

TEST_F(StepExecutors, AWaitPutsTheNextStepItsDaysAhead) {
  const StepResult result = run({{.kind = "wait", .days = 30}, {.kind = "end"}});
  EXPECT_EQ(result.next_step_index, 1);
  EXPECT_EQ(result.next_step_ms, kNow + 30 * kDay);
  EXPECT_EQ(result.outcome, "done");
  EXPECT_EQ(result.state, "active");
}

TEST_F(StepExecutors, ABranchJumpsWhenItsConditionHoldsAndGoesOnWhenNot) {
  const std::vector<PlaybookStep> steps = {{.kind = "branch", .condition = "replied", .goto_step = 2},
                                           {.kind = "message", .channel = "mail", .text = "x"},
                                           {.kind = "end"}};
  StepResult result = run(steps);
  EXPECT_EQ(result.outcome, "condition did not hold");
  EXPECT_EQ(result.next_step_index, 1);
  facts_.last_inbound_ms[kCustomer] = kNow - 20 * kDay;  // before the enrolment: not a reply
  EXPECT_EQ(run(steps).next_step_index, 1);
  facts_.last_inbound_ms[kCustomer] = kNow - kDay;
  result = run(steps);
  EXPECT_EQ(result.outcome, "condition held");
  EXPECT_EQ(result.next_step_index, 2);
  EXPECT_EQ(result.state, "active");
}

TEST_F(StepExecutors, ABranchToMinusOneEndsThePlaybook) {
  facts_.last_order_ms[kCustomer] = kNow;
  const StepResult result =
      run({{.kind = "branch", .condition = "ordered_again", .goto_step = -1}, {.kind = "wait", .days = 1}});
  EXPECT_EQ(result.state, "completed");
  EXPECT_EQ(result.exit_reason, "playbook finished");
  EXPECT_EQ(result.next_step_index, 2);
}

TEST_F(StepExecutors, BranchConditionsReadTheirFacts) {
  const ContactPolicy policy(settings_, kNow);
  const auto holds = [&](const PlaybookStep& step) {
    return branch_condition_holds(step,
                                  {enrolment_, campaign_, facts_, policy, settings_.band_order, sent_today_, kNow});
  };
  const PlaybookStep ticket{.kind = "branch", .condition = "ticket_resolved"};
  EXPECT_TRUE(holds(ticket));
  facts_.open_complaints[kCustomer] = 1;
  EXPECT_FALSE(holds(ticket));
  facts_.open_complaints[kCustomer] = 0;
  EXPECT_TRUE(holds(ticket));

  const PlaybookStep task_done{.kind = "branch", .condition = "task_done"};
  EXPECT_FALSE(holds(task_done));  // no task yet
  facts_.open_tasks[kEnrolment] = 1;
  facts_.tasks_done[kEnrolment] = 1;
  EXPECT_FALSE(holds(task_done));
  facts_.open_tasks[kEnrolment] = 0;
  EXPECT_TRUE(holds(task_done));

  const PlaybookStep yellow_or_better{.kind = "branch", .condition = "score_above", .band = "yellow"};
  EXPECT_FALSE(holds(yellow_or_better));  // no band
  facts_.band[kCustomer] = "orange";
  EXPECT_FALSE(holds(yellow_or_better));
  facts_.band[kCustomer] = "yellow";
  EXPECT_TRUE(holds(yellow_or_better));
  facts_.band[kCustomer] = "green";
  EXPECT_TRUE(holds(yellow_or_better));

  EXPECT_FALSE(holds({.kind = "branch", .condition = "unknown"}));
}

TEST_F(StepExecutors, AnEndOrAnEnrolmentPastItsLastStepCompletes) {
  StepResult result = run({{.kind = "end"}, {.kind = "message", .channel = "mail", .text = "x"}});
  EXPECT_EQ(result.kind, "end");
  EXPECT_EQ(result.state, "completed");
  EXPECT_EQ(result.next_step_index, 2);
  EXPECT_FALSE(result.message);

  enrolment_.step_index = 3;  // the playbook has fewer steps than the enrolment did
  result = run({{.kind = "wait", .days = 1}});
  EXPECT_EQ(result.kind, "end");
  EXPECT_EQ(result.state, "completed");
  EXPECT_EQ(result.exit_reason, "playbook finished");
  EXPECT_EQ(result.next_step_index, 4);
}

TEST_F(StepExecutors, DoNotContactExitsAndAnOrderSinceEnrolmentConverts) {
  EXPECT_FALSE(exit_before_step(facts_, enrolment_));
  facts_.last_order_ms[kCustomer] = enrolment_.enrolled_ms - 1;  // before the enrolment
  EXPECT_FALSE(exit_before_step(facts_, enrolment_));
  facts_.last_order_ms[kCustomer] = enrolment_.enrolled_ms;
  auto leaving = exit_before_step(facts_, enrolment_);
  ASSERT_TRUE(leaving);
  EXPECT_EQ(leaving->state, "converted");
  EXPECT_EQ(leaving->reason, "ordered again");

  facts_.last_order_ms.clear();
  facts_.recovered.insert(kCustomer);  // churn detection saw the order
  EXPECT_EQ(exit_before_step(facts_, enrolment_)->state, "converted");

  facts_.do_not_contact.insert(kCustomer);  // before anything else
  leaving = exit_before_step(facts_, enrolment_);
  EXPECT_EQ(leaving->state, "exited");
  EXPECT_EQ(leaving->reason, "do not contact");
}

TEST(RenderTemplate, ReplacesEveryOccurrenceOnceAndLeavesUnknownNamesAlone) {
  EXPECT_EQ(render_template("{a}+{a}", {{"a", "{a}{a}"}}), "{a}{a}+{a}{a}");  // a value naming itself ends
  EXPECT_EQ(render_template("{name}: {unknown}", {{"name", "Acme"}}), "Acme: {unknown}");
}

}  // namespace
}  // namespace crm::host
