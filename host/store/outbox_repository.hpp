#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One row of the outbox as stored; `notification_json` is the envelope
// (host/outbox/envelope.hpp reads and writes it).
struct OutboxRecord {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;  // 0: not an alert's
  std::string channel_id;
  std::string idempotency_key;
  std::string notification_json;
  std::string state;  // pending, sent, dead
  int attempts = 0;
  std::string last_error;
  std::string group_key;   // "" when none
  std::string digest_key;  // "" when none
};

// One notification of an alert with when it was queued and sent.
struct AlertNotificationRecord {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;
  std::string channel_id;
  std::string notification_json;
  std::string state;  // pending, sent, dead
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> sent_ms;
};

struct NewOutboxRecord {
  std::int64_t alert_id = 0;  // 0: stored as NULL
  std::string channel_id;
  std::string idempotency_key;
  std::string notification_json;
  std::int64_t next_attempt_ms = 0;
  std::int64_t created_ms = 0;
  std::string group_key;  // "": stored as NULL
};

// A message sent recently: its key (a digest's, else its own), envelope and channel.
struct SentRecord {
  std::string message_key;
  std::int64_t sent_ms = 0;
  std::string notification_json;
  std::string channel_id;
};

// Messages a channel carried since a moment: digests count once.
struct ChannelSends {
  std::int64_t messages = 0;
  std::optional<std::int64_t> first_sent_ms;
};

// The outbox table: notifications written before they are sent and marked
// after. Holds prepared statements on `db`, which must outlive it; the caller
// owns transactions.
class OutboxRepository {
 public:
  explicit OutboxRepository(Database& db) : db_(db) {}

  // Fails (throws) when the idempotency key is taken.
  void insert(const NewOutboxRecord& record);
  // Nothing happens when the idempotency key is taken; false then.
  bool insert_if_absent(const NewOutboxRecord& record);
  std::int64_t count_for_alert(std::int64_t alert_id);
  // When the pending, undigested members of a group are due (the earliest); nullopt: no such member.
  std::optional<std::int64_t> group_due_ms(const std::string& group_key);

  // Pending rows due at `now_ms`, by id.
  std::vector<OutboxRecord> due(std::int64_t now_ms);
  // Rows sent after `since_ms`, by id.
  std::vector<SentRecord> sent_since(std::int64_t since_ms);
  ChannelSends channel_sends_since(const std::string& channel_id, std::int64_t since_ms);

  // Postpones a row; a group key given is kept only when the row has none.
  void hold(std::int64_t id, std::int64_t until_ms, std::string_view why, const std::string& group_key);
  void assign_digest(std::int64_t id, const std::string& digest_key);
  void mark_sent(std::int64_t id, std::int64_t sent_ms, int attempts, const std::string& note);
  void mark_failed(std::int64_t id, int attempts, std::int64_t next_attempt_ms, const std::string& error, bool dead);
  // Puts a dead row back in the queue; false when it is not dead.
  bool resend(std::int64_t id, std::int64_t now_ms);

  // All rows, or those in `state` ("" for all), by id.
  std::vector<OutboxRecord> list(const std::string& state);
  // The notifications of one alert, oldest first (outbox_by_alert).
  std::vector<AlertNotificationRecord> alert_notifications(std::int64_t alert_id);
  // Notifications of alerts whose stored text contains `text` (a prefilter: the
  // caller parses each to confirm), by id.
  std::vector<AlertNotificationRecord> alert_notifications_containing(std::string_view text);

 private:
  Statement& statement(std::optional<Statement>& slot, std::string_view sql);
  void bind_new(Statement& statement, const NewOutboxRecord& record);
  std::vector<OutboxRecord> records(Statement& query);

  Database& db_;
  std::optional<Statement> insert_;
  std::optional<Statement> insert_if_absent_;
  std::optional<Statement> count_for_alert_;
  std::optional<Statement> group_due_;
  std::optional<Statement> hold_;
  std::optional<Statement> assign_digest_;
  std::optional<Statement> mark_sent_;
  std::optional<Statement> mark_failed_;
};

}  // namespace crm::host
