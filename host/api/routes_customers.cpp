#include <fmt/format.h>

#include "api/routes.hpp"
#include "app/customers.hpp"
#include "app/result_json.hpp"

namespace crm::host::api {

void add_customer_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  router.add({"GET", "/api/v1/customers", Scope::read, [&session](const RouteRequest& request) {
                CustomerListRequest list;
                list.band = query_text(request, "band");
                list.tier = query_text(request, "tier");
                list.stage = query_text(request, "stage");
                list.owner = query_text(request, "owner");
                list.value_class = query_text(request, "value_class");
                if (!list.value_class.empty() && list.value_class != "A" && list.value_class != "B" &&
                    list.value_class != "C") {
                  throw invalid_request("query parameter 'value_class' must be A, B or C");
                }
                list.limit = static_cast<std::size_t>(query_integer(request, "limit", 1, 500).value_or(50));
                nlohmann::json body = customer_list_json(list_customers(session, list));
                return json_response({{"items", std::move(body["customers"])}, {"next_cursor", nullptr}});
              }});
  router.add({"GET", "/api/v1/customers/{customer}", Scope::read, [&session](const RouteRequest& request) {
                return json_response(customer_360_json(customer_360(session, request.param("customer"), true)));
              }});
}

}  // namespace crm::host::api
