#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// What one customer bought: purchases only (store/purchases.hpp), of every
// record unified into the customer.
struct OrderSummary {
  std::int64_t orders = 0;
  std::optional<std::int64_t> first_order_ms;
  std::optional<std::int64_t> last_order_ms;
  double revenue_total = 0;
  double revenue_last_12_months = 0;
  std::string currency;  // "" when the orders name none or several
  bool mixed_currencies = false;
};

struct TicketLine {
  std::string source;
  std::string external_id;
  std::optional<std::int64_t> opened_at_ms;
  std::optional<std::int64_t> first_response_at_ms;
  std::optional<std::int64_t> resolved_at_ms;
  std::string category;
  std::string subject;
  bool is_complaint = false;
};

struct SurveyLine {
  std::string source;
  std::string external_id;
  std::optional<std::int64_t> answered_at_ms;
  std::string kind;  // csat or nps
  std::optional<double> score;
};

// One entry of a customer's history, of any kind, for a timeline.
struct HistoryEvent {
  std::int64_t at_ms = 0;
  std::string kind;  // order, ticket, survey, interaction, activity, follow_up
  std::string source;
  std::string external_id;
  std::string summary;  // one line, in plain words
};

struct CustomerAlertLine {
  std::int64_t id = 0;
  std::string reason;
  std::string level;
  std::string state;
  std::string title;
  std::int64_t opened_ms = 0;
  std::optional<std::int64_t> deadline_ms;
  std::string acked_by;
  std::string resolved_by;
};

// A customer's enrolment in a win-back campaign.
struct EnrolmentLine {
  std::int64_t id = 0;
  std::int64_t campaign_id = 0;
  std::string playbook;
  std::string state;
  bool holdout = false;
  std::int64_t step_index = 0;
  std::int64_t steps_done = 0;
  std::int64_t next_step_ms = 0;
  std::int64_t enrolled_ms = 0;
  std::string exit_reason;
};

struct DoNotContactLine {
  std::string reason;
  std::string added_by;
  std::int64_t added_ms = 0;
};

// The per-customer reads of the customer 360 view. Each read takes the
// unified customer's id and reaches the records unified into it through
// customers(unified_id) and the customer indexes of schema migration 8, so
// every one is an index lookup however large the store. Owns no state beyond
// the Database, which must outlive it.
class CustomerDetailRepository {
 public:
  explicit CustomerDetailRepository(Database& db) : db_(db) {}

  // Purchases; `last_12_months_from_ms` starts the recent window (its end is open).
  OrderSummary order_summary(std::int64_t customer_id, std::int64_t last_12_months_from_ms);
  std::vector<TicketLine> recent_tickets(std::int64_t customer_id, std::size_t limit);
  std::vector<SurveyLine> recent_surveys(std::int64_t customer_id, std::size_t limit);
  // The newest `limit` of orders, interactions and activities each (tickets and
  // surveys come from their own reads), newest first within each kind.
  std::vector<HistoryEvent> recent_orders(std::int64_t customer_id, std::size_t limit);
  // Interactions; those stored by `follow_up_source` are follow-ups.
  std::vector<HistoryEvent> recent_interactions(std::int64_t customer_id, std::size_t limit,
                                                const std::string& follow_up_source);
  std::vector<HistoryEvent> recent_activities(std::int64_t customer_id, std::size_t limit);
  // Every alert not resolved, then the newest resolved ones, at most `limit` in all.
  std::vector<CustomerAlertLine> alerts(std::int64_t customer_id, std::size_t limit);
  std::vector<EnrolmentLine> enrolments(std::int64_t customer_id);
  std::optional<DoNotContactLine> do_not_contact(std::int64_t customer_id);

  // Stores an outbound interaction made by a person (a follow-up) under
  // (source, external_id) for the customers row `customer_id`. False when that
  // id is taken.
  bool insert_follow_up(std::string_view source, std::string_view external_id, std::int64_t customer_id,
                        std::int64_t at_ms, std::string_view channel, std::string_view note, std::string_view by);

 private:
  Database& db_;
};

// The SQL selecting the customers rows unified into the customer named by
// parameter ?1 (the unified one included), for `customer_id IN (...)`: two
// index lookups, where coalesce(unified_id, id) = ?1 would read every customer.
extern const char* const kUnifiedRecordIds;

}  // namespace crm::host
