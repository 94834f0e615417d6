#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "store/store.hpp"
#include "winback/winback_settings.hpp"

namespace crm::host {

struct CampaignFacts;

struct CampaignPass {
  std::size_t enrolled = 0;
  std::size_t holdout = 0;
  std::size_t excluded = 0;  // at enrolment: offer cost over the customer's value, do not contact
  std::size_t steps = 0;     // steps executed
  std::size_t messages = 0;  // of which messages and offers queued in the outbox
  std::size_t tasks = 0;
  std::size_t deferred = 0;  // held by a frequency cap or quiet hours (never skipped)
  std::size_t converted = 0;
  std::size_t completed = 0;
  std::size_t revival_touches = 0;
  std::size_t control_closed = 0;  // holdout enrolments whose window ended or who ordered again
};

struct CampaignRow {
  std::int64_t id = 0;
  std::string playbook_id;
  int playbook_version = 0;
  double budget = 0;
  double spent = 0;
  std::map<std::string, std::size_t> enrolments_by_state;
};

// What a campaign did, measured against its holdout group.
struct CampaignReport {
  std::int64_t campaign_id = 0;
  std::string playbook;
  std::size_t enrolled = 0;  // treatment group
  std::size_t holdout = 0;
  std::size_t contacted = 0;
  std::size_t recovered = 0;          // treatment customers who ordered again within the window
  std::size_t holdout_recovered = 0;  // the same in the holdout
  double recovery_rate = 0;
  double holdout_recovery_rate = 0;
  // Without a customer on both sides there is nothing to compare: no uplift.
  bool uplift_measured = false;
  double uplift = 0;  // recovery_rate - holdout_recovery_rate
  double uplift_low = 0;
  double uplift_high = 0;  // 95 % interval (normal approximation of the difference of two proportions)
  double cost = 0;
  double revenue_recovered = 0;
  double benefit_cost_ratio = 0;  // revenue recovered x margin / cost (0 when nothing was spent)
};

// Works eligible lost customers through playbooks (domain.md section 6):
// one campaign per playbook version, a deterministic holdout by hashing the
// customer id, steps that are idempotent (each executed step is stored with
// its sequence number in the transaction that queues its message, so a crash
// or a re-run never executes it twice; the message itself goes through the
// outbox and its idempotency key), frequency caps and quiet hours that defer
// (never skip), a do-not-contact list, exit on conversion, budgets and offer
// caps, and the revival pool.
class CampaignEngine {
 public:
  CampaignEngine(Store& store, Logger& logger, const Clock& clock, WinbackSettings settings);

  // Enrols eligible lost customers in no active enrolment into the campaign of
  // the first playbook that fits their reason and tier.
  CampaignPass enrol();
  // Executes at most one step of every enrolment that is due; returns what it did.
  CampaignPass advance();
  // enrol, close the control groups whose window ended, then advance until
  // nothing more is due now (reading the customers' facts once); then the
  // revival pool.
  CampaignPass run();
  // Marks a task the playbooks created done, with what came of it; false when
  // there is no such task. A playbook's `task_done` branch reads it.
  bool complete_task(std::int64_t task_id, const std::string& outcome, const std::string& by);

  void add_do_not_contact(std::int64_t customer_id, const std::string& reason, const std::string& by);
  bool remove_do_not_contact(std::int64_t customer_id);

  std::vector<CampaignRow> list();
  std::optional<CampaignReport> report(std::int64_t campaign_id);

 private:
  std::int64_t campaign_for(const Playbook& playbook);
  // One pass; `facts_of_run` is read when first needed and kept for the next passes.
  CampaignPass advance(std::optional<CampaignFacts>& facts_of_run);
  std::size_t convert_recovered(std::string_view state, std::string_view exit_reason);
  std::size_t close_control_group();
  CampaignPass touch_revival_pool();

  Store& store_;
  Logger& logger_;
  const Clock& clock_;
  WinbackSettings settings_;
};

// The holdout decision: the same customer of the same campaign always lands
// on the same side; `fraction` of customers land in the holdout.
bool in_holdout(std::int64_t campaign_id, std::int64_t customer_id, double fraction);

}  // namespace crm::host
