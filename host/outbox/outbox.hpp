#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "outbox/outbox_types.hpp"
#include "store/outbox_repository.hpp"

namespace crm::host {

// The queue of messages to channels, shared by alerts and campaigns: a
// message is written here (in the caller's transaction) before anything
// sends it, and the Dispatcher sends and marks it. Holds a repository over
// `db`, which must outlive it.
class Outbox {
 public:
  explicit Outbox(Database& db) : repository_(db) {}

  // Queues a message at `now_ms`; throws when its idempotency key is taken.
  void enqueue(const OutboxMessage& message, std::int64_t now_ms);
  // Queues a message unless its idempotency key is taken (a re-run queued it already); false then.
  bool enqueue_once(const OutboxMessage& message, std::int64_t now_ms);

  // Messages ever queued for an alert (numbering its next ones).
  std::int64_t messages_of_alert(std::int64_t alert_id);
  // Puts a dead message back in the queue; false when it is not dead.
  bool resend(std::int64_t outbox_id, std::int64_t now_ms);
  // All messages, or those in `state` ("" for all), by id.
  std::vector<OutboxRow> list(const std::string& state);

 private:
  NewOutboxRecord record_of(const OutboxMessage& message, std::int64_t now_ms);

  OutboxRepository repository_;
};

}  // namespace crm::host
