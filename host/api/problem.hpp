#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "http/server.hpp"

namespace crm::host::api {

// RFC 9457 problem details. `type_name` is the stable last segment of the
// type URI (kProblemTypeBase + type_name), documented in openapi.json.
inline constexpr std::string_view kProblemTypeBase = "https://crmhost.dev/problems/";

// An answer other than success, thrown by route handlers and turned into a
// problem response by the API. `detail` is for people and must never carry
// SQL, file paths or secrets.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type_name, std::string title, const std::string& detail)
      : std::runtime_error(detail), status_(status), type_name_(std::move(type_name)), title_(std::move(title)) {}
  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] const std::string& type_name() const { return type_name_; }
  [[nodiscard]] const std::string& title() const { return title_; }

 private:
  int status_;
  std::string type_name_;
  std::string title_;
};

ApiError invalid_request(const std::string& detail);
ApiError not_found(const std::string& detail);

// An `application/problem+json` response; `instance` is the request's path.
http::Response problem_response(int status, std::string_view type_name, std::string_view title, std::string_view detail,
                                std::string_view instance);
http::Response problem_response(const ApiError& error, std::string_view instance);

}  // namespace crm::host::api
