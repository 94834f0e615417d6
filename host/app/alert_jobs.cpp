#include "app/alert_jobs.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <set>

#include "app/errors.hpp"
#include "outbox/envelope.hpp"
#include "store/alert_repository.hpp"
#include "store/outbox_repository.hpp"

namespace crm::host {

namespace {

// An alert engine over the session's store; plugins are not loaded, since reading and
// changing alerts delivers nothing.
struct AlertContext {
  explicit AlertContext(Session& session)
      : store(session.open_store()),
        host(session.plugins(*store, false)),
        alerts(*store, *host, session.logger(), session.clock(), session.config().alerts, session.config().scoring) {}

  StoreHandle store;
  std::unique_ptr<PluginHost> host;
  AlertEngine alerts;
};

}  // namespace

AlertList list_alerts(Session& session, const std::string& state) {
  AlertContext context(session);
  AlertList list;
  list.alerts = context.alerts.list(state);
  list.median_time_to_acknowledge_ms = context.alerts.median_time_to_acknowledge_ms();
  return list;
}

AlertList list_alerts(Session& session, const AlertFilter& filter) {
  AlertContext context(session);
  AlertList list;
  list.alerts = context.alerts.list(filter.state);
  list.median_time_to_acknowledge_ms = context.alerts.median_time_to_acknowledge_ms();
  if (!filter.owners.empty()) {
    std::erase_if(list.alerts, [&](const AlertRow& alert) {
      return std::find(filter.owners.begin(), filter.owners.end(), context.alerts.owner_role(alert.level)) ==
             filter.owners.end();
    });
  }
  if (filter.overdue_only) {
    const std::int64_t now_ms = session.clock().now_ms();
    std::erase_if(list.alerts, [now_ms](const AlertRow& alert) {
      return alert.state != "open" || alert.deadline_ms <= 0 || alert.deadline_ms >= now_ms;
    });
  }
  if (!filter.recipient.empty()) {
    // The stored text holds the recipient JSON-escaped: search for that, then confirm on the parsed envelope.
    const std::string quoted = nlohmann::json(filter.recipient).dump();
    std::set<std::int64_t> notified;
    for (const AlertNotificationRecord& record :
         OutboxRepository(context.store->database())
             .alert_notifications_containing(quoted.substr(1, quoted.size() - 2))) {
      const nlohmann::json stored = nlohmann::json::parse(record.notification_json, nullptr, false);
      if (stored.is_object()) {
        const Envelope envelope = Envelope::from_json(stored);
        if (std::find(envelope.recipients.begin(), envelope.recipients.end(), filter.recipient) !=
            envelope.recipients.end()) {
          notified.insert(record.alert_id);
        }
      }
    }
    std::erase_if(list.alerts, [&](const AlertRow& alert) { return notified.count(alert.id) == 0; });
  }
  return list;
}

std::vector<AlertNotice> alert_history(Session& session, std::int64_t alert_id) {
  const StoreHandle store = session.open_store();
  if (!AlertRepository(store->database()).find(alert_id)) {
    throw NotFound(fmt::format("no alert {}", alert_id));
  }
  std::vector<AlertNotice> history;
  for (AlertNotificationRecord& record : OutboxRepository(store->database()).alert_notifications(alert_id)) {
    AlertNotice& notice = history.emplace_back();
    notice.outbox_id = record.id;
    notice.channel = std::move(record.channel_id);
    notice.state = std::move(record.state);
    notice.created_ms = record.created_ms;
    notice.sent_ms = record.sent_ms;
    const nlohmann::json stored = nlohmann::json::parse(record.notification_json, nullptr, false);
    if (stored.is_object()) {
      Envelope envelope = Envelope::from_json(stored);
      notice.event = std::move(envelope.event);
      notice.level = std::move(envelope.level);
      notice.recipients = std::move(envelope.recipients);
    }
  }
  return history;
}

AlertRow show_alert(Session& session, std::int64_t alert_id) {
  const StoreHandle store = session.open_store();
  std::optional<AlertRow> alert = AlertRepository(store->database()).find(alert_id);
  if (!alert) {
    throw NotFound(fmt::format("no alert {}", alert_id));
  }
  return *alert;
}

std::vector<OutboxRow> list_outbox(Session& session, const std::string& state) {
  return AlertContext(session).alerts.outbox(state);
}

void acknowledge_alert(Session& session, std::int64_t alert_id, const std::string& by, const std::string& note) {
  if (!AlertContext(session).alerts.acknowledge(alert_id, by, note)) {
    throw NotFound(fmt::format("alert {} is not open", alert_id));
  }
}

void resolve_alert(Session& session, std::int64_t alert_id, const std::string& by, const std::string& note) {
  if (!AlertContext(session).alerts.resolve(alert_id, by, note)) {
    throw NotFound(fmt::format("alert {} is not unresolved", alert_id));
  }
}

void resend_notification(Session& session, std::int64_t outbox_id) {
  if (!AlertContext(session).alerts.resend(outbox_id)) {
    throw NotFound(fmt::format("notification {} is not dead", outbox_id));
  }
}

}  // namespace crm::host
