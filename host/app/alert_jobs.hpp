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

// Which alerts a list shows; empty fields do not filter.
struct AlertFilter {
  std::string state;  // open, acknowledged, resolved
  // Alerts whose level one of these roles owns (AlertEngine::owner_role): a
  // person's "mine" when they are known by several owner names.
  std::vector<std::string> owners;
  // Alerts with a notification sent (or queued) to this recipient (an address
  // or a name, as the alert routes resolved it).
  std::string recipient;
  bool overdue_only = false;  // open, with a response deadline before now (the host clock)
};

// Alerts the filter keeps, oldest first; the median time to acknowledge is of every alert.
AlertList list_alerts(Session& session, const AlertFilter& filter);

// One notification of an alert: its escalation history, reminders and resolution notice.
struct AlertNotice {
  std::int64_t outbox_id = 0;
  std::string event;  // opened, escalated, reminder, resolved
  std::string level;  // the alert's level when it was sent
  std::vector<std::string> recipients;
  std::string channel;
  std::string state;  // pending, sent, dead
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> sent_ms;
};

// The notifications of an alert, oldest first; NotFound when there is no such alert.
std::vector<AlertNotice> alert_history(Session& session, std::int64_t alert_id);

// One alert; NotFound when there is none with that id.
AlertRow show_alert(Session& session, std::int64_t alert_id);

// Notifications in `state` (pending, sent, dead; "" for all).
std::vector<OutboxRow> list_outbox(Session& session, const std::string& state);

// Each throws NotFound when the alert (notification) is not open (unresolved, dead).
// `note`: what the person writes on acknowledging ("" : nothing), kept with the alert.
void acknowledge_alert(Session& session, std::int64_t alert_id, const std::string& by, const std::string& note = {});
void resolve_alert(Session& session, std::int64_t alert_id, const std::string& by, const std::string& note);
void resend_notification(Session& session, std::int64_t outbox_id);

}  // namespace crm::host
