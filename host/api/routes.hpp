#pragma once

// Shared by the route files of the REST API; not part of its interface.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/problem.hpp"
#include "api/rest_api.hpp"
#include "api/router.hpp"
#include "app/session.hpp"

namespace crm::host::api {

struct RouteContext {
  Session& session;
  ServiceControl& service;
  const RestApiOptions& options;
};

void add_customer_routes(Router& router, RouteContext context);
void add_alert_routes(Router& router, RouteContext context);
void add_winback_routes(Router& router, RouteContext context);
void add_system_routes(Router& router, RouteContext context);
void add_ack_routes(Router& router, RouteContext context);
// GET /api/v1/overview: the web app's overview (app/overview.hpp).
void add_overview_routes(Router& router, RouteContext context);
// The WeCom callback endpoint, when options.wecom_callback is set.
void add_wecom_callback_routes(Router& router, RouteContext context);

// A JSON answer (status 200 unless given).
http::Response json_response(const nlohmann::json& body, int status = 200);
// {"items": items}.
http::Response items_response(nlohmann::json items);
// The request's body as a JSON object; 415 unless it is application/json, 400 when it does not parse.
nlohmann::json json_body(const RouteRequest& request);
// A string member of `body`: 400 naming it when required and missing, or not a string.
std::string body_text(const nlohmann::json& body, std::string_view name, bool required);
// Query parameters: 400 naming the parameter when malformed.
std::string query_text(const RouteRequest& request, std::string_view name);
std::optional<std::int64_t> query_integer(const RouteRequest& request, std::string_view name, std::int64_t min,
                                          std::int64_t max);
std::optional<bool> query_boolean(const RouteRequest& request, std::string_view name);
// A path parameter that must be an integer id: 400 when it is not a number, 404 when it cannot exist.
std::int64_t id_param(const RouteRequest& request, std::string_view name);
// An RFC 3339 time or YYYY-MM-DD date as epoch milliseconds; 400 naming `what` otherwise.
std::int64_t parse_time_ms(std::string_view text, std::string_view what);

}  // namespace crm::host::api
