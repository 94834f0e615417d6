#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert_engine.hpp"
#include "app/session.hpp"
#include "store/winback_read_repository.hpp"
#include "winback/campaigns.hpp"
#include "winback/lost_customers.hpp"

namespace crm::host {

// Customers below are named as find_customer reads them (store id or
// SOURCE:EXTERNAL_ID); an unknown one throws NotFound, a malformed one InvalidRequest.

// Who is lost as of the date (nullopt: today), reasons proposed, value and eligibility.
ChurnDetection detect_churn(Session& session, std::optional<std::int64_t> as_of_ms);
std::vector<LostCustomer> list_lost_customers(Session& session, bool eligible_only);
// The last answers of the 5 Why chains, the most customers first.
std::vector<RootCause> list_root_causes(Session& session);
// One lost customer; NotFound when the customer is not lost.
LostCustomer show_lost_customer(Session& session, const std::string& customer);
// Marks the customer lost on `churn_date_ms` (nullopt: now); returns the lost customer.
LostCustomer mark_lost(Session& session, const std::string& customer, std::optional<std::int64_t> churn_date_ms,
                       const std::string& note, const std::string& by);
// Confirms or changes a lost customer's reason; NotFound when the customer is not lost.
LostCustomer set_churn_reason(Session& session, const std::string& customer, const std::string& reason,
                              const std::string& note, const std::string& by);
// Adds one answer to the customer's 5 Why chain; NotFound when the customer is not lost.
LostCustomer add_churn_why(Session& session, const std::string& customer, const std::string& why);

std::vector<DoNotContactEntry> list_do_not_contact(Session& session);
// Both return the customer's store id; removing one not on the list throws NotFound.
std::int64_t add_do_not_contact(Session& session, const std::string& customer, const std::string& reason,
                                const std::string& by);
std::int64_t remove_do_not_contact(Session& session, const std::string& customer);

struct CampaignRunResult {
  CampaignPass pass;
  DeliveryCounts delivered;
  std::size_t refused = 0;  // channels refused
};

// Enrols eligible lost customers, advances due steps and delivers the messages,
// under the store's job lock. `as_of_ms` replays history on a clock that starts
// at that date (nullopt: now).
CampaignRunResult run_campaigns(Session& session, std::optional<std::int64_t> as_of_ms);

// A campaign beside what it achieved.
struct CampaignSummary {
  CampaignRow campaign;
  CampaignReport results;
};

std::vector<CampaignSummary> list_campaigns(Session& session);
// NotFound when there is no such campaign.
CampaignSummary campaign_status(Session& session, std::int64_t campaign_id);
CampaignReport campaign_report(Session& session, std::int64_t campaign_id);

// The owners' tasks the playbooks created, in `state` (open, done; "" for all).
std::vector<OwnerTask> list_tasks(Session& session, const std::string& state);
// NotFound when there is no such task.
void complete_task(Session& session, std::int64_t task_id, const std::string& outcome, const std::string& by);

// Campaigns run on the session's clock, or with an as-of date on one that
// starts at that date: a replay of history enrols, waits and measures on the
// dates it replays.
class CampaignClock {
 public:
  CampaignClock(const Clock& today, std::optional<std::int64_t> as_of_ms) : today_(today) {
    if (as_of_ms) {
      replay_.emplace(today, *as_of_ms);
    }
  }
  [[nodiscard]] const Clock& clock() const { return replay_ ? *replay_ : today_; }

 private:
  const Clock& today_;
  std::optional<ShiftedClock> replay_;
};

}  // namespace crm::host
