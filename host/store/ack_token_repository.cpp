#include "store/ack_token_repository.hpp"

namespace crm::host {

std::string AckTokenRepository::host_secret(const std::string& name, const std::string& candidate,
                                            std::int64_t now_ms) {
  db_.prepare("INSERT INTO host_secrets(name, value, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING")
      .bind(1, name)
      .bind(2, candidate)
      .bind(3, now_ms)
      .run();
  Statement stored = db_.prepare("SELECT value FROM host_secrets WHERE name = ?1");
  stored.bind(1, name);
  return stored.step() ? stored.column_text(0) : std::string();
}

std::int64_t AckTokenRepository::issue(std::int64_t alert_id, const std::string& recipient, std::int64_t expires_ms,
                                       std::int64_t now_ms) {
  Statement insert = db_.prepare(
      "INSERT INTO ack_tokens(alert_id, recipient, expires_ms, created_ms) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (alert_id, recipient) DO UPDATE SET expires_ms = CASE WHEN excluded.expires_ms > "
      "ack_tokens.expires_ms THEN excluded.expires_ms ELSE ack_tokens.expires_ms END RETURNING id");
  insert.bind(1, alert_id).bind(2, recipient).bind(3, expires_ms).bind(4, now_ms);
  insert.step();
  return insert.column_int64(0);
}

std::optional<AckTokenRecord> AckTokenRepository::find(std::int64_t token_id) {
  Statement query =
      db_.prepare("SELECT id, alert_id, recipient, expires_ms, created_ms, used_ms FROM ack_tokens WHERE id = ?1");
  query.bind(1, token_id);
  if (!query.step()) {
    return std::nullopt;
  }
  AckTokenRecord record{query.column_int64(0), query.column_int64(1), query.column_text(2),
                        query.column_int64(3), query.column_int64(4), std::nullopt};
  if (!query.column_is_null(5)) {
    record.used_ms = query.column_int64(5);
  }
  return record;
}

bool AckTokenRepository::mark_used(std::int64_t token_id, std::int64_t now_ms) {
  db_.prepare("UPDATE ack_tokens SET used_ms = ?1 WHERE id = ?2 AND used_ms IS NULL")
      .bind(1, now_ms)
      .bind(2, token_id)
      .run();
  return db_.changes() > 0;
}

std::optional<AckAlertRecord> AckTokenRepository::alert(std::int64_t alert_id) {
  Statement query = db_.prepare(
      "SELECT a.id, a.customer_id, coalesce(c.name, ''), a.reason, a.level, a.state, coalesce(a.title, ''), "
      "coalesce(a.deadline_ms, 0), coalesce(a.acked_by, ''), coalesce(a.acked_ms, 0) FROM alerts a "
      "LEFT JOIN customers c ON c.id = a.customer_id WHERE a.id = ?1");
  query.bind(1, alert_id);
  if (!query.step()) {
    return std::nullopt;
  }
  return AckAlertRecord{query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                        query.column_text(4),  query.column_text(5),  query.column_text(6), query.column_int64(7),
                        query.column_text(8),  query.column_int64(9)};
}

}  // namespace crm::host
