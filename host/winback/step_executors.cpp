#include "winback/step_executors.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "core/dates.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

// The next step, now: what a step that neither waits nor jumps leaves behind.
StepResult next_of(const PlaybookStep& step, const StepContext& context) {
  StepResult result;
  result.kind = step.kind;
  result.next_step_index = context.enrolment.step_index + 1;
  result.next_step_ms = context.now_ms;
  return result;
}

std::string account_manager_of(const StepContext& context) {
  const auto manager = context.facts.account_manager.find(context.enrolment.customer_id);
  return manager == context.facts.account_manager.end() ? std::string() : manager->second;
}

const CampaignFacts::Lost& lost_of(const StepContext& context) {
  static const CampaignFacts::Lost kUnknown;
  const auto found = context.facts.lost.find(context.enrolment.customer_id);
  return found == context.facts.lost.end() ? kUnknown : found->second;
}

// The template variables of the steps that write text.
std::map<std::string, std::string> variables_of(const PlaybookStep& step, const StepContext& context) {
  const std::int64_t customer = context.enrolment.customer_id;
  const CampaignFacts::Lost& who = lost_of(context);
  return {{"name", who.name.empty() ? fmt::format("customer {}", customer) : who.name},
          {"customer_id", std::to_string(customer)},
          {"reason", who.reason},
          {"owner", account_manager_of(context)},
          {"expected_value", fmt::format("{:.2f}", who.expected_value)},
          {"offer_cost", fmt::format("{:.2f}", step.cost)},
          {"churn_date", utc_date_text(who.churn_date_ms)}};
}

// "@customer" is the key contact's address, "@account_manager" the customer's
// owner; either may be missing. Anything else is an address.
std::vector<std::string> recipients_of(const PlaybookStep& step, const StepContext& context) {
  std::vector<std::string> recipients;
  for (const std::string& recipient :
       step.recipients.empty() ? std::vector<std::string>{"@customer"} : step.recipients) {
    if (recipient == "@customer") {
      if (const auto email = context.facts.email.find(context.enrolment.customer_id);
          email != context.facts.email.end()) {
        recipients.push_back(email->second);
      }
    } else if (recipient == "@account_manager") {
      if (std::string manager = account_manager_of(context); !manager.empty()) {
        recipients.push_back(std::move(manager));
      }
    } else {
      recipients.push_back(recipient);
    }
  }
  return recipients;
}

// A message or an offer: held by the contact rules, else skipped (an offer
// refused, nobody to send to) or queued.
StepResult contact(const PlaybookStep& step, const StepContext& context, bool is_offer) {
  StepResult result = next_of(step, context);
  const auto sent = context.sent_today.find(step.channel);
  result.deferred_until_ms = context.policy.defer_until(context.enrolment.last_contact_ms,
                                                        sent == context.sent_today.end() ? 0 : sent->second);
  if (result.deferred_until_ms) {
    return result;
  }
  std::optional<std::string> skipped;
  if (is_offer) {
    skipped = context.policy.refuse_offer(step.cost, lost_of(context).expected_value, context.campaign.budget,
                                          context.campaign.spent);
  }
  std::vector<std::string> recipients = recipients_of(step, context);
  if (!skipped && recipients.empty()) {
    skipped = "no address for the customer";
  }
  if (skipped) {
    result.outcome = "skipped: " + *skipped;
    return result;
  }
  if (is_offer) {
    result.cost = step.cost;
    result.outcome = fmt::format("offer of {:.2f} sent", result.cost);
  }
  result.message = StepMessage{step.channel, step.kind, render_template(step.text, variables_of(step, context)),
                               std::move(recipients)};
  return result;
}

}  // namespace

std::string render_template(std::string text, const std::map<std::string, std::string>& variables) {
  for (const auto& [name, value] : variables) {
    const std::string placeholder = "{" + name + "}";
    for (std::size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return text;
}

StepResult execute_message(const PlaybookStep& step, const StepContext& context) {
  return contact(step, context, false);
}

StepResult execute_offer(const PlaybookStep& step, const StepContext& context) {
  return contact(step, context, true);
}

StepResult execute_task(const PlaybookStep& step, const StepContext& context) {
  StepResult result = next_of(step, context);
  std::string owner = step.owner.empty() || step.owner == "@account_manager" ? account_manager_of(context) : step.owner;
  if (owner.empty()) {
    owner = "unassigned";
  }
  result.outcome = "task for " + owner;
  result.task = StepTask{owner, render_template(step.text, variables_of(step, context)),
                         context.now_ms + static_cast<std::int64_t>(std::max(1.0, step.days) * kDayMs)};
  return result;
}

StepResult execute_wait(const PlaybookStep& step, const StepContext& context) {
  StepResult result = next_of(step, context);
  result.next_step_ms = context.now_ms + static_cast<std::int64_t>(step.days * kDayMs);
  return result;
}

bool branch_condition_holds(const PlaybookStep& step, const StepContext& context) {
  const CampaignFacts& facts = context.facts;
  const DueEnrolment& enrolment = context.enrolment;
  const std::int64_t customer = enrolment.customer_id;
  if (step.condition == "ordered_again") {
    const auto order = facts.last_order_ms.find(customer);
    return order != facts.last_order_ms.end() && order->second >= enrolment.enrolled_ms;
  }
  if (step.condition == "replied") {
    const auto reply = facts.last_inbound_ms.find(customer);
    return reply != facts.last_inbound_ms.end() && reply->second >= enrolment.enrolled_ms;
  }
  if (step.condition == "ticket_resolved") {
    const auto open = facts.open_complaints.find(customer);
    return open == facts.open_complaints.end() || open->second == 0;
  }
  if (step.condition == "task_done") {
    // The owner closed every task this enrolment gave them (`crmhost campaigns done`).
    const auto open = facts.open_tasks.find(enrolment.id);
    return facts.tasks_done.count(enrolment.id) != 0 && (open == facts.open_tasks.end() || open->second == 0);
  }
  if (step.condition == "score_above") {
    const auto band = facts.band.find(customer);
    const auto rank = [&](const std::string& name) {
      return std::find(context.band_order.begin(), context.band_order.end(), name) - context.band_order.begin();
    };
    return band != facts.band.end() && rank(band->second) <= rank(step.band);  // that band or better
  }
  return false;
}

StepResult execute_branch(const PlaybookStep& step, const StepContext& context) {
  StepResult result = next_of(step, context);
  const bool holds = branch_condition_holds(step, context);
  result.outcome = holds ? "condition held" : "condition did not hold";
  if (holds) {
    result.next_step_index = step.goto_step;
  }
  return result;
}

StepResult execute_end(const PlaybookStep& step, const StepContext& context) {
  StepResult result = next_of(step, context);
  result.next_step_index = -1;
  return result;
}

StepResult execute_step(const StepContext& context) {
  const std::vector<PlaybookStep>& steps = context.campaign.steps;
  const auto last = static_cast<int>(steps.size());
  const int index = context.enrolment.step_index;
  StepResult result;
  if (index >= last) {  // the playbook was shortened under it, or it was left there
    result.kind = "end";
    result.next_step_index = index + 1;
    result.next_step_ms = context.now_ms;
    result.state = "completed";
    result.exit_reason = "playbook finished";
    return result;
  }
  const PlaybookStep& step = steps[static_cast<std::size_t>(index)];
  if (step.kind == "message") {
    result = execute_message(step, context);
  } else if (step.kind == "offer") {
    result = execute_offer(step, context);
  } else if (step.kind == "task") {
    result = execute_task(step, context);
  } else if (step.kind == "wait") {
    result = execute_wait(step, context);
  } else if (step.kind == "branch") {
    result = execute_branch(step, context);
  } else {
    result = execute_end(step, context);
  }
  if (!result.deferred_until_ms && (result.next_step_index < 0 || result.next_step_index >= last)) {
    result.state = "completed";
    result.exit_reason = "playbook finished";
    result.next_step_index = last;
  }
  return result;
}

std::optional<EnrolmentExit> exit_before_step(const CampaignFacts& facts, const DueEnrolment& enrolment) {
  const std::int64_t customer = enrolment.customer_id;
  if (ContactPolicy::forbids(facts, customer)) {
    return EnrolmentExit{"exited", "do not contact"};
  }
  const auto order = facts.last_order_ms.find(customer);
  if (facts.recovered.count(customer) != 0 ||
      (order != facts.last_order_ms.end() && order->second >= enrolment.enrolled_ms)) {
    return EnrolmentExit{"converted", "ordered again"};
  }
  return std::nullopt;
}

}  // namespace crm::host
