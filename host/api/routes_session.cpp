// Browser sessions (the crm_session cookie and its CSRF token) and the admin routes of users.
#include <algorithm>
#include <fmt/format.h>
#include <functional>
#include <openssl/crypto.h>

#include "api/routes.hpp"
#include "app/errors.hpp"
#include "app/result_json.hpp"
#include "app/users.hpp"
#include "core/dates.hpp"

namespace crm::host::api {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool safe_method(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

http::Response csrf_problem(const http::Request& request, std::string_view detail) {
  return problem_response(403, "csrf", "Cross-site request refused", detail, request.path);
}

// Origin "http://host:port" against the Host header: a browser sends Origin on
// every cross-site write, so a page of another site cannot use the cookie.
bool origin_matches_host(const http::Request& request, std::string_view origin) {
  const std::size_t scheme_end = origin.find("://");
  const std::optional<std::string_view> host = request.header("host");
  if (scheme_end == std::string_view::npos || !host) {
    return false;
  }
  const std::string_view scheme = origin.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return false;
  }
  return origin.substr(scheme_end + 3) == trim(*host);
}

http::Response no_content(std::optional<std::string> set_cookie = std::nullopt) {
  http::Response response;
  response.status = 204;
  response.content_type.clear();
  if (set_cookie) {
    response.headers.emplace_back("Set-Cookie", std::move(*set_cookie));
  }
  return response;
}

// An optional string member: nullopt when absent; 400 when present but not a string.
std::optional<std::string> optional_text(const nlohmann::json& body, std::string_view name) {
  const auto found = body.find(name);
  if (found == body.end()) {
    return std::nullopt;
  }
  if (!found->is_string()) {
    throw invalid_request(fmt::format("'{}' must be a string", name));
  }
  return found->get<std::string>();
}

Role role_member(const std::string& text) {
  const std::optional<Role> role = parse_role(text);
  if (!role) {
    throw invalid_request("'role' must be one of account_manager, csm, cs_director, coo, admin");
  }
  return *role;
}

std::optional<std::vector<std::string>> owner_ids_member(const nlohmann::json& body) {
  const auto found = body.find("owner_ids");
  if (found == body.end()) {
    return std::nullopt;
  }
  if (!found->is_array() ||
      !std::all_of(found->begin(), found->end(), [](const nlohmann::json& item) { return item.is_string(); })) {
    throw invalid_request("'owner_ids' must be an array of strings");
  }
  return found->get<std::vector<std::string>>();
}

std::optional<bool> boolean_member(const nlohmann::json& body, std::string_view name) {
  const auto found = body.find(name);
  if (found == body.end()) {
    return std::nullopt;
  }
  if (!found->is_boolean()) {
    throw invalid_request(fmt::format("'{}' must be true or false", name));
  }
  return found->get<bool>();
}

// Refuses members the route does not know, so a typo is not silently ignored.
void only_members(const nlohmann::json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw invalid_request(
          fmt::format("unknown member '{}' (known: {})", key, fmt::join(known.begin(), known.end(), ", ")));
    }
  }
}

}  // namespace

std::optional<std::string_view> session_cookie(const http::Request& request) {
  const std::optional<std::string_view> header = request.header("cookie");
  if (!header) {
    return std::nullopt;
  }
  std::string_view rest = *header;
  while (!rest.empty()) {
    const std::size_t semicolon = rest.find(';');
    const std::string_view pair = trim(rest.substr(0, semicolon));
    rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == kSessionCookie) {
      std::string_view value = pair.substr(equals + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value.empty() ? std::nullopt : std::optional<std::string_view>(value);
    }
  }
  return std::nullopt;
}

std::string session_cookie_header(std::string_view value, bool secure) {
  return fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/{}", kSessionCookie, value, secure ? "; Secure" : "");
}

std::string cleared_session_cookie_header(bool secure) {
  return fmt::format("{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}", kSessionCookie, secure ? "; Secure" : "");
}

std::optional<http::Response> csrf_refusal(const http::Request& request, const SignedInUser* signed_in) {
  if (safe_method(request.method)) {
    return std::nullopt;
  }
  if (const std::optional<std::string_view> origin = request.header("origin")) {
    if (!origin_matches_host(request, trim(*origin))) {
      return csrf_problem(request, "the request comes from another site (its Origin is not this host)");
    }
  }
  if (signed_in == nullptr) {
    return std::nullopt;
  }
  const std::optional<std::string_view> token = request.header("x-csrf-token");
  if (!token) {
    return csrf_problem(request,
                        "a signed-in request that changes something needs the X-CSRF-Token header (the csrf_token "
                        "of the session)");
  }
  const std::string_view expected = signed_in->csrf_token;
  if (token->size() != expected.size() || CRYPTO_memcmp(token->data(), expected.data(), expected.size()) != 0) {
    return csrf_problem(request, "the X-CSRF-Token header is not this session's csrf_token");
  }
  return std::nullopt;
}

http::Response unauthorized_response(const http::Request& request, std::string_view detail, bool clear_cookie,
                                     bool secure) {
  http::Response response = problem_response(401, "unauthorized", "Unauthorized", detail, request.path);
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"crmhost\"");
  if (clear_cookie) {
    response.headers.emplace_back("Set-Cookie", cleared_session_cookie_header(secure));
  }
  return response;
}

void add_session_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  const RestApiOptions& options = context.options;

  // The person signed in with the request's cookie, or an ApiError 401; CSRF checked for writes.
  const auto signed_in_caller = [&session, &options](const RouteRequest& request) -> SignedInUser {
    const std::optional<std::string_view> cookie = session_cookie(request.http);
    std::optional<SignedInUser> signed_in;
    if (cookie) {
      const StoreHandle store = session.open_store();
      signed_in = authenticate_web_session(*store, *cookie, session.clock().now_ms(), options.web_sessions);
    }
    if (!signed_in) {
      throw ApiError(401, "unauthorized", "Unauthorized",
                     cookie ? "the session has ended or is unknown: sign in again (POST /api/v1/session)"
                            : "not signed in: POST /api/v1/session with {\"name\", \"password\"}");
    }
    if (std::optional<http::Response> refusal = csrf_refusal(request.http, &*signed_in)) {
      const nlohmann::json problem = nlohmann::json::parse(refusal->body);
      throw ApiError(403, "csrf", "Cross-site request refused", problem.value("detail", ""));
    }
    return std::move(*signed_in);
  };
  // A 401 of these routes clears the cookie and names the Bearer scheme as every 401 does.
  const auto answer = [&options](const RouteRequest& request, const std::function<http::Response()>& body) {
    try {
      return body();
    } catch (const ApiError& e) {
      if (e.status() != 401) {
        throw;
      }
      return unauthorized_response(request.http, e.what(), session_cookie(request.http).has_value(),
                                   options.secure_cookies);
    }
  };

  router.add({"POST", "/api/v1/session", Scope::none, [&session, &options](const RouteRequest& request) {
                if (std::optional<http::Response> refusal = csrf_refusal(request.http, nullptr)) {
                  return std::move(*refusal);
                }
                const nlohmann::json body = json_body(request);
                const std::string name = body_text(body, "name", true);
                const std::string password = body_text(body, "password", true);
                try {
                  const SignInResult result =
                      sign_in(session, name, password, session.clock().now_ms(), options.web_sessions);
                  http::Response response = json_response(signed_in_json(result.signed_in));
                  response.headers.emplace_back("Set-Cookie",
                                                session_cookie_header(result.cookie_value, options.secure_cookies));
                  response.headers.emplace_back("Cache-Control", "no-store");
                  return response;
                } catch (const SignInRefused& e) {
                  return unauthorized_response(request.http, e.what(), false, options.secure_cookies);
                } catch (const AccountLocked& e) {
                  const std::int64_t wait_s =
                      std::max<std::int64_t>(1, (e.until_ms() - session.clock().now_ms() + 999) / 1000);
                  http::Response response =
                      problem_response(429, "locked", "Account locked",
                                       fmt::format("too many failed sign-ins in a row: the account is locked until {}",
                                                   rfc3339_text(e.until_ms())),
                                       request.http.path);
                  response.headers.emplace_back("Retry-After", std::to_string(wait_s));
                  return response;
                }
              }});
  router.add({"GET", "/api/v1/session", Scope::none, [signed_in_caller, answer](const RouteRequest& request) {
                return answer(request, [&] {
                  http::Response response = json_response(signed_in_json(signed_in_caller(request)));
                  response.headers.emplace_back("Cache-Control", "no-store");
                  return response;
                });
              }});
  router.add(
      {"PATCH", "/api/v1/session", Scope::none, [&session, signed_in_caller, answer](const RouteRequest& request) {
         return answer(request, [&] {
           SignedInUser signed_in = signed_in_caller(request);
           const nlohmann::json body = json_body(request);
           only_members(body, {"language", "time_zone"});
           UserChanges changes;
           changes.language = optional_text(body, "language");
           changes.time_zone = optional_text(body, "time_zone");
           signed_in.user = change_user(session, signed_in.user.name, changes);
           return json_response(signed_in_json(signed_in));
         });
       }});
  router.add({"DELETE", "/api/v1/session", Scope::none, [&session, &options](const RouteRequest& request) {
                const std::optional<std::string_view> cookie = session_cookie(request.http);
                if (cookie) {
                  std::optional<SignedInUser> signed_in;
                  {
                    const StoreHandle store = session.open_store();
                    signed_in =
                        authenticate_web_session(*store, *cookie, session.clock().now_ms(), options.web_sessions);
                  }
                  // A live session ends only with its CSRF token; one already over needs nothing.
                  if (signed_in) {
                    if (std::optional<http::Response> refusal = csrf_refusal(request.http, &*signed_in)) {
                      return std::move(*refusal);
                    }
                  }
                  sign_out(session, *cookie);
                }
                return no_content(cleared_session_cookie_header(options.secure_cookies));
              }});

  router.add({"GET", "/api/v1/users", Scope::admin,
              [&session](const RouteRequest&) { return items_response(users_json(list_users(session))); }});
  router.add({"POST", "/api/v1/users", Scope::admin, [&session](const RouteRequest& request) {
                const nlohmann::json body = json_body(request);
                only_members(body, {"name", "display_name", "role", "language", "time_zone", "owner_ids", "password"});
                NewUser user;
                user.name = body_text(body, "name", true);
                user.role = role_member(body_text(body, "role", true));
                user.display_name = optional_text(body, "display_name").value_or("");
                user.language = optional_text(body, "language").value_or("en");
                user.time_zone = optional_text(body, "time_zone").value_or("UTC");
                user.owner_ids = owner_ids_member(body).value_or(std::vector<std::string>());
                user.password = optional_text(body, "password");
                for (const UserInfo& existing : list_users(session)) {
                  if (existing.name == user.name) {
                    throw ApiError(409, "conflict", "Conflict", fmt::format("a user named '{}' exists", user.name));
                  }
                }
                return json_response(user_json(add_user(session, user)), 201);
              }});
  router.add({"PATCH", "/api/v1/users/{name}", Scope::admin, [&session](const RouteRequest& request) {
                const nlohmann::json body = json_body(request);
                only_members(body, {"display_name", "role", "language", "time_zone", "owner_ids", "password",
                                    "disabled", "unlock"});
                UserChanges changes;
                changes.display_name = optional_text(body, "display_name");
                if (const std::optional<std::string> role = optional_text(body, "role")) {
                  changes.role = role_member(*role);
                }
                changes.language = optional_text(body, "language");
                changes.time_zone = optional_text(body, "time_zone");
                changes.owner_ids = owner_ids_member(body);
                changes.disabled = boolean_member(body, "disabled");
                changes.password = optional_text(body, "password");
                changes.unlock = boolean_member(body, "unlock").value_or(false);
                return json_response(user_json(change_user(session, request.param("name"), changes)));
              }});
  router.add({"DELETE", "/api/v1/users/{name}", Scope::admin, [&session](const RouteRequest& request) {
                remove_user(session, request.param("name"));
                return no_content();
              }});
}

}  // namespace crm::host::api

namespace crm::host::api {

void assign_role_permissions(Router& router) {
  using namespace permission;
  // Reads of what the pages show need only kRead, the default of every read route.
  const struct {
    std::string_view method;
    std::string_view path;
    std::string_view permission;
  } kTable[] = {
      {"POST", "/api/v1/customers/{customer}/follow-ups", kFollowupsWrite},
      {"POST", "/api/v1/alerts/{alert}/acknowledge", kAlertsWrite},
      {"POST", "/api/v1/alerts/{alert}/resolve", kAlertsWrite},
      // Own tasks for an account manager: the route checks the task's owner (routes_winback.cpp).
      {"POST", "/api/v1/tasks/{task}/close", kTasksCloseOwn},
      {"PUT", "/api/v1/churn/{customer}/reason", kChurnWrite},
      {"POST", "/api/v1/churn/{customer}/whys", kChurnWrite},
      {"POST", "/api/v1/outbox/{notification}/resend", kOutboxResend},
      {"GET", "/api/v1/plugins", kPluginsRead},
      {"GET", "/api/v1/connectors", kPluginsRead},
      {"GET", "/api/v1/connectors/{connector}/quarantine", kPluginsRead},
      {"POST", "/api/v1/connectors/{connector}/quarantine/retry", kPluginsWrite},
      {"POST", "/api/v1/events", kEventsWrite},
      {"GET", "/api/v1/jobs", kJobsRead},
      {"POST", "/api/v1/jobs/{job}/run", kJobsRun},
      {"GET", "/api/v1/tokens", kTokensAdmin},
      {"POST", "/api/v1/tokens", kTokensAdmin},
      {"DELETE", "/api/v1/tokens/{name}", kTokensAdmin},
      {"GET", "/api/v1/users", kUsersAdmin},
      {"POST", "/api/v1/users", kUsersAdmin},
      {"PATCH", "/api/v1/users/{name}", kUsersAdmin},
      {"DELETE", "/api/v1/users/{name}", kUsersAdmin},
  };
  for (const auto& entry : kTable) {
    router.set_permission(entry.method, entry.path, entry.permission);
  }
}

}  // namespace crm::host::api
