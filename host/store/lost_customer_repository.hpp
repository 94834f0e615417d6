#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One lost customer as stored, with the customer's name.
struct LostCustomer {
  std::int64_t customer_id = 0;
  std::string name;
  std::int64_t churn_date_ms = 0;
  std::string method;
  std::string evidence;
  std::string reason;
  std::string reason_source;
  std::string reason_evidence;
  std::string reason_note;
  std::vector<std::string> why_chain;
  double expected_value = 0;
  std::string abc_class;
  bool eligible = false;
  std::string exclusion;
  std::optional<std::int64_t> recovered_ms;
};

// A lost customer not recovered, as detection and assessment start from.
struct OpenLoss {
  std::int64_t customer_id = 0;
  std::int64_t churn_date_ms = 0;
  std::string reason;         // "" none yet
  std::string reason_source;  // "rule", "person" or ""
};

struct DetectedLoss {
  std::int64_t customer_id = 0;
  std::int64_t churn_date_ms = 0;
  std::int64_t detected_ms = 0;
  std::string_view method;
  std::string evidence_json;
};

// What the assessment decided about one lost customer.
struct LossAssessment {
  std::int64_t customer_id = 0;
  std::string reason;
  std::string_view reason_source;              // "rule" or "person"
  std::optional<std::string> reason_evidence;  // nullopt keeps the stored one
  double expected_value = 0;
  std::string abc_class;
  bool eligible = false;
  std::string exclusion;
};

// A mass-churn event as stored after an upsert.
struct MassChurnEvent {
  std::int64_t id = 0;
  bool alerted = false;  // a strategic alert was raised for it already
};

// The last "why" of a customer's 5 Why chain.
struct WhyChainEnd {
  std::int64_t customer_id = 0;
  std::string last_why;
  std::string reason;  // "other" when none
  double expected_value = 0;
};

// Lost customers, their reasons, 5 Why chains and mass-churn events
// (lost_customers, mass_churn_events), and the do-not-contact list as win-back
// reads it. Borrows the connection; statements used once per customer are
// prepared once per repository. The caller owns transactions.
class LostCustomerRepository {
 public:
  explicit LostCustomerRepository(Database& db) : db_(db) {}

  std::vector<OpenLoss> open_losses();
  // Records a newly detected loss (a customer lost before is lost again: its
  // rule-made reason is cleared, a person's kept).
  void record_detected(const DetectedLoss& loss);
  void mark_recovered(std::int64_t customer_id, std::int64_t recovered_ms);
  // An explicit mark by a person (`crmhost churn mark`).
  void record_mark(std::int64_t customer_id, std::int64_t churn_date_ms, std::int64_t detected_ms,
                   const std::string& evidence_json);

  void save_assessment(const LossAssessment& assessment);
  // Inserts or updates the event of `reason` in the period.
  MassChurnEvent upsert_mass_churn_event(const std::string& reason, std::int64_t period_start_ms,
                                         std::int64_t lost_count, double rate);
  void exclude_for_mass_churn(std::int64_t customer_id, std::int64_t event_id, const std::string& exclusion);
  void set_mass_churn_alert(std::int64_t event_id, std::int64_t alert_id);
  std::size_t count_eligible();

  // A person's reason. `exclusion` is "" when the reason is pursued: then the
  // customer becomes eligible unless excluded by mass churn or do-not-contact.
  // False when the customer is not lost.
  bool set_reason_by_person(std::int64_t customer_id, const std::string& reason, const std::string& note,
                            const std::string& by, const std::string& exclusion);
  // Appends to the customer's 5 Why chain; false when the customer is not lost.
  bool append_why(std::int64_t customer_id, const std::string& why);
  // The end of every non-empty 5 Why chain, by customer.
  std::vector<WhyChainEnd> why_chain_ends();

  // Lost customers by id; only the eligible and not recovered when `eligible_only`.
  std::vector<LostCustomer> list(bool eligible_only, std::optional<std::int64_t> customer_id);

  std::set<std::int64_t> do_not_contact_ids();

 private:
  Database& db_;
  std::optional<Statement> record_detected_;
  std::optional<Statement> mark_recovered_;
  std::optional<Statement> save_assessment_;
  std::optional<Statement> upsert_event_;
  std::optional<Statement> exclude_;
};

}  // namespace crm::host
