#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"
#include "store/row_scan.hpp"

namespace crm::host {

// Plain rows of the scans below. Text fields are views valid until the scan's
// next row (copy what you keep). A NULL customer id reads as 0, which names no
// customer (customers.id starts at 1).

struct CustomerIdentityRow {
  std::int64_t id = 0;
  std::int64_t unified_id = 0;  // the customer itself when not unified into another
  std::string_view industry;    // "" unknown
};

// A customer row unified into another one (id != unified_id).
struct CustomerLinkRow {
  std::int64_t id = 0;
  std::int64_t unified_id = 0;
};

struct CustomerIdRow {
  std::int64_t customer_id = 0;
};

struct PurchaseRow {
  std::int64_t customer_id = 0;
  std::int64_t ordered_at_ms = 0;
  double amount = 0;              // 0 when unknown
  std::string_view product_line;  // "" unknown, and in scans that do not read it
};

struct ActivityRow {
  std::int64_t customer_id = 0;
  std::int64_t occurred_at_ms = 0;
  std::string_view kind;    // "" unknown
  std::string_view detail;  // "" unknown, and in scans that do not read it
};

struct InteractionRow {
  std::int64_t customer_id = 0;
  std::int64_t occurred_at_ms = 0;
  std::string_view direction;  // "inbound", "outbound" or ""
  bool is_complaint = false;
};

// An interaction's words: "<subject> <keywords>".
struct InteractionTextRow {
  std::int64_t customer_id = 0;
  std::string_view text;
};

struct TicketRow {
  std::int64_t customer_id = 0;
  std::int64_t opened_at_ms = 0;
};

struct SurveyRow {
  std::int64_t customer_id = 0;
  std::int64_t answered_at_ms = 0;
  std::string_view kind;  // "csat" or "nps"
  double score = 0;
};

struct PaymentRow {
  std::int64_t customer_id = 0;
  std::int64_t due_at_ms = 0;
  std::optional<std::int64_t> paid_at_ms;
};

struct AttributeRow {
  std::int64_t customer_id = 0;
  std::string_view name;
  std::string_view value;  // "" when NULL
};

// One customer's value of a label attribute (e.g. "churned"), with the
// unified customer and the id its connector knows the customer by.
struct LabelAttributeRow {
  std::int64_t unified_id = 0;
  std::string_view external_id;
  std::string_view value;  // "" when NULL
};

// A customer's history "as of a date": every read of the records connectors
// wrote (customers, orders, activities, contacts, tickets, interactions,
// surveys, payments, attributes) for features, churn labels and churn
// detection. Each scan is one query over one table that streams its rows;
// scans "before" a date read nothing dated at or after it (no look-ahead).
// Orders are filtered to purchases (store/purchases.hpp) everywhere.
// Borrows the connection; a scan must not outlive it.
class CustomerHistoryRepository {
 public:
  explicit CustomerHistoryRepository(Database& db) : db_(db) {}

  // Every customer row, in no particular order.
  RowScan<CustomerIdentityRow> scan_customers();
  // The customer rows unified into another one.
  RowScan<CustomerLinkRow> scan_unified_links();

  // Purchases before the date of customer rows first_row <= customer_id <
  // end_row (a range of orders_by_customer, so that connections can split the
  // scan; orders without a customer are never read), in no particular order
  // (no product line).
  RowScan<PurchaseRow> scan_purchases_before(std::int64_t before_ms, std::int64_t first_row, std::int64_t end_row);
  // Purchases of known customers before the date, oldest first, with the product line.
  RowScan<PurchaseRow> scan_purchases_in_time_order_before(std::int64_t before_ms);
  // The unified customers who bought in [from_ms, to_ms), each once.
  RowScan<CustomerIdRow> scan_unified_purchasers_between(std::int64_t from_ms, std::int64_t to_ms);

  // Activities before the date (no detail).
  RowScan<ActivityRow> scan_activities_before(std::int64_t before_ms);
  // "owner_left" activities of known customers before the date, with their detail.
  RowScan<ActivityRow> scan_owners_left_before(std::int64_t before_ms);
  // Customers of each contact that left in [from_ms, to_ms) (one row per contact).
  RowScan<CustomerIdRow> scan_contacts_left_between(std::int64_t from_ms, std::int64_t to_ms);

  // Complaint tickets (flagged, or of category "complaint" in any case) opened before the date.
  RowScan<TicketRow> scan_complaint_tickets_before(std::int64_t before_ms);
  // Flagged complaint tickets of known customers opened before the date and not resolved by then.
  RowScan<TicketRow> scan_open_complaints_at(std::int64_t at_ms);

  // Interactions before the date.
  RowScan<InteractionRow> scan_interactions_before(std::int64_t before_ms);
  // The words of known customers' interactions before the date.
  RowScan<InteractionTextRow> scan_interaction_texts_before(std::int64_t before_ms);

  // Scored surveys answered before the date, oldest first.
  RowScan<SurveyRow> scan_surveys_before(std::int64_t before_ms);
  // Payments due in [from_ms, to_ms).
  RowScan<PaymentRow> scan_payments_due_between(std::int64_t from_ms, std::int64_t to_ms);

  // The undated attributes "share_of_wallet" and "strategic_value" (names as written).
  RowScan<AttributeRow> scan_value_attributes();
  // The attributes "contract_end" and "churned" (names in any case, read in lower case) of known customers.
  RowScan<AttributeRow> scan_churn_attributes();
  // The attributes of known customers whose name is one of `names` (as written), by customer, name and id.
  RowScan<AttributeRow> scan_attributes_named(const std::vector<std::string>& names);
  // The attribute `name` (as written) of every known customer, by unified customer, customer and attribute id.
  RowScan<LabelAttributeRow> scan_label_attribute(std::string_view name);

 private:
  Database& db_;
};

}  // namespace crm::host
