#include "store/alert_repository.hpp"

namespace crm::host {

// Statements run once per alert of a scoring run are prepared once per
// repository; the rest are prepared when called, as they run once per job.
Statement& AlertRepository::statement(std::optional<Statement>& slot, std::string_view sql) {
  if (!slot) {
    slot.emplace(db_.prepare(sql));
  }
  return *slot;
}

std::vector<ActiveAlert> AlertRepository::active_customer_alerts() {
  std::vector<ActiveAlert> alerts;
  Statement query = db_.prepare(
      "SELECT id, customer_id, reason, level, coalesce(last_notified_ms, 0), coalesce(labels, '{}') FROM alerts "
      "WHERE state <> 'resolved' AND customer_id <> 0 ORDER BY customer_id, reason, id");
  while (query.step()) {
    alerts.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                      query.column_int64(4), query.column_text(5)});
  }
  return alerts;
}

std::map<std::int64_t, std::string> AlertRepository::account_managers() {
  std::map<std::int64_t, std::string> managers;
  Statement owners = db_.prepare(
      "SELECT customer_id, owner FROM contacts WHERE owner IS NOT NULL AND owner <> '' AND left_at_ms IS NULL AND "
      "customer_id IS NOT NULL ORDER BY customer_id, coalesce(is_key_contact, 0) DESC, id");
  while (owners.step()) {
    managers.try_emplace(owners.column_int64(0), owners.column_text(1));
  }
  return managers;
}

std::vector<ScoredCustomer> AlertRepository::scored_customers(std::int64_t run_id) {
  std::vector<ScoredCustomer> customers;
  Statement scores = db_.prepare(
      "SELECT s.customer_id, s.band, coalesce(s.reasons, ''), coalesce(s.tier, ''), s.score, coalesce(s.abc_class, "
      "''), coalesce(s.stage, ''), coalesce(c.industry, '') FROM customer_scores s LEFT JOIN customers c ON c.id = "
      "s.customer_id WHERE s.run_id = ?1 AND s.band IS NOT NULL ORDER BY s.customer_id");
  scores.bind(1, run_id);
  while (scores.step()) {
    customers.push_back({scores.column_int64(0), scores.column_text(1), scores.column_text(2), scores.column_text(3),
                         scores.column_double(4), scores.column_text(5), scores.column_text(6), scores.column_text(7)});
  }
  return customers;
}

std::int64_t AlertRepository::open(const NewAlert& alert) {
  Statement& insert = statement(
      open_,
      "INSERT INTO alerts(customer_id, reason, level, state, title, detail, opened_ms, updated_ms, deadline_ms, "
      "labels) VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?6, ?7, ?8) RETURNING id");
  insert.bind(1, alert.customer_id)
      .bind(2, alert.reason)
      .bind(3, alert.level)
      .bind(4, alert.title)
      .bind(5, alert.detail)
      .bind(6, alert.opened_ms)
      .bind(7, alert.deadline_ms);
  if (alert.labels_json.empty()) {
    insert.bind_null(8);
  } else {
    insert.bind(8, alert.labels_json);
  }
  insert.step();
  const std::int64_t id = insert.column_int64(0);
  insert.run();  // to the end of the statement, then reset
  return id;
}

void AlertRepository::change_level(std::int64_t alert_id, const std::string& level, std::int64_t deadline_ms,
                                   std::int64_t now_ms) {
  statement(change_level_, "UPDATE alerts SET updated_ms = ?1, level = ?2, deadline_ms = ?3 WHERE id = ?4")
      .bind(1, now_ms)
      .bind(2, level)
      .bind(3, deadline_ms)
      .bind(4, alert_id)
      .run();
}

void AlertRepository::touch(std::int64_t alert_id, std::int64_t now_ms) {
  statement(touch_, "UPDATE alerts SET updated_ms = ?1 WHERE id = ?2").bind(1, now_ms).bind(2, alert_id).run();
}

void AlertRepository::mark_notified(std::int64_t alert_id, std::int64_t now_ms) {
  statement(mark_notified_, "UPDATE alerts SET last_notified_ms = ?1 WHERE id = ?2")
      .bind(1, now_ms)
      .bind(2, alert_id)
      .run();
}

void AlertRepository::resolve_ended(std::int64_t alert_id, std::int64_t now_ms) {
  statement(resolve_ended_,
            "UPDATE alerts SET state = 'resolved', resolved_ms = ?1, resolved_by = 'system', resolution_note = "
            "'condition ended', updated_ms = ?1 WHERE id = ?2")
      .bind(1, now_ms)
      .bind(2, alert_id)
      .run();
}

std::optional<std::int64_t> AlertRepository::open_system_alert(const std::string& reason) {
  Statement existing =
      db_.prepare("SELECT id FROM alerts WHERE customer_id = 0 AND reason = ?1 AND state <> 'resolved' ORDER BY id");
  existing.bind(1, reason);
  if (!existing.step()) {
    return std::nullopt;
  }
  return existing.column_int64(0);
}

void AlertRepository::update_detail(std::int64_t alert_id, const std::string& detail, std::int64_t now_ms) {
  db_.prepare("UPDATE alerts SET updated_ms = ?1, detail = ?2 WHERE id = ?3")
      .bind(1, now_ms)
      .bind(2, detail)
      .bind(3, alert_id)
      .run();
}

std::vector<AlertToNotify> AlertRepository::overdue(std::int64_t now_ms) {
  std::vector<AlertToNotify> due;
  Statement query = db_.prepare(
      "SELECT id, customer_id, reason, level, title, detail, coalesce(labels, '{}') FROM alerts WHERE state = 'open' "
      "AND deadline_ms <= ?1 ORDER BY id");
  query.bind(1, now_ms);
  while (query.step()) {
    due.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                   query.column_text(4), query.column_text(5), query.column_text(6), false});
  }
  return due;
}

void AlertRepository::escalate(std::int64_t alert_id, const std::string& level, std::int64_t deadline_ms,
                               std::int64_t now_ms) {
  db_.prepare(
         "UPDATE alerts SET level = ?1, escalation_level = escalation_level + 1, escalated_ms = ?2, deadline_ms = ?3, "
         "updated_ms = ?2 WHERE id = ?4")
      .bind(1, level)
      .bind(2, now_ms)
      .bind(3, deadline_ms)
      .bind(4, alert_id)
      .run();
}

std::vector<AlertToNotify> AlertRepository::late(std::int64_t first_response_ms, std::int64_t close_loop_ms,
                                                 std::int64_t now_ms) {
  std::vector<AlertToNotify> reminders;
  Statement late = db_.prepare(
      "SELECT id, customer_id, reason, level, title, coalesce(labels, '{}'), CASE WHEN state = 'open' THEN 1 ELSE 0 "
      "END FROM alerts WHERE (state = 'open' AND first_response_reminded_ms IS NULL AND opened_ms + ?1 <= ?3) OR "
      "(state = 'acknowledged' AND close_loop_reminded_ms IS NULL AND acked_ms + ?2 <= ?3) ORDER BY id");
  late.bind(1, first_response_ms).bind(2, close_loop_ms).bind(3, now_ms);
  while (late.step()) {
    reminders.push_back({late.column_int64(0), late.column_int64(1), late.column_text(2), late.column_text(3),
                         late.column_text(4), std::string(), late.column_text(5), late.column_int64(6) != 0});
  }
  return reminders;
}

void AlertRepository::mark_reminded(std::int64_t alert_id, bool first_response, std::int64_t now_ms) {
  db_.prepare(first_response ? "UPDATE alerts SET first_response_reminded_ms = ?1 WHERE id = ?2"
                             : "UPDATE alerts SET close_loop_reminded_ms = ?1 WHERE id = ?2")
      .bind(1, now_ms)
      .bind(2, alert_id)
      .run();
}

bool AlertRepository::acknowledge(std::int64_t alert_id, const std::string& by, std::int64_t now_ms,
                                  const std::string& note) {
  Statement update = db_.prepare(
      "UPDATE alerts SET state = 'acknowledged', acked_by = ?1, acked_ms = ?2, updated_ms = ?2, ack_note = ?4 WHERE "
      "id = ?3 AND state = 'open'");
  update.bind(1, by).bind(2, now_ms).bind(3, alert_id);
  if (note.empty()) {
    update.bind_null(4);
  } else {
    update.bind(4, note);
  }
  update.run();
  return db_.changes() > 0;
}

bool AlertRepository::resolve(std::int64_t alert_id, const std::string& by, const std::string& note,
                              std::int64_t now_ms) {
  db_.prepare(
         "UPDATE alerts SET state = 'resolved', resolved_by = ?1, resolved_ms = ?2, resolution_note = ?3, updated_ms "
         "= ?2 WHERE id = ?4 AND state <> 'resolved'")
      .bind(1, by)
      .bind(2, now_ms)
      .bind(3, note)
      .bind(4, alert_id)
      .run();
  return db_.changes() > 0;
}

namespace {

constexpr std::string_view kAlertRowColumns =
    "SELECT id, customer_id, reason, level, state, coalesce(title, ''), opened_ms, coalesce(deadline_ms, 0), "
    "escalation_level, coalesce(acked_by, ''), coalesce(acked_ms, 0), coalesce(resolved_by, ''), "
    "coalesce(resolution_note, ''), coalesce(ack_note, ''), coalesce(resolved_ms, 0) FROM alerts ";

AlertRow alert_row(Statement& query) {
  return {query.column_int64(0), query.column_int64(1),  query.column_text(2),
          query.column_text(3),  query.column_text(4),   query.column_text(5),
          query.column_int64(6), query.column_int64(7),  static_cast<int>(query.column_int64(8)),
          query.column_text(9),  query.column_int64(10), query.column_text(11),
          query.column_text(12), query.column_text(13),  query.column_int64(14)};
}

}  // namespace

std::vector<AlertRow> AlertRepository::list(const std::string& state) {
  std::vector<AlertRow> rows;
  Statement query = db_.prepare(std::string(kAlertRowColumns) +
                                "WHERE CAST(?1 AS TEXT) = '' OR state = CAST(?1 AS TEXT) ORDER BY id");
  query.bind(1, state);
  while (query.step()) {
    rows.push_back(alert_row(query));
  }
  return rows;
}

std::optional<AlertRow> AlertRepository::find(std::int64_t alert_id) {
  Statement query = db_.prepare(std::string(kAlertRowColumns) + "WHERE id = ?1");
  query.bind(1, alert_id);
  if (!query.step()) {
    return std::nullopt;
  }
  return alert_row(query);
}

std::vector<double> AlertRepository::times_to_acknowledge_ms() {
  std::vector<double> times;
  Statement query = db_.prepare(
      "SELECT CAST(acked_ms - opened_ms AS DOUBLE PRECISION) FROM alerts WHERE acked_ms IS NOT NULL ORDER BY "
      "acked_ms - opened_ms, id");
  while (query.step()) {
    times.push_back(query.column_double(0));
  }
  return times;
}

}  // namespace crm::host
