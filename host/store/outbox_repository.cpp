#include "store/outbox_repository.hpp"

#include <fmt/format.h>

namespace crm::host {
namespace {

constexpr std::string_view kColumns =
    "id, coalesce(alert_id, 0), channel_id, idempotency_key, notification, state, attempts, coalesce(last_error, ''), "
    "coalesce(group_key, ''), coalesce(digest_key, '')";

}  // namespace

// Statements run once per notification are prepared once per repository.
Statement& OutboxRepository::statement(std::optional<Statement>& slot, std::string_view sql) {
  if (!slot) {
    slot.emplace(db_.prepare(sql));
  }
  return *slot;
}

void OutboxRepository::bind_new(Statement& statement, const NewOutboxRecord& record) {
  if (record.alert_id == 0) {
    statement.bind_null(1);
  } else {
    statement.bind(1, record.alert_id);
  }
  statement.bind(2, record.channel_id)
      .bind(3, record.idempotency_key)
      .bind(4, record.notification_json)
      .bind(5, record.next_attempt_ms)
      .bind(6, record.created_ms);
  if (record.group_key.empty()) {
    statement.bind_null(7);
  } else {
    statement.bind(7, record.group_key);
  }
}

void OutboxRepository::insert(const NewOutboxRecord& record) {
  Statement& insert = statement(
      insert_,
      "INSERT INTO outbox(alert_id, channel_id, idempotency_key, notification, state, next_attempt_ms, created_ms, "
      "group_key) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)");
  bind_new(insert, record);
  insert.run();
}

bool OutboxRepository::insert_if_absent(const NewOutboxRecord& record) {
  Statement& insert = statement(
      insert_if_absent_,
      "INSERT INTO outbox(alert_id, channel_id, idempotency_key, notification, state, next_attempt_ms, created_ms, "
      "group_key) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7) ON CONFLICT (idempotency_key) DO NOTHING");
  bind_new(insert, record);
  insert.run();
  return db_.changes() > 0;
}

std::int64_t OutboxRepository::count_for_alert(std::int64_t alert_id) {
  Statement& count = statement(count_for_alert_, "SELECT count(*) FROM outbox WHERE alert_id = ?1");
  count.bind(1, alert_id);
  count.step();
  const std::int64_t n = count.column_int64(0);
  count.reset();
  return n;
}

std::optional<std::int64_t> OutboxRepository::group_due_ms(const std::string& group_key) {
  Statement& due = statement(group_due_,
                             "SELECT min(next_attempt_ms) FROM outbox WHERE group_key = ?1 AND state = 'pending' AND "
                             "digest_key IS NULL");
  due.bind(1, group_key);
  std::optional<std::int64_t> due_ms;
  if (due.step() && !due.column_is_null(0)) {
    due_ms = due.column_int64(0);
  }
  due.reset();
  return due_ms;
}

std::vector<OutboxRecord> OutboxRepository::records(Statement& query) {
  std::vector<OutboxRecord> rows;
  while (query.step()) {
    rows.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                    query.column_text(4), query.column_text(5), static_cast<int>(query.column_int64(6)),
                    query.column_text(7), query.column_text(8), query.column_text(9)});
  }
  return rows;
}

std::vector<OutboxRecord> OutboxRepository::due(std::int64_t now_ms) {
  Statement query = db_.prepare(std::string("SELECT ").append(kColumns).append(
      " FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY id"));
  query.bind(1, now_ms);
  return records(query);
}

std::vector<SentRecord> OutboxRepository::sent_since(std::int64_t since_ms) {
  std::vector<SentRecord> sent;
  Statement query = db_.prepare(
      "SELECT coalesce(digest_key, idempotency_key), sent_ms, notification, channel_id FROM outbox WHERE state = "
      "'sent' AND sent_ms > ?1 ORDER BY id");
  query.bind(1, since_ms);
  while (query.step()) {
    sent.push_back({query.column_text(0), query.column_int64(1), query.column_text(2), query.column_text(3)});
  }
  return sent;
}

ChannelSends OutboxRepository::channel_sends_since(const std::string& channel_id, std::int64_t since_ms) {
  Statement recent = db_.prepare(
      "SELECT count(DISTINCT coalesce(digest_key, idempotency_key)), min(sent_ms) FROM outbox WHERE channel_id = ?1 "
      "AND state = 'sent' AND sent_ms > ?2");
  recent.bind(1, channel_id).bind(2, since_ms);
  ChannelSends sends;
  if (recent.step()) {
    sends.messages = recent.column_int64(0);
    if (!recent.column_is_null(1)) {
      sends.first_sent_ms = recent.column_int64(1);
    }
  }
  return sends;
}

void OutboxRepository::hold(std::int64_t id, std::int64_t until_ms, std::string_view why,
                            const std::string& group_key) {
  Statement& hold = statement(
      hold_,
      "UPDATE outbox SET next_attempt_ms = ?1, last_error = ?2, group_key = coalesce(group_key, ?3) WHERE id = ?4");
  hold.bind(1, until_ms).bind(2, why);
  if (group_key.empty()) {
    hold.bind_null(3);
  } else {
    hold.bind(3, group_key);
  }
  hold.bind(4, id).run();
}

void OutboxRepository::assign_digest(std::int64_t id, const std::string& digest_key) {
  statement(assign_digest_, "UPDATE outbox SET digest_key = ?1 WHERE id = ?2").bind(1, digest_key).bind(2, id).run();
}

void OutboxRepository::mark_sent(std::int64_t id, std::int64_t sent_ms, int attempts, const std::string& note) {
  statement(mark_sent_, "UPDATE outbox SET state = 'sent', sent_ms = ?1, attempts = ?2, last_error = ?3 WHERE id = ?4")
      .bind(1, sent_ms)
      .bind(2, static_cast<std::int64_t>(attempts))
      .bind(3, note)
      .bind(4, id)
      .run();
}

void OutboxRepository::mark_failed(std::int64_t id, int attempts, std::int64_t next_attempt_ms,
                                   const std::string& error, bool dead) {
  statement(mark_failed_,
            "UPDATE outbox SET attempts = ?1, next_attempt_ms = ?2, last_error = ?3, state = ?4 WHERE id = ?5")
      .bind(1, static_cast<std::int64_t>(attempts))
      .bind(2, next_attempt_ms)
      .bind(3, error)
      .bind(4, std::string_view(dead ? "dead" : "pending"))
      .bind(5, id)
      .run();
}

bool OutboxRepository::resend(std::int64_t id, std::int64_t now_ms) {
  db_.prepare(
         "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = ?1 WHERE id = ?2 AND state = 'dead'")
      .bind(1, now_ms)
      .bind(2, id)
      .run();
  return db_.changes() > 0;
}

std::vector<OutboxRecord> OutboxRepository::list(const std::string& state) {
  Statement query = db_.prepare(std::string("SELECT ").append(kColumns).append(
      " FROM outbox WHERE CAST(?1 AS TEXT) = '' OR state = CAST(?1 AS TEXT) ORDER BY id"));
  query.bind(1, state);
  return records(query);
}

namespace {

constexpr std::string_view kNotificationColumns =
    "id, alert_id, channel_id, notification, state, created_ms, sent_ms FROM outbox ";

std::vector<AlertNotificationRecord> notification_records(Statement& query) {
  std::vector<AlertNotificationRecord> records;
  while (query.step()) {
    AlertNotificationRecord& record = records.emplace_back();
    record.id = query.column_int64(0);
    record.alert_id = query.column_int64(1);
    record.channel_id = query.column_text(2);
    record.notification_json = query.column_text(3);
    record.state = query.column_text(4);
    record.created_ms = query.column_int64(5);
    if (!query.column_is_null(6)) {
      record.sent_ms = query.column_int64(6);
    }
  }
  return records;
}

}  // namespace

std::vector<AlertNotificationRecord> OutboxRepository::alert_notifications(std::int64_t alert_id) {
  Statement query = db_.prepare(fmt::format("SELECT {} WHERE alert_id = ?1 ORDER BY id", kNotificationColumns));
  query.bind(1, alert_id);
  return notification_records(query);
}

std::vector<AlertNotificationRecord> OutboxRepository::alert_notifications_containing(std::string_view text) {
  std::string pattern = "%";
  for (const char c : text) {
    if (c == '%' || c == '_' || c == '\\') {
      pattern += '\\';
    }
    pattern += c;
  }
  pattern += '%';
  Statement query = db_.prepare(fmt::format(
      "SELECT {} WHERE alert_id IS NOT NULL AND notification LIKE ?1 ESCAPE '\\' ORDER BY id", kNotificationColumns));
  query.bind(1, pattern);
  return notification_records(query);
}

}  // namespace crm::host
