#pragma once

#include <string_view>

namespace crm::host::api {

// host/api/openapi.json, compiled in: the OpenAPI 3.1 document of the REST API.
std::string_view openapi_document();

}  // namespace crm::host::api
