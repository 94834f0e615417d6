#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "core/retry_policy.hpp"
#include "loader/channel_call.hpp"
#include "loader/plugin_host.hpp"
#include "outbox/outbox_types.hpp"
#include "outbox/scheduler.hpp"
#include "store/outbox_repository.hpp"

namespace crm::host {

// How the outbox is sent.
struct DeliveryPolicy {
  RetryPolicy retry;  // of failed sends; retriable ones wait at least what the channel asks
  // Sends in flight at once to a channel that declares itself thread-safe and
  // has no per-minute limit; results are marked in the outbox per chunk.
  int max_in_flight = 8;
  QuietHours quiet_hours;
  RecipientCap recipient_cap;
};

// Sends what is due in the outbox through the channel plugins and marks
// each notification sent, retrying or dead. Quiet hours, recipient caps and
// a channel's per-recipient limits (crm_channel_api, ABI 1.3) hold (never
// drop); a channel's per-minute limit paces, packing what goes to the same
// recipients into digests. A crash repeats at most the sends in
// flight, under the same idempotency keys. Holds a repository over `db`,
// which must outlive it, as must the plugins, logger and clock.
class Dispatcher {
 public:
  Dispatcher(Database& db, PluginHost& plugins, Logger& logger, const Clock& clock, DeliveryPolicy policy);

  // Sends every due notification once.
  DeliveryCounts deliver_due();

 private:
  // A message sent in the last hour, as the recipient cap and pacing count it.
  struct RecentSend {
    std::string channel_id;
    std::string message_key;
    std::int64_t sent_ms = 0;
    std::vector<std::string> recipients;
  };
  const std::vector<RecentSend>& recent_sends(std::int64_t now_ms);
  std::vector<const OutboxItem*> hold_back(const std::vector<OutboxItem>& due, DeliveryCounts& counts);
  void deliver_channel(const std::string& channel_id, const std::vector<const OutboxItem*>& items,
                       DeliveryCounts& counts);
  void send_concurrently(LoadedPlugin& channel, const std::vector<Batch>& batches, std::size_t max_bytes,
                         DeliveryCounts& counts);
  // Marks a batch's notifications sent, retrying or dead; the caller holds the transaction.
  void record_result(const Batch& batch, const DeliveryResult& result, DeliveryCounts& counts);

  Database& db_;
  OutboxRepository repository_;
  PluginHost& plugins_;
  Logger& logger_;
  const Clock& clock_;
  DeliveryPolicy policy_;
  std::mt19937_64 jitter_;
  std::optional<std::vector<RecentSend>> recent_sends_;  // of the current deliver_due pass
};

}  // namespace crm::host
