#include "app/alert_jobs.hpp"

#include <fmt/format.h>

#include "app/errors.hpp"
#include "store/alert_repository.hpp"

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

void acknowledge_alert(Session& session, std::int64_t alert_id, const std::string& by) {
  if (!AlertContext(session).alerts.acknowledge(alert_id, by)) {
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
