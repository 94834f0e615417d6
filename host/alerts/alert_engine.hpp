#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert_message.hpp"
#include "alerts/alert_settings.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "loader/channel_call.hpp"
#include "loader/plugin_host.hpp"
#include "outbox/dispatcher.hpp"
#include "outbox/outbox.hpp"
#include "outbox/outbox_types.hpp"
#include "scoring/settings.hpp"
#include "store/alert_repository.hpp"
#include "store/store.hpp"

namespace crm::host {

// The reasons of alerts raised by events (raise_customer_event), which scoring runs leave alone.
inline constexpr const char* kEventAlertReasons[] = {"customer_removed_owner", "handover_failed"};
// raise_customer_event's level for "the CS director": two levels above a signal (orange by default).
inline constexpr const char* kEventAlertLevelDirector = "@director";

struct AlertCounts {
  std::size_t opened = 0;
  std::size_t updated = 0;
  std::size_t renotified = 0;
  std::size_t resolved = 0;
  std::size_t escalated = 0;
  std::map<std::string, std::size_t> opened_by_level;
};

// Alerts from scoring runs, their SLAs and escalation, and their delivery
// through the outbox (host/outbox): a notification is written before it is
// sent and marked after, so a crash loses nothing and repeats at most the one
// send in flight (which carries the same idempotency key). AlertRow,
// OutboxRow, OutboxItem, Batch and DeliveryCounts come from the store and
// outbox headers included above.
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
  // One alert about customer `customer_id` for something that happened to it
  // (a WeCom change event: "customer_removed_owner", "handover_failed"),
  // raised at once rather than by a scoring run, at `level` ("" : the signal
  // level; kEventAlertLevelDirector: the level the CS director owns). Raised
  // once while open (a second event updates its detail); only people resolve
  // it: a scoring run never ends it. Returns the alert's id.
  std::int64_t raise_customer_event(std::int64_t customer_id, const std::string& reason, const std::string& level,
                                    const std::string& title, const std::string& detail);
  // Alerts past their deadline without acknowledgement move up one level;
  // alerts without a first response in time, or acknowledged and not closed
  // in time, remind their people once. Returns the number escalated.
  std::size_t escalate();
  // Sends every due notification of the outbox once. When notifications die,
  // one alert per channel says so (reason `delivery_dead:<channel>`, routed
  // like any alert but never to the channel it is about) and goes out at once.
  DeliveryCounts deliver();

  bool acknowledge(std::int64_t alert_id, const std::string& by, const std::string& note = {});
  bool resolve(std::int64_t alert_id, const std::string& by, const std::string& note);
  // Puts a dead notification back in the queue.
  bool resend(std::int64_t outbox_id);

  std::vector<AlertRow> list(const std::string& state_filter);
  std::vector<OutboxRow> outbox(const std::string& state_filter);
  // Median milliseconds from opening to acknowledgement over acknowledged alerts (nullopt: none yet).
  std::optional<double> median_time_to_acknowledge_ms();

  // The role that owns alerts of `level`: its band's owner (a level no band
  // has, such as signal, goes to the second band's owner).
  [[nodiscard]] std::string owner_role(const std::string& level) const;

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
  // How a notification reads for `recipient` ("" : a channel without
  // recipients): the recipient's settings, then the route's, then the section's.
  [[nodiscard]] MessageStyle message_style(const AlertRoute* route, const std::string& recipient,
                                           const std::string& level) const;
  void notify(std::int64_t alert_id, std::int64_t customer_id, const std::string& reason, const Condition& condition,
              const std::string& event);
  // What the notification of `event` says: the customer as people know them,
  // the top reasons, the value at stake and the deadline, read from the store.
  AlertFacts alert_facts(std::int64_t alert_id, std::int64_t customer_id, const std::string& reason,
                         const Condition& condition, const std::string& event);
  std::vector<std::string> resolve_recipients(const std::vector<std::string>& recipients,
                                              const Condition& condition) const;

  Store& store_;
  PluginHost& plugins_;
  Logger& logger_;
  const Clock& clock_;
  AlertSettings settings_;
  ScoringSettings scoring_;
  AlertRepository alerts_;
  Outbox outbox_;
  Dispatcher dispatcher_;
};

}  // namespace crm::host
