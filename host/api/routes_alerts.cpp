#include <algorithm>
#include <array>
#include <fmt/format.h>

#include "api/routes.hpp"
#include "app/alert_jobs.hpp"
#include "app/result_json.hpp"

namespace crm::host::api {

namespace {

const std::string& alert_state_filter(const std::string& state) {
  static const std::array<std::string, 4> kStates = {"", "open", "acknowledged", "resolved"};
  for (const std::string& known : kStates) {
    if (known == state) {
      return known;
    }
  }
  throw invalid_request("query parameter 'state' must be open, acknowledged or resolved");
}

const std::string& outbox_state_filter(const std::string& state) {
  static const std::array<std::string, 4> kStates = {"", "pending", "sent", "dead"};
  for (const std::string& known : kStates) {
    if (known == state) {
      return known;
    }
  }
  throw invalid_request("query parameter 'state' must be pending, sent or dead");
}

nlohmann::json notification_json(Session& session, std::int64_t outbox_id) {
  for (const nlohmann::json& row : outbox_json(list_outbox(session, ""))) {
    if (row["id"] == outbox_id) {
      return row;
    }
  }
  throw not_found(fmt::format("no notification {}", outbox_id));
}

}  // namespace

void add_alert_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  router.add({"GET", "/api/v1/alerts", Scope::read, [&session](const RouteRequest& request) {
                AlertFilter filter;
                filter.state = alert_state_filter(query_text(request, "state"));
                // owner=a&owner=b or owner=a,b: the levels any of them owns.
                for (const auto& [name, value] : request.http.query) {
                  for (std::size_t start = 0; name == "owner" && start <= value.size();) {
                    const std::size_t comma = std::min(value.find(',', start), value.size());
                    if (comma > start) {
                      filter.owners.push_back(value.substr(start, comma - start));
                    }
                    start = comma + 1;
                  }
                }
                filter.recipient = query_text(request, "recipient");
                filter.overdue_only = query_boolean(request, "overdue").value_or(false);
                const AlertList list = list_alerts(session, filter);
                nlohmann::json body = alert_list_json(list);
                return json_response(
                    {{"items", std::move(body["alerts"])},
                     {"median_time_to_acknowledge_minutes", std::move(body["median_time_to_acknowledge_minutes"])}});
              }});
  router.add({"GET", "/api/v1/alerts/{alert}", Scope::read, [&session](const RouteRequest& request) {
                const std::int64_t alert_id = id_param(request, "alert");
                return json_response(
                    alert_detail_json(show_alert(session, alert_id), alert_history(session, alert_id)));
              }});
  router.add({"POST", "/api/v1/alerts/{alert}/acknowledge", Scope::write, [&session](const RouteRequest& request) {
                const std::int64_t alert_id = id_param(request, "alert");
                const nlohmann::json body = json_body(request);
                show_alert(session, alert_id);
                acknowledge_alert(session, alert_id, acting_person(request, body), body_text(body, "note", false));
                return json_response(
                    alert_detail_json(show_alert(session, alert_id), alert_history(session, alert_id)));
              }});
  router.add({"POST", "/api/v1/alerts/{alert}/resolve", Scope::write, [&session](const RouteRequest& request) {
                const std::int64_t alert_id = id_param(request, "alert");
                const nlohmann::json body = json_body(request);
                show_alert(session, alert_id);
                resolve_alert(session, alert_id, acting_person(request, body), body_text(body, "note", true));
                return json_response(
                    alert_detail_json(show_alert(session, alert_id), alert_history(session, alert_id)));
              }});
  router.add({"GET", "/api/v1/outbox", Scope::read, [&session](const RouteRequest& request) {
                return items_response(
                    outbox_json(list_outbox(session, outbox_state_filter(query_text(request, "state")))));
              }});
  router.add({"POST", "/api/v1/outbox/{notification}/resend", Scope::write, [&session](const RouteRequest& request) {
                const std::int64_t outbox_id = id_param(request, "notification");
                notification_json(session, outbox_id);
                resend_notification(session, outbox_id);
                return json_response(notification_json(session, outbox_id));
              }});
}

}  // namespace crm::host::api
