#include "api/routes.hpp"
#include "app/overview.hpp"
#include "app/result_json.hpp"

namespace crm::host::api {

void add_overview_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  router.add(
      {"GET", "/api/v1/overview", Scope::read, [&session](const RouteRequest& request) {
         const std::int64_t period_days =
             query_integer(request, "period_days", 1, kMaxOverviewPeriodDays).value_or(kDefaultOverviewPeriodDays);
         return json_response(overview_json(read_overview(session, period_days)));
       }});
}

}  // namespace crm::host::api
