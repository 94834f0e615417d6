#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/users.hpp"
#include "http/server.hpp"

namespace crm::host::api {

// What a bearer token allows. Each scope includes the ones before it: write
// can read, admin can do everything.
enum class Scope { none, read, write, admin };

std::string_view scope_name(Scope scope);
std::optional<Scope> parse_scope(std::string_view name);
// Whether a caller holding `held` may call a route that needs `needed`.
bool grants(Scope held, Scope needed);

// Who called: the token's name and the highest scope it holds (none: no token, or a route that needs none),
// or, for a browser signed in with the session cookie, the person (`user` set; `name` is theirs).
struct Caller {
  std::string name;
  Scope scope = Scope::none;
  std::optional<SignedInUser> user;
};

// A request matched to a route: the HTTP request, the path template's
// parameters (percent-decoded, one path segment each) and the caller.
struct RouteRequest {
  const http::Request& http;
  std::vector<std::pair<std::string, std::string>> params;
  Caller caller;

  // The path parameter `name`; the route's template guarantees it is there.
  [[nodiscard]] const std::string& param(std::string_view name) const;
};

using RouteHandler = std::function<http::Response(const RouteRequest&)>;

struct Route {
  std::string method;
  std::string path_template;  // "/api/v1/customers/{customer}"
  Scope scope = Scope::read;
  RouteHandler handler;
};

// Routes by method and path template. A template segment `{name}` matches one
// non-empty path segment. Filled once before serving; matching is read-only
// and safe from any number of threads.
class Router {
 public:
  void add(Route route);

  struct Match {
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<std::string> allowed_methods;  // when the path matched but not the method
  };
  // `raw_path` as sent (percent-encoded): segments are split first, then decoded,
  // so an encoded "/" inside SOURCE:EXTERNAL_ID stays inside its segment.
  [[nodiscard]] Match match(std::string_view method, std::string_view raw_path) const;
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }
  // Declares what a signed-in person needs for the route `method` `path_template`
  // (app/users.hpp, permission::); throws std::logic_error when there is no such route.
  void set_permission(std::string_view method, std::string_view path_template, std::string_view permission);
  // What a signed-in person needs for `route`: its declared permission, else
  // permission::kRead for a read route and admin only for any other.
  [[nodiscard]] std::string_view permission_of(const Route& route) const;

 private:
  std::vector<Route> routes_;
  std::vector<std::string_view> permissions_;  // routes_[i]'s declared permission, "" when none
};

// "%2F" -> "/"; nullopt when an escape is malformed. '+' stays '+' (paths are not forms).
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace crm::host::api
