#include "api/rest_api.hpp"

#include <chrono>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/problem.hpp"
#include "api/routes.hpp"
#include "app/errors.hpp"
#include "core/config.hpp"
#include "store/job_lock.hpp"
#include "store/store_error.hpp"

namespace crm::host::api {

namespace {

std::string_view path_of(std::string_view target) {
  const std::size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

std::optional<std::string_view> bearer_token(const http::Request& request) {
  const std::optional<std::string_view> header = request.header("authorization");
  if (!header) {
    return std::nullopt;
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (header->size() <= kScheme.size()) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*header)[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return std::nullopt;
    }
  }
  return header->substr(kScheme.size());
}

}  // namespace

RestApi::RestApi(Session& session, ServiceControl& service, RestApiOptions options)
    : session_(session), service_(service), options_(options) {
  const RouteContext context{session_, service_, options_};
  add_system_routes(router_, context);
  add_customer_routes(router_, context);
  add_alert_routes(router_, context);
  add_winback_routes(router_, context);
  add_ack_routes(router_, context);
  add_wecom_callback_routes(router_, context);
  add_session_routes(router_, context);
  add_overview_routes(router_, context);
  // Last: it sets the permission of every route added above.
  assign_role_permissions(router_);
}

http::Response RestApi::handle(const http::Request& request) const {
  const auto started = std::chrono::steady_clock::now();
  std::string route_template = "unmatched";
  http::Response response = dispatch(request, route_template);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  service_.observe_request(route_template, request.method, response.status, seconds);
  return response;
}

http::Response RestApi::dispatch(const http::Request& request, std::string& route_template) const {
  const std::string_view raw_path = path_of(request.target);
  const Router::Match match = router_.match(request.method, raw_path);
  if (match.route == nullptr) {
    if (!match.allowed_methods.empty()) {
      http::Response response = problem_response(
          405, "method-not-allowed", "Method not allowed",
          fmt::format("{} is not allowed here; allowed: {}", request.method, fmt::join(match.allowed_methods, ", ")),
          request.path);
      response.headers.emplace_back("Allow", fmt::format("{}", fmt::join(match.allowed_methods, ", ")));
      return response;
    }
    if (std::optional<http::Response> page = web_response(request, route_template)) {
      return std::move(*page);
    }
    return problem_response(404, "not-found", "Not found", "no such route", request.path);
  }
  const Route& route = *match.route;
  route_template = route.path_template;
  RouteRequest route_request{request, match.params, {}};
  if (route.scope != Scope::none) {
    const std::optional<std::string_view> token = bearer_token(request);
    // A bearer token wins over a cookie: scripts keep working as they did.
    const std::optional<std::string_view> cookie =
        token || request.header("authorization") ? std::nullopt : session_cookie(request);
    if (cookie) {
      http::Response refusal;
      std::optional<Caller> caller = cookie_caller(request, route, *cookie, refusal);
      if (!caller) {
        return refusal;
      }
      route_request.caller = std::move(*caller);
    } else {
      std::optional<Caller> caller = token ? service_.authenticate(*token) : std::nullopt;
      if (!caller) {
        http::Response response = problem_response(
            401, "unauthorized", "Unauthorized",
            token ? "the bearer token is unknown or revoked"
                  : "this route needs an API token: Authorization: Bearer <token> (crmhost tokens create)",
            request.path);
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"crmhost\"");
        return response;
      }
      if (!grants(caller->scope, route.scope)) {
        return problem_response(403, "forbidden", "Forbidden",
                                fmt::format("this route needs the {} scope; the token '{}' has {}",
                                            scope_name(route.scope), caller->name, scope_name(caller->scope)),
                                request.path);
      }
      route_request.caller = std::move(*caller);
    }
  }
  try {
    http::Response response = route.handler(route_request);
    if (request.method == "HEAD") {
      response.body.clear();
    }
    return response;
  } catch (const ApiError& e) {
    return problem_response(e, request.path);
  } catch (const LastAdminError& e) {
    return problem_response(409, "last-admin", "Last admin", e.what(), request.path);
  } catch (const InvalidRequest& e) {
    return problem_response(400, "invalid-request", "Invalid request", e.what(), request.path);
  } catch (const NotFound& e) {
    return problem_response(404, "not-found", "Not found", e.what(), request.path);
  } catch (const JobLockBusy& e) {
    return problem_response(409, "conflict", "Busy", e.what(), request.path);
  } catch (const PluginsRefused& e) {
    return problem_response(503, "plugins-refused", "Plugins refused", e.what(), request.path);
  } catch (const StoreError& e) {
    // The store's own message may name files, URLs or statements: only the log sees it.
    session_.logger().log(LogLevel::error, "api", fmt::format("{} {}: {}", request.method, request.path, e.what()));
    return problem_response(503, "store-unavailable", "Store unavailable",
                            "the store could not answer; the server log says why", request.path);
  } catch (const std::exception& e) {
    session_.logger().log(LogLevel::error, "api", fmt::format("{} {}: {}", request.method, request.path, e.what()));
    return problem_response(500, "internal", "Internal error", "the request failed; the server log says why",
                            request.path);
  }
}

std::optional<Caller> RestApi::cookie_caller(const http::Request& request, const Route& route, std::string_view cookie,
                                             http::Response& refusal) const {
  std::optional<SignedInUser> signed_in;
  try {
    const StoreHandle store = session_.open_store();
    signed_in = authenticate_web_session(*store, cookie, session_.clock().now_ms(), options_.web_sessions);
  } catch (const std::exception& e) {
    // The store's own message may name files or URLs: only the log sees it.
    session_.logger().log(LogLevel::error, "api", fmt::format("session lookup for {}: {}", request.path, e.what()));
    refusal = problem_response(503, "store-unavailable", "Store unavailable",
                               "the store could not answer; the server log says why", request.path);
    return std::nullopt;
  }
  if (!signed_in) {
    refusal =
        unauthorized_response(request, "the session has ended or is unknown: sign in again (POST /api/v1/session)",
                              true, options_.secure_cookies);
    return std::nullopt;
  }
  if (std::optional<http::Response> csrf = csrf_refusal(request, &*signed_in)) {
    refusal = std::move(*csrf);
    return std::nullopt;
  }
  const Role role = signed_in->user.role;
  const std::string_view needed = router_.permission_of(route);
  // An admin may do everything, routes that name no permission included.
  if (role != Role::admin && !role_allows(role, needed)) {
    refusal = problem_response(403, "forbidden", "Forbidden",
                               fmt::format("this needs the {} permission; {} (role {}) does not have it", needed,
                                           signed_in->user.name, role_name(role)),
                               request.path);
    return std::nullopt;
  }
  Caller caller;
  caller.name = signed_in->user.name;
  caller.scope = role == Role::admin ? Scope::admin : Scope::write;
  caller.user = std::move(signed_in);
  return caller;
}

}  // namespace crm::host::api
