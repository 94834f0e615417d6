#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "outbox/envelope.hpp"

namespace crm::host {

// A message to queue: alerts and campaigns alike.
struct OutboxMessage {
  std::int64_t alert_id = 0;  // 0: not an alert's (a campaign message, a revival touch)
  std::string channel_id{};
  std::string idempotency_key{};  // the channel's de-duplication key; one row per key
  Envelope envelope{};
  // With a group key and a digest window, the message joins its group's open
  // window (due with the group's first) or opens one of digest_window_ms.
  std::string group_key{};
  std::int64_t digest_window_ms = 0;
};

// One pending notification of the outbox.
struct OutboxItem {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;
  std::string channel_id;
  std::string key;
  Envelope envelope;
  int attempts = 0;
  std::string group_key;   // "" when not in a digest group
  std::string digest_key;  // "" until the notification is put in a digest
};

// One message to a channel: a notification alone (its own key), or a digest
// of several (the digest's key, stored on each member before the send).
struct Batch {
  std::string key;
  std::vector<const OutboxItem*> items;
};

// One row of the outbox as listed to people.
struct OutboxRow {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;
  std::string channel_id;
  std::string state;
  int attempts = 0;
  std::string last_error;
  std::string title;
};

struct DeliveryCounts {
  std::size_t delivered = 0;
  std::size_t partial = 0;
  std::size_t retried = 0;
  std::size_t dead = 0;
  std::size_t held = 0;                                // by quiet hours or a recipient cap, released when they allow
  std::size_t paced = 0;                               // waiting for the channel's per-minute window
  std::size_t messages = 0;                            // messages the channels carried (a digest is one)
  std::size_t digested = 0;                            // notifications that went out inside a digest
  std::map<std::string, std::size_t> dead_by_channel;  // of `dead`

  DeliveryCounts& operator+=(const DeliveryCounts& other);
};

}  // namespace crm::host
