#include "outbox/dispatcher.hpp"

#include <algorithm>
#include <atomic>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "outbox/digest.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMinuteMs = 60'000;

}  // namespace

Dispatcher::Dispatcher(Database& db, PluginHost& plugins, Logger& logger, const Clock& clock, DeliveryPolicy policy)
    : db_(db),
      repository_(db),
      plugins_(plugins),
      logger_(logger),
      clock_(clock),
      policy_(std::move(policy)),
      jitter_(static_cast<std::uint64_t>(clock.now_ms())) {}

DeliveryCounts Dispatcher::deliver_due() {
  recent_sends_.reset();
  DeliveryCounts counts;
  std::vector<OutboxItem> due;
  for (OutboxRecord& record : repository_.due(clock_.now_ms())) {
    due.push_back({record.id, record.alert_id, std::move(record.channel_id), std::move(record.idempotency_key),
                   Envelope::from_json(nlohmann::json::parse(record.notification_json)), record.attempts,
                   std::move(record.group_key), std::move(record.digest_key)});
  }
  if (due.empty()) {
    return counts;
  }
  const std::vector<const OutboxItem*> ready = hold_back(due, counts);
  std::map<std::string, std::vector<const OutboxItem*>> by_channel;
  for (const OutboxItem* item : ready) {
    by_channel[item->channel_id].push_back(item);
  }
  for (const auto& [channel_id, items] : by_channel) {
    deliver_channel(channel_id, items, counts);
  }
  return counts;
}

// The recipient cap and every channel's per-recipient limits read the same
// hour of sends: read and parsed once per pass.
const std::vector<Dispatcher::RecentSend>& Dispatcher::recent_sends(std::int64_t now_ms) {
  if (!recent_sends_) {
    recent_sends_.emplace();
    for (SentRecord& sent : repository_.sent_since(now_ms - kHourMs)) {
      Envelope envelope = Envelope::from_json(nlohmann::json::parse(sent.notification_json, nullptr, false));
      recent_sends_->push_back(
          {std::move(sent.channel_id), std::move(sent.message_key), sent.sent_ms, std::move(envelope.recipients)});
    }
  }
  return *recent_sends_;
}

std::vector<const OutboxItem*> Dispatcher::hold_back(const std::vector<OutboxItem>& due, DeliveryCounts& counts) {
  const std::int64_t now = clock_.now_ms();
  DeliveryScheduler scheduler(policy_.quiet_hours, policy_.recipient_cap, now);
  if (scheduler.needs_recent_sends()) {
    for (const RecentSend& sent : recent_sends(now)) {
      scheduler.remember_sent(sent.recipients, sent.message_key, sent.sent_ms);
    }
  }
  std::vector<const OutboxItem*> ready;
  Transaction transaction(db_);
  for (const OutboxItem& item : due) {
    if (const std::optional<Hold> hold = scheduler.admit(item)) {
      repository_.hold(item.id, hold->until_ms, hold->why, hold->group_key);
      ++counts.held;
      continue;
    }
    ready.push_back(&item);
  }
  transaction.commit();
  return ready;
}

void Dispatcher::deliver_channel(const std::string& channel_id, const std::vector<const OutboxItem*>& items,
                                 DeliveryCounts& counts) {
  const std::int64_t now = clock_.now_ms();
  LoadedPlugin* channel = plugins_.find(channel_id);
  const auto stopped = channel == nullptr ? std::nullopt : channel->stopped_reason();
  if (channel == nullptr || channel->channel_api() == nullptr || stopped) {
    DeliveryResult missing;
    missing.error = fmt::format("channel '{}' is not loaded", channel_id);
    if (stopped) {
      // A channel that returned FATAL gets nothing more in this process (crm/abi.h).
      missing.outcome = DeliveryOutcome::permanent;
      missing.channel_out_of_use = true;
      missing.error = fmt::format("channel '{}' is out of use until the host restarts, after a fatal error: {}",
                                  channel_id, *stopped);
    }
    Transaction transaction(db_);
    for (const OutboxItem* item : items) {
      record_result({item->key, {item}}, missing, counts);
    }
    transaction.commit();
    return;
  }
  const std::uint32_t per_minute = channel->channel_api()->messages_per_minute;
  const std::size_t max_bytes = channel->channel_api()->max_message_bytes;

  ChannelPacer pacer(per_minute, 0, now);
  if (per_minute > 0) {
    const ChannelSends recent = repository_.channel_sends_since(channel_id, now - kMinuteMs);
    pacer = ChannelPacer(per_minute, recent.messages, recent.first_sent_ms.value_or(now));
  }
  // Per-recipient limits (ABI 1.3; zeros from older plugins: none) count
  // messages as they go out, so a digest counts once.
  RecipientPacer recipient_pacer(
      channel_id,
      {channel->channel_api()->recipient_messages_per_minute, channel->channel_api()->recipient_messages_per_hour},
      now);
  if (recipient_pacer.limited()) {
    for (const RecentSend& sent : recent_sends(now)) {
      if (sent.channel_id == channel_id) {
        recipient_pacer.remember_sent(sent.recipients, sent.message_key, sent.sent_ms);
      }
    }
  }
  const BatchPlan plan = plan_batches(channel_id, items, max_bytes, pacer.budget());
  {
    // The digest's membership is stored before it is sent, so a crash repeats the same message.
    Transaction transaction(db_);
    for (const auto& [item_id, digest_key] : plan.new_digest_members) {
      repository_.assign_digest(item_id, digest_key);
    }
    transaction.commit();
  }
  const std::vector<Batch>& batches = plan.batches;

  if (!pacer.limited() && !recipient_pacer.limited() && policy_.max_in_flight > 1 && batches.size() > 1 &&
      channel->has_capability(CRM_CAP_THREAD_SAFE)) {
    send_concurrently(*channel, batches, max_bytes, counts);
    return;
  }
  for (std::size_t b = 0; b < batches.size(); ++b) {
    if (pacer.window_full()) {
      // Wait for the minute window rather than drop.
      Transaction transaction(db_);
      for (std::size_t rest = b; rest < batches.size(); ++rest) {
        for (const OutboxItem* item : batches[rest].items) {
          repository_.hold(item->id, pacer.next_window_ms(), "paced: channel limit per minute reached", "");
          ++counts.paced;
        }
      }
      transaction.commit();
      break;
    }
    std::vector<std::string> recipients;
    for (const OutboxItem* item : batches[b].items) {
      for (const std::string& recipient : item->envelope.recipients) {
        if (std::find(recipients.begin(), recipients.end(), recipient) == recipients.end()) {
          recipients.push_back(recipient);
        }
      }
    }
    if (const std::optional<Hold> hold = recipient_pacer.hold(recipients)) {
      // Past the limits the service would drop it silently, whatever its level:
      // held, and released with what else waits for these recipients, as a digest.
      Transaction transaction(db_);
      for (const OutboxItem* item : batches[b].items) {
        repository_.hold(item->id, hold->until_ms, hold->why, hold->group_key);
        ++counts.held;
      }
      transaction.commit();
      continue;
    }
    const DeliveryResult result = send_notification(*channel, render(batches[b], max_bytes));
    Transaction transaction(db_);
    record_result(batches[b], result, counts);
    transaction.commit();
    if (result.outcome == DeliveryOutcome::delivered || result.outcome == DeliveryOutcome::partial) {
      pacer.count_send();
      recipient_pacer.remember_sent(recipients, batches[b].key, now);
    }
  }
}

// A thread-safe channel gets max_in_flight sends at once; the store is only
// touched from this thread, one transaction per chunk of results. A crash
// repeats at most the chunk in flight, under the same idempotency keys.
void Dispatcher::send_concurrently(LoadedPlugin& channel, const std::vector<Batch>& batches, std::size_t max_bytes,
                                   DeliveryCounts& counts) {
  constexpr std::size_t kChunk = 256;
  for (std::size_t begin = 0; begin < batches.size(); begin += kChunk) {
    const std::size_t end = std::min(batches.size(), begin + kChunk);
    std::vector<Notification> rendered;
    rendered.reserve(end - begin);
    for (std::size_t b = begin; b < end; ++b) {
      rendered.push_back(render(batches[b], max_bytes));
    }
    std::vector<DeliveryResult> results(rendered.size());
    std::atomic<std::size_t> next{0};
    const auto worker = [&] {
      for (std::size_t i = next++; i < rendered.size(); i = next++) {
        results[i] = send_notification(channel, rendered[i]);
      }
    };
    const auto helpers = std::min<std::size_t>(static_cast<std::size_t>(policy_.max_in_flight), rendered.size()) - 1;
    std::vector<std::thread> threads;
    threads.reserve(helpers);
    for (std::size_t t = 0; t < helpers; ++t) {
      threads.emplace_back(worker);
    }
    worker();
    for (std::thread& thread : threads) {
      thread.join();
    }
    Transaction transaction(db_);
    for (std::size_t i = 0; i < results.size(); ++i) {
      record_result(batches[begin + i], results[i], counts);
    }
    transaction.commit();
  }
}

void Dispatcher::record_result(const Batch& batch, const DeliveryResult& result, DeliveryCounts& counts) {
  if (result.stopped_channel) {
    logger_.log(LogLevel::error, "alerts",
                fmt::format("{}; what it was to send is marked dead (`crmhost alerts resend` after a fix)",
                            logger_.redact(result.error)));
  }
  const std::int64_t now = clock_.now_ms();
  int attempts = 0;
  for (const OutboxItem* item : batch.items) {
    attempts = std::max(attempts, item->attempts + 1);
  }
  if (result.outcome == DeliveryOutcome::delivered || result.outcome == DeliveryOutcome::partial) {
    const std::string note = result.failed_recipients.empty()
                                 ? std::string()
                                 : fmt::format("partial: refused {}", nlohmann::json(result.failed_recipients).dump());
    for (const OutboxItem* item : batch.items) {
      repository_.mark_sent(item->id, now, attempts, note);
    }
    (result.outcome == DeliveryOutcome::delivered ? counts.delivered : counts.partial) += batch.items.size();
    ++counts.messages;
    if (batch.items.size() > 1) {
      counts.digested += batch.items.size();
    }
    return;
  }
  const std::string error = logger_.redact(result.error);
  const bool dead = result.outcome == DeliveryOutcome::permanent || policy_.retry.gives_up_after(attempts);
  const std::int64_t wait_ms = std::max(
      result.retry_after_ms, policy_.retry.wait_ms(attempts, [this] { return static_cast<std::uint64_t>(jitter_()); }));
  for (const OutboxItem* item : batch.items) {
    repository_.mark_failed(item->id, attempts, now + wait_ms, error, dead);
  }
  if (dead) {
    counts.dead += batch.items.size();
    counts.dead_by_channel[batch.items.front()->channel_id] += batch.items.size();
  }
  if (dead && !result.channel_out_of_use && !result.stopped_channel) {
    logger_.log(LogLevel::warn, "alerts",
                fmt::format("notification {} to '{}' is dead after {} attempt(s): {}", batch.key,
                            batch.items.front()->channel_id, attempts, error));
  } else if (!dead) {
    counts.retried += batch.items.size();
  }
}

}  // namespace crm::host
