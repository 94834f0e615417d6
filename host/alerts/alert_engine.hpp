#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "alerts/alert_settings.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "loader/channel_call.hpp"
#include "loader/plugin_host.hpp"
#include "scoring/settings.hpp"
#include "store/store.hpp"

namespace crm::host {

struct AlertCounts {
  std::size_t opened = 0;
  std::size_t updated = 0;
  std::size_t renotified = 0;
  std::size_t resolved = 0;
  std::size_t escalated = 0;
  std::map<std::string, std::size_t> opened_by_level;
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

// One pending notification of the outbox.
struct OutboxItem {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;
  std::string channel_id;
  std::string key;
  nlohmann::json notification;
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

struct AlertRow {
  std::int64_t id = 0;
  std::int64_t customer_id = 0;
  std::string reason;
  std::string level;
  std::string state;
  std::string title;
  std::int64_t opened_ms = 0;
  std::int64_t deadline_ms = 0;
  int escalation_level = 0;
  std::string acked_by;
  std::int64_t acked_ms = 0;
  std::string resolved_by;
  std::string resolution_note;
};

struct OutboxRow {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;
  std::string channel_id;
  std::string state;
  int attempts = 0;
  std::string last_error;
  std::string title;
};

// Alerts from scoring runs, their SLAs and escalation, and their delivery
// through an outbox: a notification is written before it is sent and marked
// after, so a crash loses nothing and repeats at most the one send in flight
// (which carries the same idempotency key).
class AlertEngine {
 public:
  AlertEngine(Store& store, PluginHost& plugins, Logger& logger, const Clock& clock, AlertSettings settings,
              ScoringSettings scoring);

  // Opens, updates, re-notifies and resolves alerts from scoring run `run_id`.
  AlertCounts evaluate(std::int64_t run_id);
  // One alert for a connector that failed as a whole (customer 0).
  void raise_sync_failure(const std::string& connector_id, const std::string& message);
  // One alert at the top level (red: the director and COO routes) about no one
  // customer, e.g. mass churn; `reason` identifies it (raised once while open).
  // Returns the alert's id.
  std::int64_t raise_strategic(const std::string& reason, const std::string& title, const std::string& detail);
  // Alerts past their deadline without acknowledgement move up one level;
  // alerts without a first response in time, or acknowledged and not closed
  // in time, remind their people once. Returns the number escalated.
  std::size_t escalate();
  // Sends every due notification of the outbox once. When notifications die,
  // one alert per channel says so (reason `delivery_dead:<channel>`, routed
  // like any alert but never to the channel it is about) and goes out at once.
  DeliveryCounts deliver();

  bool acknowledge(std::int64_t alert_id, const std::string& by);
  bool resolve(std::int64_t alert_id, const std::string& by, const std::string& note);
  // Puts a dead notification back in the queue.
  bool resend(std::int64_t outbox_id);

  std::vector<AlertRow> list(const std::string& state_filter);
  std::vector<OutboxRow> outbox(const std::string& state_filter);
  // Median milliseconds from opening to acknowledgement over acknowledged alerts (nullopt: none yet).
  std::optional<double> median_time_to_acknowledge_ms();

 private:
  struct Condition {
    std::string level;
    std::string title;
    std::string detail;
    nlohmann::json labels = nlohmann::json::object();  // tier, abc_class, stage, industry, account_manager
  };
  std::int64_t raise_system_alert(const std::string& reason, const std::string& level, const std::string& title,
                                  const std::string& detail);
  std::int64_t response_ms(const std::string& level) const;
  std::string next_level(const std::string& level) const;
  std::string owner_role(const std::string& level) const;
  void notify(std::int64_t alert_id, std::int64_t customer_id, const std::string& reason, const Condition& condition,
              const std::string& event);
  DeliveryCounts deliver_due();
  std::vector<const OutboxItem*> hold_back(const std::vector<OutboxItem>& due, DeliveryCounts& counts);
  void deliver_channel(const std::string& channel_id, const std::vector<const OutboxItem*>& items,
                       DeliveryCounts& counts);
  void pack_digests(const std::string& channel_id, const std::vector<const OutboxItem*>& members, std::size_t max_bytes,
                    std::vector<Batch>& out) const;
  [[nodiscard]] Notification render(const Batch& batch, std::size_t max_bytes) const;
  void send_concurrently(LoadedPlugin& channel, const std::vector<Batch>& batches, std::size_t max_bytes,
                         DeliveryCounts& counts);
  // Marks a batch's notifications sent, retrying or dead; the caller holds the transaction.
  void record_result(const Batch& batch, const DeliveryResult& result, DeliveryCounts& counts);
  std::vector<std::string> resolve_recipients(const std::vector<std::string>& recipients,
                                              const Condition& condition) const;

  Store& store_;
  PluginHost& plugins_;
  Logger& logger_;
  const Clock& clock_;
  AlertSettings settings_;
  ScoringSettings scoring_;
  std::mt19937_64 jitter_;
};

}  // namespace crm::host
