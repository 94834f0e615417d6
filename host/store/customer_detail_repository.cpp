#include "store/customer_detail_repository.hpp"

#include <fmt/format.h>

#include "store/purchases.hpp"

namespace crm::host {

const char* const kUnifiedRecordIds =
    "SELECT id FROM customers WHERE unified_id = ?1 UNION ALL SELECT id FROM customers WHERE id = ?1 AND unified_id "
    "IS NULL";

namespace {

std::string text_or_empty(const Statement& row, int column) {
  return row.column_is_null(column) ? std::string() : row.column_text(column);
}

std::optional<std::int64_t> optional_int64(const Statement& row, int column) {
  return row.column_is_null(column) ? std::nullopt : std::optional<std::int64_t>(row.column_int64(column));
}

std::optional<double> optional_double(const Statement& row, int column) {
  return row.column_is_null(column) ? std::nullopt : std::optional<double>(row.column_double(column));
}

std::string amount_text(const Statement& row, int amount_column, int currency_column) {
  if (row.column_is_null(amount_column)) {
    return "amount unknown";
  }
  const std::string currency = text_or_empty(row, currency_column);
  return fmt::format("{:.2f}{}{}", row.column_double(amount_column), currency.empty() ? "" : " ", currency);
}

}  // namespace

OrderSummary CustomerDetailRepository::order_summary(std::int64_t customer_id, std::int64_t last_12_months_from_ms) {
  Statement query = db_.prepare(
      fmt::format("SELECT count(*), min(o.ordered_at_ms), max(o.ordered_at_ms), coalesce(sum(o.amount), 0), "
                  "coalesce(sum(CASE WHEN o.ordered_at_ms >= ?2 THEN o.amount ELSE 0 END), 0), min(o.currency), "
                  "max(o.currency) FROM orders o WHERE o.customer_id IN ({}) AND {}",
                  kUnifiedRecordIds, purchase_condition("o")));
  query.bind(1, customer_id).bind(2, last_12_months_from_ms);
  OrderSummary summary;
  if (query.step()) {
    summary.orders = query.column_int64(0);
    summary.first_order_ms = optional_int64(query, 1);
    summary.last_order_ms = optional_int64(query, 2);
    summary.revenue_total = query.column_double(3);
    summary.revenue_last_12_months = query.column_double(4);
    const std::string lowest = text_or_empty(query, 5);
    const std::string highest = text_or_empty(query, 6);
    summary.mixed_currencies = lowest != highest;
    summary.currency = summary.mixed_currencies ? std::string() : lowest;
  }
  return summary;
}

std::vector<TicketLine> CustomerDetailRepository::recent_tickets(std::int64_t customer_id, std::size_t limit) {
  Statement query = db_.prepare(fmt::format(
      "SELECT source, external_id, opened_at_ms, first_response_at_ms, resolved_at_ms, category, subject, "
      "coalesce(is_complaint, 0) FROM tickets WHERE customer_id IN ({}) ORDER BY opened_at_ms DESC, id DESC "
      "LIMIT ?2",
      kUnifiedRecordIds));
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<TicketLine> lines;
  while (query.step()) {
    TicketLine& line = lines.emplace_back();
    line.source = query.column_text(0);
    line.external_id = query.column_text(1);
    line.opened_at_ms = optional_int64(query, 2);
    line.first_response_at_ms = optional_int64(query, 3);
    line.resolved_at_ms = optional_int64(query, 4);
    line.category = text_or_empty(query, 5);
    line.subject = text_or_empty(query, 6);
    line.is_complaint = query.column_int64(7) != 0;
  }
  return lines;
}

std::vector<SurveyLine> CustomerDetailRepository::recent_surveys(std::int64_t customer_id, std::size_t limit) {
  Statement query = db_.prepare(
      fmt::format("SELECT source, external_id, answered_at_ms, kind, score FROM surveys WHERE customer_id IN ({}) "
                  "ORDER BY answered_at_ms DESC, id DESC LIMIT ?2",
                  kUnifiedRecordIds));
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<SurveyLine> lines;
  while (query.step()) {
    SurveyLine& line = lines.emplace_back();
    line.source = query.column_text(0);
    line.external_id = query.column_text(1);
    line.answered_at_ms = optional_int64(query, 2);
    line.kind = text_or_empty(query, 3);
    line.score = optional_double(query, 4);
  }
  return lines;
}

std::vector<HistoryEvent> CustomerDetailRepository::recent_orders(std::int64_t customer_id, std::size_t limit) {
  Statement query = db_.prepare(
      fmt::format("SELECT ordered_at_ms, source, external_id, amount, currency, product_line, status FROM orders "
                  "WHERE customer_id IN ({}) AND ordered_at_ms IS NOT NULL ORDER BY ordered_at_ms DESC, source DESC, "
                  "external_id DESC LIMIT ?2",
                  kUnifiedRecordIds));
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<HistoryEvent> events;
  while (query.step()) {
    HistoryEvent& event = events.emplace_back();
    event.at_ms = query.column_int64(0);
    event.kind = "order";
    event.source = query.column_text(1);
    event.external_id = query.column_text(2);
    const std::string product = text_or_empty(query, 5);
    const std::string status = text_or_empty(query, 6);
    event.summary = fmt::format("order {}: {}{}{}", event.external_id, amount_text(query, 3, 4),
                                product.empty() ? "" : ", " + product, status.empty() ? "" : " (" + status + ")");
  }
  return events;
}

std::vector<HistoryEvent> CustomerDetailRepository::recent_interactions(std::int64_t customer_id, std::size_t limit,
                                                                        const std::string& follow_up_source) {
  Statement query = db_.prepare(
      fmt::format("SELECT occurred_at_ms, source, external_id, channel, direction, subject, coalesce(is_complaint, 0), "
                  "coalesce(recorded_by, '') "
                  "FROM interactions WHERE customer_id IN ({}) AND occurred_at_ms IS NOT NULL "
                  "ORDER BY occurred_at_ms DESC, source DESC, external_id DESC LIMIT ?2",
                  kUnifiedRecordIds));
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<HistoryEvent> events;
  while (query.step()) {
    HistoryEvent& event = events.emplace_back();
    event.at_ms = query.column_int64(0);
    event.source = query.column_text(1);
    event.external_id = query.column_text(2);
    const std::string channel = text_or_empty(query, 3);
    const std::string direction = text_or_empty(query, 4);
    const std::string subject = text_or_empty(query, 5);
    const bool complaint = query.column_int64(6) != 0;
    const std::string by = query.column_text(7);
    event.kind = event.source == follow_up_source ? "follow_up" : "interaction";
    event.summary = fmt::format("{}{}{}{}{}{}", event.kind == "follow_up" ? "follow-up" : direction + " message",
                                channel.empty() ? "" : " by " + channel, by.empty() ? "" : " (" + by + ")",
                                complaint ? " (complaint)" : "", subject.empty() ? "" : ": ", subject);
  }
  return events;
}

std::vector<HistoryEvent> CustomerDetailRepository::recent_activities(std::int64_t customer_id, std::size_t limit) {
  Statement query = db_.prepare(
      fmt::format("SELECT occurred_at_ms, source, external_id, kind, detail FROM activities WHERE customer_id IN ({}) "
                  "AND occurred_at_ms IS NOT NULL ORDER BY occurred_at_ms DESC, source DESC, external_id DESC LIMIT ?2",
                  kUnifiedRecordIds));
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<HistoryEvent> events;
  while (query.step()) {
    HistoryEvent& event = events.emplace_back();
    event.at_ms = query.column_int64(0);
    event.kind = "activity";
    event.source = query.column_text(1);
    event.external_id = query.column_text(2);
    const std::string kind = text_or_empty(query, 3);
    const std::string detail = text_or_empty(query, 4);
    event.summary = fmt::format("{}{}{}", kind.empty() ? "activity" : kind, detail.empty() ? "" : ": ", detail);
  }
  return events;
}

std::vector<CustomerAlertLine> CustomerDetailRepository::alerts(std::int64_t customer_id, std::size_t limit) {
  Statement query = db_.prepare(
      "SELECT id, reason, level, state, coalesce(title, ''), opened_ms, deadline_ms, coalesce(acked_by, ''), "
      "coalesce(resolved_by, '') FROM alerts WHERE customer_id = ?1 "
      "ORDER BY CASE WHEN state = 'resolved' THEN 1 ELSE 0 END, opened_ms DESC, id DESC LIMIT ?2");
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<CustomerAlertLine> lines;
  while (query.step()) {
    CustomerAlertLine& line = lines.emplace_back();
    line.id = query.column_int64(0);
    line.reason = query.column_text(1);
    line.level = query.column_text(2);
    line.state = query.column_text(3);
    line.title = query.column_text(4);
    line.opened_ms = query.column_int64(5);
    line.deadline_ms = optional_int64(query, 6);
    line.acked_by = query.column_text(7);
    line.resolved_by = query.column_text(8);
  }
  return lines;
}

std::vector<EnrolmentLine> CustomerDetailRepository::enrolments(std::int64_t customer_id) {
  Statement query = db_.prepare(
      "SELECT e.id, e.campaign_id, c.playbook_id, e.state, e.holdout, e.step_index, e.steps_done, e.next_step_ms, "
      "e.enrolled_ms, coalesce(e.exit_reason, '') FROM enrolments e JOIN campaigns c ON c.id = e.campaign_id "
      "WHERE e.customer_id = ?1 ORDER BY e.id DESC");
  query.bind(1, customer_id);
  std::vector<EnrolmentLine> lines;
  while (query.step()) {
    EnrolmentLine& line = lines.emplace_back();
    line.id = query.column_int64(0);
    line.campaign_id = query.column_int64(1);
    line.playbook = query.column_text(2);
    line.state = query.column_text(3);
    line.holdout = query.column_int64(4) != 0;
    line.step_index = query.column_int64(5);
    line.steps_done = query.column_int64(6);
    line.next_step_ms = query.column_int64(7);
    line.enrolled_ms = query.column_int64(8);
    line.exit_reason = query.column_text(9);
  }
  return lines;
}

std::optional<DoNotContactLine> CustomerDetailRepository::do_not_contact(std::int64_t customer_id) {
  Statement query =
      db_.prepare("SELECT reason, coalesce(added_by, ''), added_ms FROM do_not_contact WHERE customer_id = ?1");
  query.bind(1, customer_id);
  if (!query.step()) {
    return std::nullopt;
  }
  return DoNotContactLine{query.column_text(0), query.column_text(1), query.column_int64(2)};
}

bool CustomerDetailRepository::insert_follow_up(std::string_view source, std::string_view external_id,
                                                std::int64_t customer_id, std::int64_t at_ms, std::string_view channel,
                                                std::string_view note, std::string_view by) {
  Statement insert = db_.prepare(
      "INSERT INTO interactions(source, external_id, customer_id, occurred_at_ms, channel, direction, subject, "
      "is_complaint, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, 'outbound', ?6, 0, ?7) "
      "ON CONFLICT (source, external_id) DO NOTHING");
  insert.bind(1, source).bind(2, external_id).bind(3, customer_id).bind(4, at_ms).bind(5, channel);
  note.empty() ? insert.bind_null(6) : insert.bind(6, note);
  insert.bind(7, by);
  insert.run();
  return db_.changes() > 0;
}

}  // namespace crm::host
