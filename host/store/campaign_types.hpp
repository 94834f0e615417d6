#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace crm::host {

// customers.id -> the id of the customer it was unified into (itself when
// none). Win-back works on unified customers while orders, contacts and
// interactions name store rows; the repositories that read those rows take
// the mapping from their caller.
using UnifiedCustomerOf = std::function<std::int64_t(std::int64_t)>;

// What the steps of a campaign need to know about the enrolled customers.
// Steps do not change these (they queue messages and create tasks, whose
// counts the engine keeps here as it goes), so a run reads them once for all
// its passes. Customers are unified ids.
struct CampaignFacts {
  std::unordered_map<std::int64_t, std::int64_t> last_order_ms;    // since the earliest enrolment
  std::unordered_map<std::int64_t, std::int64_t> last_inbound_ms;  // interactions from the customer
  std::unordered_map<std::int64_t, int> open_complaints;
  std::unordered_map<std::int64_t, std::string> band;  // of the latest scoring run
  std::unordered_map<std::int64_t, std::string> email;
  std::unordered_map<std::int64_t, std::string> account_manager;
  std::unordered_set<std::int64_t> do_not_contact;
  std::unordered_set<std::int64_t> recovered;  // churn detection saw them order again
  struct Lost {
    std::string name;
    std::string reason;
    double expected_value = 0;
    std::int64_t churn_date_ms = 0;
  };
  std::unordered_map<std::int64_t, Lost> lost;       // of the active enrolments
  std::unordered_map<std::int64_t, int> open_tasks;  // enrolment -> tasks not done yet
  std::unordered_map<std::int64_t, int> tasks_done;  // enrolment -> tasks done
};

// A campaign as its steps need it: the playbook version it runs (as stored,
// JSON) and its money.
struct StoredCampaign {
  std::int64_t id = 0;
  std::string playbook_id;
  std::string playbook_json;
  double budget = 0;  // 0: none
  double spent = 0;
};

// A new campaign: one per playbook version.
struct NewCampaign {
  std::string playbook_id;
  int playbook_version = 0;
  std::string playbook_json;
  double holdout_fraction = 0;
  double budget = 0;
  std::int64_t recovery_window_days = 0;
  std::int64_t created_ms = 0;
};

// One line of the campaign list.
struct CampaignListing {
  std::int64_t id = 0;
  std::string playbook_id;
  int playbook_version = 0;
  double budget = 0;
  double spent = 0;
};

// What a campaign report starts from.
struct CampaignHeader {
  std::string playbook_id;
  std::int64_t playbook_version = 0;
  std::int64_t recovery_window_days = 0;
};

// A purchase (store row's customer, not unified), for a campaign report.
struct ReportPurchase {
  std::int64_t customer_id = 0;
  std::int64_t ordered_at_ms = 0;
  double amount = 0;
};

// An eligible lost customer in no active enrolment, not enrolled since the loss began.
struct EnrolmentCandidate {
  std::int64_t customer_id = 0;
  std::string reason;  // "other" when unknown
  double expected_value = 0;
};

// An active enrolment whose next step is due.
struct DueEnrolment {
  std::int64_t id = 0;
  std::int64_t campaign_id = 0;
  std::int64_t customer_id = 0;
  int step_index = 0;
  std::int64_t steps_done = 0;
  std::int64_t enrolled_ms = 0;
  std::int64_t last_contact_ms = 0;  // 0: never contacted
};

// One executed step, stored under the enrolment's sequence number.
struct ExecutedStep {
  std::int64_t enrolment_id = 0;
  std::int64_t sequence = 0;
  std::int64_t step_index = 0;
  std::string kind;
  std::int64_t executed_ms = 0;
  std::string outcome;
};

// Where an enrolment goes after a step.
struct EnrolmentMove {
  std::int64_t enrolment_id = 0;
  std::int64_t next_step_index = 0;
  std::int64_t next_step_ms = 0;
  std::string state;        // "active" or where it ended
  std::int64_t now_ms = 0;  // its end when not active, its last contact when `contacted`
  std::string exit_reason;
  bool contacted = false;
  double cost = 0;  // added to what the enrolment cost so far
};

// An enrolment of a campaign, for its report.
struct EnrolmentMember {
  std::int64_t customer_id = 0;
  std::int64_t enrolled_ms = 0;
  bool holdout = false;
  bool contacted = false;
  double cost = 0;
};

// A task a playbook gives someone.
struct NewTask {
  std::int64_t enrolment_id = 0;
  std::int64_t customer_id = 0;
  std::string owner;
  std::string title;
  std::int64_t created_ms = 0;
  std::int64_t due_ms = 0;
};

// A customer of the revival pool who is not on the do-not-contact list.
struct RevivalMember {
  std::int64_t customer_id = 0;
  std::int64_t joined_ms = 0;
  std::int64_t last_touch_ms = 0;  // 0: never touched
  std::int64_t touches = 0;
  std::string name;
  std::string email;  // of the key contact still there, else of the first
};

}  // namespace crm::host
