#include <charconv>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>

#include "api/routes.hpp"

namespace crm::host::api {

http::Response json_response(const nlohmann::json& body, int status) {
  http::Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

http::Response items_response(nlohmann::json items) {
  return json_response(nlohmann::json{{"items", std::move(items)}});
}

nlohmann::json json_body(const RouteRequest& request) {
  const std::optional<std::string_view> type = request.http.header("content-type");
  const std::string_view media = type ? type->substr(0, type->find(';')) : std::string_view{};
  if (media != "application/json") {
    throw ApiError(415, "unsupported-media-type", "Unsupported media type",
                   "the body must be JSON, sent with Content-Type: application/json");
  }
  nlohmann::json body = nlohmann::json::parse(request.http.body, nullptr, false);
  if (body.is_discarded()) {
    throw invalid_request("the body is not valid JSON");
  }
  if (!body.is_object()) {
    throw invalid_request("the body must be a JSON object");
  }
  return body;
}

std::string acting_person(const RouteRequest& request, const nlohmann::json& body) {
  if (request.caller.user) {
    return request.caller.user->user.name;
  }
  return body_text(body, "by", true);
}

std::string body_text(const nlohmann::json& body, std::string_view name, bool required) {
  const auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    if (required) {
      throw invalid_request(fmt::format("the body lacks '{}'", name));
    }
    return {};
  }
  if (!found->is_string()) {
    throw invalid_request(fmt::format("'{}' must be a string", name));
  }
  std::string value = found->get<std::string>();
  if (required && value.empty()) {
    throw invalid_request(fmt::format("'{}' must not be empty", name));
  }
  return value;
}

std::string query_text(const RouteRequest& request, std::string_view name) {
  const std::optional<std::string_view> value = request.http.query_value(name);
  return value ? std::string(*value) : std::string();
}

std::optional<std::int64_t> query_integer(const RouteRequest& request, std::string_view name, std::int64_t min,
                                          std::int64_t max) {
  const std::optional<std::string_view> text = request.http.query_value(name);
  if (!text) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    throw invalid_request(fmt::format("query parameter '{}' must be an integer from {} to {}", name, min, max));
  }
  return value;
}

std::optional<bool> query_boolean(const RouteRequest& request, std::string_view name) {
  const std::optional<std::string_view> text = request.http.query_value(name);
  if (!text) {
    return std::nullopt;
  }
  if (*text == "true" || *text == "1") {
    return true;
  }
  if (*text == "false" || *text == "0") {
    return false;
  }
  throw invalid_request(fmt::format("query parameter '{}' must be true or false", name));
}

std::int64_t id_param(const RouteRequest& request, std::string_view name) {
  const std::string& text = request.param(name);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw invalid_request(fmt::format("the {} id '{}' is not a number", name, text));
  }
  if (value <= 0) {
    throw not_found(fmt::format("no {} with id {}", name, value));
  }
  return value;
}

std::int64_t parse_time_ms(std::string_view text, std::string_view what) {
  using namespace std::chrono;
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int consumed = 0;
  const std::string copy(text);
  const auto bad = [&] {
    return invalid_request(
        fmt::format("'{}' must be an RFC 3339 time (2026-11-30T09:30:00+08:00) or a date (2026-11-30)", what));
  };
  if (std::sscanf(copy.c_str(), "%4d-%2u-%2u%n", &year, &month, &day, &consumed) != 3 || consumed != 10) {
    throw bad();
  }
  const year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!date.ok()) {
    throw bad();
  }
  std::int64_t ms = duration_cast<milliseconds>(sys_days{date}.time_since_epoch()).count();
  if (copy.size() == 10) {
    return ms;
  }
  std::size_t at = 10;
  if (copy[at] != 'T' && copy[at] != 't' && copy[at] != ' ') {
    throw bad();
  }
  if (std::sscanf(copy.c_str() + at + 1, "%2d:%2d:%2d%n", &hour, &minute, &second, &consumed) != 3 || consumed != 8 ||
      hour > 23 || minute > 59 || second > 60) {
    throw bad();
  }
  at += 9;
  ms += ((hour * 60LL + minute) * 60 + second) * 1000;
  if (at < copy.size() && copy[at] == '.') {
    std::int64_t fraction_ms = 0;
    int digits = 0;
    for (++at; at < copy.size() && copy[at] >= '0' && copy[at] <= '9'; ++at, ++digits) {
      if (digits < 3) {
        fraction_ms = fraction_ms * 10 + (copy[at] - '0');
      }
    }
    if (digits == 0) {
      throw bad();
    }
    for (int d = digits; d < 3; ++d) {
      fraction_ms *= 10;
    }
    ms += fraction_ms;
  }
  if (at < copy.size() && (copy[at] == 'Z' || copy[at] == 'z') && at + 1 == copy.size()) {
    return ms;
  }
  int offset_hours = 0;
  int offset_minutes = 0;
  if (at < copy.size() && (copy[at] == '+' || copy[at] == '-') &&
      std::sscanf(copy.c_str() + at + 1, "%2d:%2d%n", &offset_hours, &offset_minutes, &consumed) == 2 &&
      consumed == 5 && at + 6 == copy.size() && offset_hours < 24 && offset_minutes < 60) {
    const std::int64_t offset_ms = (offset_hours * 60LL + offset_minutes) * 60'000;
    return copy[at] == '+' ? ms - offset_ms : ms + offset_ms;
  }
  throw bad();
}

}  // namespace crm::host::api
