#include "http/server.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "http/request_target.hpp"

namespace crm::host::http {

std::unique_ptr<Server> make_beast_server(const ServerOptions& options, Handler handler);
std::unique_ptr<Server> make_cpprest_server(const ServerOptions& options, Handler handler);

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::query_value(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::unique_ptr<Server> make_server(const ServerOptions& options, Handler handler) {
  return make_server(options, std::move(handler), Implementation::beast);
}

std::unique_ptr<Server> make_server(const ServerOptions& options, Handler handler, Implementation implementation) {
  if (!handler) throw std::invalid_argument("http server: no handler given");
  switch (implementation) {
    case Implementation::beast:
      return make_beast_server(options, std::move(handler));
    case Implementation::cpprestsdk:
      return make_cpprest_server(options, std::move(handler));
  }
  throw std::invalid_argument("http server: unknown implementation");
}

namespace detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view text, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return false;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return false;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

const char* reason_of(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

bool parse_target(std::string_view target, std::string& path, std::vector<std::pair<std::string, std::string>>& query) {
  query.clear();
  if (target.empty() || target.front() != '/') return false;
  const std::size_t question = target.find('?');
  std::string_view raw_path = target.substr(0, question);
  if (const std::size_t hash = raw_path.find('#'); hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  if (!percent_decode(raw_path, false, path)) return false;
  if (question == std::string_view::npos) return true;
  std::string_view raw_query = target.substr(question + 1);
  if (const std::size_t hash = raw_query.find('#'); hash != std::string_view::npos) {
    raw_query = raw_query.substr(0, hash);
  }
  while (!raw_query.empty()) {
    const std::size_t amp = raw_query.find('&');
    const std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, equals), true, key)) return false;
    if (equals != std::string_view::npos && !percent_decode(pair.substr(equals + 1), true, value)) return false;
    query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

Response problem_response(int status) {
  Response response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.body = std::string(R"({"type":"about:blank","title":")") + reason_of(status) + R"(","status":)" +
                  std::to_string(status) + "}";
  return response;
}

Response call_handler(const Handler& handler, const Request& request) noexcept {
  try {
    return handler(request);
  } catch (...) {
    // The exception's text may carry SQL or secrets: the client learns only that it failed.
    try {
      return problem_response(500);
    } catch (...) {
      return Response{500, "text/plain", {}, {}};
    }
  }
}

}  // namespace detail
}  // namespace crm::host::http
