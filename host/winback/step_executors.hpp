#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/campaign_types.hpp"
#include "winback/contact_policy.hpp"
#include "winback/winback_settings.hpp"

namespace crm::host {

// A campaign as its steps see it: the playbook version it runs and its money.
struct CampaignPlan {
  std::string playbook_id;
  std::vector<PlaybookStep> steps;
  double budget = 0;  // 0: none
  double spent = 0;
};

// Everything one step of one enrolment decides by. Borrowed for the call.
struct StepContext {
  const DueEnrolment& enrolment;
  const CampaignPlan& campaign;
  const CampaignFacts& facts;
  const ContactPolicy& policy;
  const std::vector<std::string>& band_order;  // best first, for `score_above`
  // Messages of the campaigns queued today on each channel.
  const std::map<std::string, std::int64_t>& sent_today;
  std::int64_t now_ms = 0;
};

// A message or offer to queue (the engine wraps it in the outbox's envelope).
struct StepMessage {
  std::string channel;
  std::string event;  // the step's kind
  std::string text;
  std::vector<std::string> recipients;
};

// A task to give someone.
struct StepTask {
  std::string owner;
  std::string title;
  std::int64_t due_ms = 0;
};

// What a step decided; the engine claims the step (records `kind` and
// `outcome` under the enrolment's next sequence number) and only then queues
// the message, creates the task, spends the cost and moves the enrolment.
struct StepResult {
  // Set: a contact rule holds the step; nothing is claimed or done, and the
  // enrolment's next step waits until then.
  std::optional<std::int64_t> deferred_until_ms;
  std::string kind;  // "end" past the last step
  std::string outcome = "done";
  int next_step_index = 0;
  std::int64_t next_step_ms = 0;
  std::string state = "active";  // "completed" when the playbook is finished
  std::string exit_reason;
  double cost = 0;  // of an offer sent
  std::optional<StepMessage> message;
  std::optional<StepTask> task;
};

// One executor per step kind: each decides over the context alone and
// touches nothing. The result goes on to the next step (`next_step_index`
// may be past the end: execute_step() then completes the enrolment).
StepResult execute_message(const PlaybookStep& step, const StepContext& context);
StepResult execute_offer(const PlaybookStep& step, const StepContext& context);
StepResult execute_task(const PlaybookStep& step, const StepContext& context);
StepResult execute_wait(const PlaybookStep& step, const StepContext& context);
StepResult execute_branch(const PlaybookStep& step, const StepContext& context);
StepResult execute_end(const PlaybookStep& step, const StepContext& context);

// The enrolment's current step by the executor of its kind; an enrolment past
// its last step, or sent past it, completes ("playbook finished").
StepResult execute_step(const StepContext& context);

// Whether a branch's condition holds for the enrolment.
bool branch_condition_holds(const PlaybookStep& step, const StepContext& context);

// Why an enrolment ends before its step, if it does.
struct EnrolmentExit {
  std::string state;  // "exited" or "converted"
  std::string reason;
};
// On the do-not-contact list: exited; ordered since enrolment (or recovered by
// churn detection): converted, which cancels every pending step.
std::optional<EnrolmentExit> exit_before_step(const CampaignFacts& facts, const DueEnrolment& enrolment);

// `text` with every "{name}" of `variables` replaced by its value.
std::string render_template(std::string text, const std::map<std::string, std::string>& variables);

}  // namespace crm::host
