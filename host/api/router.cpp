#include "api/router.hpp"

#include <array>
#include <fmt/format.h>
#include <stdexcept>

namespace crm::host::api {

namespace {

constexpr std::array<std::string_view, 4> kScopeNames = {"none", "read", "write", "admin"};

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = path.empty() || path.front() != '/' ? 0 : 1;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    segments.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return segments;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

std::string_view scope_name(Scope scope) {
  return kScopeNames.at(static_cast<std::size_t>(scope));
}

std::optional<Scope> parse_scope(std::string_view name) {
  for (std::size_t i = 0; i < kScopeNames.size(); ++i) {
    if (kScopeNames[i] == name) {
      return static_cast<Scope>(i);
    }
  }
  return std::nullopt;
}

bool grants(Scope held, Scope needed) {
  return static_cast<int>(held) >= static_cast<int>(needed);
}

const std::string& RouteRequest::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) {
      return value;
    }
  }
  static const std::string kNone;
  return kNone;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return decoded;
}

void Router::add(Route route) {
  routes_.push_back(std::move(route));
}

Router::Match Router::match(std::string_view method, std::string_view raw_path) const {
  Match result;
  const std::vector<std::string_view> segments = split_segments(raw_path);
  for (const Route& route : routes_) {
    const std::vector<std::string_view> pattern = split_segments(route.path_template);
    if (pattern.size() != segments.size()) {
      continue;
    }
    std::vector<std::pair<std::string, std::string>> params;
    bool matched = true;
    for (std::size_t i = 0; i < pattern.size() && matched; ++i) {
      const std::string_view want = pattern[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        std::optional<std::string> value = percent_decode(segments[i]);
        matched = value.has_value() && !value->empty();
        if (matched) {
          params.emplace_back(std::string(want.substr(1, want.size() - 2)), std::move(*value));
        }
      } else {
        matched = want == segments[i];
      }
    }
    if (!matched) {
      continue;
    }
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      result.route = &route;
      result.params = std::move(params);
      return result;
    }
    result.allowed_methods.push_back(route.method);
  }
  return result;
}

void Router::set_permission(std::string_view method, std::string_view path_template, std::string_view permission) {
  permissions_.resize(routes_.size());
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == method && routes_[i].path_template == path_template) {
      permissions_[i] = permission;
      return;
    }
  }
  throw std::logic_error(fmt::format("no route {} {} to give the permission {}", method, path_template, permission));
}

std::string_view Router::permission_of(const Route& route) const {
  const auto index = static_cast<std::size_t>(&route - routes_.data());
  if (index < permissions_.size() && !permissions_[index].empty()) {
    return permissions_[index];
  }
  // A route that declares nothing is open to every role when it reads, and to admins only otherwise.
  return route.scope == Scope::read ? permission::kRead : permission::kUsersAdmin;
}

}  // namespace crm::host::api
