#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/server.hpp"

// Shared by the implementations of http::Server (not part of its interface).
namespace crm::host::http::detail {

// Splits a request target ("/a%20b?x=1&y=%C3%A9") into its decoded path and
// query parameters ('+' is a space in the query only). False when the target
// is not an origin-form path or holds a malformed percent escape.
bool parse_target(std::string_view target, std::string& path, std::vector<std::pair<std::string, std::string>>& query);

// The response of the server itself (400, 413, 431, 500...): a problem
// details body naming the status only, never anything of the request.
Response problem_response(int status);

// Calls the handler; an exception becomes a bare 500.
Response call_handler(const Handler& handler, const Request& request) noexcept;

}  // namespace crm::host::http::detail
