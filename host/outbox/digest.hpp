#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loader/channel_call.hpp"
#include "outbox/outbox_types.hpp"

namespace crm::host {

// What one channel sends in one pass, and the digests to store before sending.
struct BatchPlan {
  std::vector<Batch> batches;  // by the id of their first notification
  // (notification id, digest key) of digests formed now: stored first, so a
  // crash repeats the same message with the same members.
  std::vector<std::pair<std::int64_t, std::string>> new_digest_members;
};

// Forms a channel's messages from its due notifications (queue order):
// digests formed before go out as they were; a digest group's members are
// packed into digests; the others go alone, unless there are more messages
// than `budget` (the channel's per-minute room), when those to the same
// recipients are packed together too.
BatchPlan plan_batches(const std::string& channel_id, const std::vector<const OutboxItem*>& items,
                       std::size_t max_bytes, std::int64_t budget);

// Packs `members` into digests of at most `max_bytes` (0: no limit), one line
// each; a digest of one is the notification itself, under its own key.
void pack_digests(const std::string& channel_id, const std::vector<const OutboxItem*>& members, std::size_t max_bytes,
                  std::vector<Batch>& out);

// The message a channel receives for a batch: the notification itself, or a
// digest with one line per member; text cut to `max_bytes` (0: no limit).
[[nodiscard]] Notification render(const Batch& batch, std::size_t max_bytes);

}  // namespace crm::host
