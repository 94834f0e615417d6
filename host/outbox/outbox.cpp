#include "outbox/outbox.hpp"

#include <nlohmann/json.hpp>

namespace crm::host {

NewOutboxRecord Outbox::record_of(const OutboxMessage& message, std::int64_t now_ms) {
  std::int64_t due_ms = now_ms;
  if (!message.group_key.empty() && message.digest_window_ms > 0) {
    // A group's first message opens its window; later ones join it and go out with it.
    due_ms = repository_.group_due_ms(message.group_key).value_or(now_ms + message.digest_window_ms);
  }
  return {message.alert_id, message.channel_id, message.idempotency_key, message.envelope.to_json().dump(), due_ms,
          now_ms,           message.group_key};
}

void Outbox::enqueue(const OutboxMessage& message, std::int64_t now_ms) {
  repository_.insert(record_of(message, now_ms));
}

bool Outbox::enqueue_once(const OutboxMessage& message, std::int64_t now_ms) {
  return repository_.insert_if_absent(record_of(message, now_ms));
}

std::int64_t Outbox::messages_of_alert(std::int64_t alert_id) {
  return repository_.count_for_alert(alert_id);
}

bool Outbox::resend(std::int64_t outbox_id, std::int64_t now_ms) {
  return repository_.resend(outbox_id, now_ms);
}

std::vector<OutboxRow> Outbox::list(const std::string& state) {
  std::vector<OutboxRow> rows;
  for (const OutboxRecord& record : repository_.list(state)) {
    rows.push_back({record.id, record.alert_id, record.channel_id, record.state, record.attempts, record.last_error,
                    Envelope::from_json(nlohmann::json::parse(record.notification_json)).title});
  }
  return rows;
}

DeliveryCounts& DeliveryCounts::operator+=(const DeliveryCounts& other) {
  delivered += other.delivered;
  partial += other.partial;
  retried += other.retried;
  dead += other.dead;
  held += other.held;
  paced += other.paced;
  messages += other.messages;
  digested += other.digested;
  for (const auto& [channel, count] : other.dead_by_channel) {
    dead_by_channel[channel] += count;
  }
  return *this;
}

}  // namespace crm::host
