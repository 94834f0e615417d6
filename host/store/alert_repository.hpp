#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One alert as listed to people.
struct AlertRow {
  std::int64_t id = 0;
  std::int64_t customer_id = 0;
  std::string reason;
  std::string level;
  std::string state;
  std::string title;
  std::int64_t opened_ms = 0;
  std::int64_t deadline_ms = 0;
  int escalation_level = 0;
  std::string acked_by;
  std::int64_t acked_ms = 0;
  std::string resolved_by;
  std::string resolution_note;
  std::string ack_note;          // what the person who acknowledged wrote ("" : nothing)
  std::int64_t resolved_ms = 0;  // 0: not resolved
};

// A customer's alert that is not resolved, identified by (customer, reason).
struct ActiveAlert {
  std::int64_t id = 0;
  std::int64_t customer_id = 0;
  std::string reason;
  std::string level;
  std::int64_t last_notified_ms = 0;  // 0: never
  std::string labels_json;            // "{}" when none
};

// A customer's result in one scoring run, with what routes match on.
struct ScoredCustomer {
  std::int64_t customer_id = 0;
  std::string band;
  std::string reasons;  // the run's reason codes, as stored
  std::string tier;     // "" when unknown, as the three below
  double score = 0;
  std::string abc_class;
  std::string stage;
  std::string industry;
};

struct NewAlert {
  std::int64_t customer_id = 0;  // 0: about no one customer
  std::string reason;
  std::string level;
  std::string title;
  std::string detail;
  std::int64_t opened_ms = 0;
  std::int64_t deadline_ms = 0;
  std::string labels_json;  // "": none stored
};

// An alert that is due for escalation or a reminder, with what its notification needs.
struct AlertToNotify {
  std::int64_t id = 0;
  std::int64_t customer_id = 0;
  std::string reason;
  std::string level;
  std::string title;
  std::string detail;
  std::string labels_json;      // "{}" when none
  bool first_response = false;  // of a reminder: the first response (else the closed loop) is late
};

// The alerts table: alerts open, change level, escalate, remind, are
// acknowledged and resolved. Holds prepared statements on `db`, which must
// outlive it; the caller owns transactions.
class AlertRepository {
 public:
  explicit AlertRepository(Database& db) : db_(db) {}

  // Customer alerts (customer_id != 0) not resolved, by customer and reason.
  std::vector<ActiveAlert> active_customer_alerts();
  // customer id -> the owner of its key contact (else of any current contact).
  std::map<std::int64_t, std::string> account_managers();
  // Customers of run `run_id` that have a band, by customer id.
  std::vector<ScoredCustomer> scored_customers(std::int64_t run_id);

  // Returns the new alert's id.
  std::int64_t open(const NewAlert& alert);
  void change_level(std::int64_t alert_id, const std::string& level, std::int64_t deadline_ms, std::int64_t now_ms);
  void touch(std::int64_t alert_id, std::int64_t now_ms);
  void mark_notified(std::int64_t alert_id, std::int64_t now_ms);
  // Resolved by the host: the condition ended.
  void resolve_ended(std::int64_t alert_id, std::int64_t now_ms);

  // The open (not resolved) alert about no one customer with this reason.
  std::optional<std::int64_t> open_system_alert(const std::string& reason);
  void update_detail(std::int64_t alert_id, const std::string& detail, std::int64_t now_ms);

  // Open alerts whose deadline has passed, by id.
  std::vector<AlertToNotify> overdue(std::int64_t now_ms);
  void escalate(std::int64_t alert_id, const std::string& level, std::int64_t deadline_ms, std::int64_t now_ms);
  // Alerts owed their one reminder: open without a first response within
  // first_response_ms, or acknowledged and not closed within close_loop_ms; by id.
  std::vector<AlertToNotify> late(std::int64_t first_response_ms, std::int64_t close_loop_ms, std::int64_t now_ms);
  void mark_reminded(std::int64_t alert_id, bool first_response, std::int64_t now_ms);

  // False when the alert is not open (acknowledge) or already resolved (resolve).
  bool acknowledge(std::int64_t alert_id, const std::string& by, std::int64_t now_ms, const std::string& note = {});
  bool resolve(std::int64_t alert_id, const std::string& by, const std::string& note, std::int64_t now_ms);

  // All alerts, or those in `state` ("" for all), by id.
  std::vector<AlertRow> list(const std::string& state);
  // One alert by id, or nullopt.
  std::optional<AlertRow> find(std::int64_t alert_id);
  // Milliseconds from opening to acknowledgement of acknowledged alerts, ascending.
  std::vector<double> times_to_acknowledge_ms();

 private:
  Statement& statement(std::optional<Statement>& slot, std::string_view sql);

  Database& db_;
  std::optional<Statement> change_level_;
  std::optional<Statement> touch_;
  std::optional<Statement> mark_notified_;
  std::optional<Statement> open_;
  std::optional<Statement> resolve_ended_;
};

}  // namespace crm::host
