#include "store/customer_history_repository.hpp"

#include "store/purchases.hpp"

namespace crm::host {

RowScan<CustomerIdentityRow> CustomerHistoryRepository::scan_customers() {
  return {db_.prepare("SELECT id, coalesce(unified_id, id), coalesce(industry, '') FROM customers"),
          [](const Statement& row, CustomerIdentityRow& out) {
            out.id = row.column_int64(0);
            out.unified_id = row.column_int64(1);
            out.industry = row.column_view(2);
          }};
}

RowScan<CustomerLinkRow> CustomerHistoryRepository::scan_unified_links() {
  return {db_.prepare("SELECT id, unified_id FROM customers WHERE unified_id IS NOT NULL AND unified_id != id"),
          [](const Statement& row, CustomerLinkRow& out) {
            out.id = row.column_int64(0);
            out.unified_id = row.column_int64(1);
          }};
}

RowScan<PurchaseRow> CustomerHistoryRepository::scan_purchases_before(std::int64_t before_ms, std::int64_t first_row,
                                                                      std::int64_t end_row) {
  Statement query = db_.prepare(
      "SELECT customer_id, ordered_at_ms, coalesce(amount, 0) FROM orders WHERE customer_id >= ?2 AND customer_id < ?3 "
      "AND ordered_at_ms < ?1 AND " +
      purchase_condition());
  query.bind(1, before_ms).bind(2, first_row).bind(3, end_row);
  return {std::move(query), [](const Statement& row, PurchaseRow& out) {
            out.customer_id = row.column_int64(0);
            out.ordered_at_ms = row.column_int64(1);
            out.amount = row.column_double(2);
          }};
}

RowScan<PurchaseRow> CustomerHistoryRepository::scan_purchases_in_time_order_before(std::int64_t before_ms) {
  // The primary key breaks ties of the same millisecond, so every backend reads the same order.
  Statement query = db_.prepare(
      "SELECT customer_id, ordered_at_ms, coalesce(amount, 0), coalesce(product_line, '') FROM orders WHERE "
      "customer_id IS NOT NULL AND ordered_at_ms < ?1 AND " +
      purchase_condition() + " ORDER BY ordered_at_ms, source, external_id");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, PurchaseRow& out) {
            out.customer_id = row.column_int64(0);
            out.ordered_at_ms = row.column_int64(1);
            out.amount = row.column_double(2);
            out.product_line = row.column_view(3);
          }};
}

RowScan<CustomerIdRow> CustomerHistoryRepository::scan_unified_purchasers_between(std::int64_t from_ms,
                                                                                  std::int64_t to_ms) {
  Statement query = db_.prepare(
      "SELECT DISTINCT coalesce(c.unified_id, c.id) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE "
      "o.ordered_at_ms >= ?1 AND o.ordered_at_ms < ?2 AND " +
      purchase_condition("o"));
  query.bind(1, from_ms).bind(2, to_ms);
  return {std::move(query), [](const Statement& row, CustomerIdRow& out) { out.customer_id = row.column_int64(0); }};
}

RowScan<ActivityRow> CustomerHistoryRepository::scan_activities_before(std::int64_t before_ms) {
  Statement query =
      db_.prepare("SELECT customer_id, occurred_at_ms, coalesce(kind, '') FROM activities WHERE occurred_at_ms < ?1");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, ActivityRow& out) {
            out.customer_id = row.column_int64(0);
            out.occurred_at_ms = row.column_int64(1);
            out.kind = row.column_view(2);
          }};
}

RowScan<ActivityRow> CustomerHistoryRepository::scan_owners_left_before(std::int64_t before_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, occurred_at_ms, coalesce(detail, '') FROM activities WHERE customer_id IS NOT NULL AND "
      "kind = 'owner_left' AND occurred_at_ms < ?1");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, ActivityRow& out) {
            out.customer_id = row.column_int64(0);
            out.occurred_at_ms = row.column_int64(1);
            out.kind = "owner_left";
            out.detail = row.column_view(2);
          }};
}

RowScan<CustomerIdRow> CustomerHistoryRepository::scan_contacts_left_between(std::int64_t from_ms, std::int64_t to_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id FROM contacts WHERE left_at_ms IS NOT NULL AND left_at_ms < ?1 AND left_at_ms >= ?2");
  query.bind(1, to_ms).bind(2, from_ms);
  return {std::move(query), [](const Statement& row, CustomerIdRow& out) { out.customer_id = row.column_int64(0); }};
}

RowScan<TicketRow> CustomerHistoryRepository::scan_complaint_tickets_before(std::int64_t before_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, opened_at_ms FROM tickets WHERE opened_at_ms < ?1 AND "
      "(is_complaint = 1 OR lower(coalesce(category, '')) = 'complaint')");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, TicketRow& out) {
            out.customer_id = row.column_int64(0);
            out.opened_at_ms = row.column_int64(1);
          }};
}

RowScan<TicketRow> CustomerHistoryRepository::scan_open_complaints_at(std::int64_t at_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, opened_at_ms FROM tickets WHERE customer_id IS NOT NULL AND coalesce(is_complaint, 0) = 1 "
      "AND opened_at_ms < ?1 AND (resolved_at_ms IS NULL OR resolved_at_ms >= ?1)");
  query.bind(1, at_ms);
  return {std::move(query), [](const Statement& row, TicketRow& out) {
            out.customer_id = row.column_int64(0);
            out.opened_at_ms = row.column_int64(1);
          }};
}

RowScan<InteractionRow> CustomerHistoryRepository::scan_interactions_before(std::int64_t before_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, occurred_at_ms, coalesce(direction, ''), coalesce(is_complaint, 0) FROM interactions "
      "WHERE occurred_at_ms < ?1");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, InteractionRow& out) {
            out.customer_id = row.column_int64(0);
            out.occurred_at_ms = row.column_int64(1);
            out.direction = row.column_view(2);
            out.is_complaint = row.column_int64(3) != 0;
          }};
}

RowScan<InteractionTextRow> CustomerHistoryRepository::scan_interaction_texts_before(std::int64_t before_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, coalesce(subject, '') || ' ' || coalesce(keywords, '') FROM interactions WHERE "
      "customer_id IS NOT NULL AND occurred_at_ms < ?1");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, InteractionTextRow& out) {
            out.customer_id = row.column_int64(0);
            out.text = row.column_view(1);
          }};
}

RowScan<SurveyRow> CustomerHistoryRepository::scan_surveys_before(std::int64_t before_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, answered_at_ms, kind, score FROM surveys WHERE answered_at_ms < ?1 AND score IS NOT NULL "
      "ORDER BY answered_at_ms, id");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, SurveyRow& out) {
            out.customer_id = row.column_int64(0);
            out.answered_at_ms = row.column_int64(1);
            out.kind = row.column_view(2);
            out.score = row.column_double(3);
          }};
}

RowScan<PaymentRow> CustomerHistoryRepository::scan_payments_due_between(std::int64_t from_ms, std::int64_t to_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, due_at_ms, paid_at_ms FROM payments WHERE due_at_ms IS NOT NULL AND due_at_ms < ?1 AND "
      "due_at_ms >= ?2");
  query.bind(1, to_ms).bind(2, from_ms);
  return {std::move(query), [](const Statement& row, PaymentRow& out) {
            out.customer_id = row.column_int64(0);
            out.due_at_ms = row.column_int64(1);
            out.paid_at_ms = row.column_is_null(2) ? std::nullopt : std::optional<std::int64_t>(row.column_int64(2));
          }};
}

RowScan<AttributeRow> CustomerHistoryRepository::scan_value_attributes() {
  return {db_.prepare("SELECT customer_id, name, coalesce(value, '') FROM customer_attributes WHERE name IN "
                      "('share_of_wallet', 'strategic_value')"),
          [](const Statement& row, AttributeRow& out) {
            out.customer_id = row.column_int64(0);
            out.name = row.column_view(1);
            out.value = row.column_view(2);
          }};
}

RowScan<AttributeRow> CustomerHistoryRepository::scan_churn_attributes() {
  return {db_.prepare("SELECT customer_id, lower(name), coalesce(value, '') FROM customer_attributes WHERE "
                      "customer_id IS NOT NULL AND lower(name) IN ('contract_end', 'churned')"),
          [](const Statement& row, AttributeRow& out) {
            out.customer_id = row.column_int64(0);
            out.name = row.column_view(1);
            out.value = row.column_view(2);
          }};
}

RowScan<AttributeRow> CustomerHistoryRepository::scan_attributes_named(const std::vector<std::string>& names) {
  std::string placeholders;
  for (std::size_t k = 0; k < names.size(); ++k) {
    placeholders += (k == 0 ? "?" : ", ?") + std::to_string(k + 1);
  }
  if (names.empty()) {
    placeholders = "NULL";  // matches nothing
  }
  Statement query = db_.prepare(
      "SELECT customer_id, name, coalesce(value, '') FROM customer_attributes WHERE customer_id IS NOT NULL AND "
      "name IN (" +
      placeholders + ") ORDER BY customer_id, name, id");
  for (std::size_t k = 0; k < names.size(); ++k) {
    query.bind(static_cast<int>(k + 1), std::string_view(names[k]));
  }
  return {std::move(query), [](const Statement& row, AttributeRow& out) {
            out.customer_id = row.column_int64(0);
            out.name = row.column_view(1);
            out.value = row.column_view(2);
          }};
}

RowScan<LabelAttributeRow> CustomerHistoryRepository::scan_label_attribute(std::string_view name) {
  Statement query = db_.prepare(
      "SELECT coalesce(c.unified_id, c.id), c.external_id, coalesce(a.value, '') FROM customer_attributes a JOIN "
      "customers c ON c.id = a.customer_id WHERE a.name = ?1 ORDER BY coalesce(c.unified_id, c.id), c.id, a.id");
  query.bind(1, name);
  return {std::move(query), [](const Statement& row, LabelAttributeRow& out) {
            out.unified_id = row.column_int64(0);
            out.external_id = row.column_view(1);
            out.value = row.column_view(2);
          }};
}

}  // namespace crm::host
