#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert_engine.hpp"
#include "app/session.hpp"

namespace crm::host {

struct AlertList {
  std::vector<AlertRow> alerts;  // oldest first
  std::optional<double> median_time_to_acknowledge_ms;
};

// Alerts in `state` (open, acknowledged, resolved; "" for all).
AlertList list_alerts(Session& session, const std::string& state);

// One alert; NotFound when there is none with that id.
AlertRow show_alert(Session& session, std::int64_t alert_id);

// Notifications in `state` (pending, sent, dead; "" for all).
std::vector<OutboxRow> list_outbox(Session& session, const std::string& state);

// Each throws NotFound when the alert (notification) is not open (unresolved, dead).
void acknowledge_alert(Session& session, std::int64_t alert_id, const std::string& by);
void resolve_alert(Session& session, std::int64_t alert_id, const std::string& by, const std::string& note);
void resend_notification(Session& session, std::int64_t outbox_id);

}  // namespace crm::host
