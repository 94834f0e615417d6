#include "api/problem.hpp"

#include <nlohmann/json.hpp>

namespace crm::host::api {

ApiError invalid_request(const std::string& detail) {
  return {400, "invalid-request", "Invalid request", detail};
}

ApiError not_found(const std::string& detail) {
  return {404, "not-found", "Not found", detail};
}

http::Response problem_response(int status, std::string_view type_name, std::string_view title, std::string_view detail,
                                std::string_view instance) {
  nlohmann::json body = {{"type", std::string(kProblemTypeBase) + std::string(type_name)},
                         {"title", title},
                         {"status", status},
                         {"detail", detail}};
  if (!instance.empty()) {
    body["instance"] = instance;
  }
  http::Response response;
  response.status = status;
  response.content_type = "application/problem+json";
  // Invalid UTF-8 in a detail (an id echoed back) must not make the answer itself fail.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

http::Response problem_response(const ApiError& error, std::string_view instance) {
  return problem_response(error.status(), error.type_name(), error.title(), error.what(), instance);
}

}  // namespace crm::host::api
