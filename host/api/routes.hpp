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
// The web app (host/web, routes_web.cpp) for a GET or HEAD no route matched: `/` redirects to
// /app/overview, /app/... is the shell, /assets/<build id>/... its files. nullopt for other paths;
// sets `route_template` ("/app/*"...) for the metrics when it answers.
std::optional<http::Response> web_response(const http::Request& request, std::string& route_template);
// /api/v1/session (sign in, who am I, preferences, sign out) and /api/v1/users (admin).
void add_session_routes(Router& router, RouteContext context);

// What each role may do, route by route (the matrix of issue 15): sets the
// permission of every route that writes or shows plugins, connectors, jobs or tokens.
void assign_role_permissions(Router& router);

// Browser sessions (routes_session.cpp). The cookie's name.
inline constexpr std::string_view kSessionCookie = "crm_session";
// The value of the crm_session cookie the request carries, or nullopt.
std::optional<std::string_view> session_cookie(const http::Request& request);
// Set-Cookie values: a new session's cookie, and one that makes the browser forget it.
std::string session_cookie_header(std::string_view value, bool secure);
std::string cleared_session_cookie_header(bool secure);
// For a request that changes something with the session cookie: a 403 problem
// (type csrf) when its Origin is not this host, or its X-CSRF-Token is not the
// session's; nullopt when it passes. GET and HEAD always pass.
std::optional<http::Response> csrf_refusal(const http::Request& request, const SignedInUser* signed_in);
// The 401 of a route that needs a signed-in person or a token.
http::Response unauthorized_response(const http::Request& request, std::string_view detail, bool clear_cookie,
                                     bool secure);

// A JSON answer (status 200 unless given).
http::Response json_response(const nlohmann::json& body, int status = 200);
// {"items": items}.
http::Response items_response(nlohmann::json items);
// The request's body as a JSON object; 415 unless it is application/json, 400 when it does not parse.
nlohmann::json json_body(const RouteRequest& request);
// A string member of `body`: 400 naming it when required and missing, or not a string.
std::string body_text(const nlohmann::json& body, std::string_view name, bool required);
// Who does what a write records (acknowledged by, resolved by, closed by): a
// signed-in person is who they signed in as, whatever the body's "by" says;
// a token's caller names the person in "by" (400 when missing).
std::string acting_person(const RouteRequest& request, const nlohmann::json& body);
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
