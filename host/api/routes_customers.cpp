#include <fmt/format.h>

#include "api/routes.hpp"
#include "app/customers.hpp"
#include "app/events.hpp"
#include "app/result_json.hpp"

namespace crm::host::api {

void add_customer_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  router.add({"GET", "/api/v1/customers", Scope::read, [&session](const RouteRequest& request) {
                CustomerListRequest list;
                list.band = query_text(request, "band");
                list.tier = query_text(request, "tier");
                list.stage = query_text(request, "stage");
                // owner=a&owner=b or owner=a,b: the bands any of them owns.
                for (const auto& [name, value] : request.http.query) {
                  if (name == "owner" && !value.empty()) {
                    list.owner += (list.owner.empty() ? "" : ",") + value;
                  }
                }
                list.value_class = query_text(request, "value_class");
                if (!list.value_class.empty() && list.value_class != "A" && list.value_class != "B" &&
                    list.value_class != "C") {
                  throw invalid_request("query parameter 'value_class' must be A, B or C");
                }
                if (const std::string since = query_text(request, "changed_band_since"); !since.empty()) {
                  list.changed_band_since_ms = parse_time_ms(since, "changed_band_since");
                }
                if (const std::string sort = query_text(request, "sort"); !sort.empty()) {
                  list.sort = parse_customer_sort(sort);
                }
                const std::string order = query_text(request, "order");
                if (!order.empty() && order != "asc" && order != "desc") {
                  throw invalid_request("query parameter 'order' must be asc or desc");
                }
                list.descending = order == "desc";
                const std::string format = query_text(request, "format");
                if (!format.empty() && format != "json" && format != "csv") {
                  throw invalid_request("query parameter 'format' must be json or csv");
                }
                if (format == "csv") {
                  list.cursor = query_text(request, "cursor");
                  const auto max_rows = static_cast<std::size_t>(
                      query_integer(request, "limit", 1, static_cast<std::int64_t>(kMaxExportRows))
                          .value_or(static_cast<std::int64_t>(kMaxExportRows)));
                  // An export is whole, or in parts when asked (parts=true: X-Next-Cursor says where the
                  // next one starts); never silently cut at the limit.
                  const bool parts = query_boolean(request, "parts").value_or(false);
                  const CustomerPage exported = export_customers(session, list, max_rows);
                  if (!exported.next_cursor.empty() && !parts) {
                    throw ApiError(422, "export-too-large", "Export too large",
                                   fmt::format("more than {} customers match; an export holds at most {}: narrow the "
                                               "filters (band, tier, owner, stage, value class), or export in parts "
                                               "with parts=true and the cursor each part's X-Next-Cursor gives",
                                               max_rows, kMaxExportRows));
                  }
                  http::Response response;
                  response.content_type = "text/csv; charset=utf-8; header=present";
                  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"customers.csv\"");
                  if (!exported.next_cursor.empty()) {
                    // More customers match than the export holds: the next export starts here.
                    response.headers.emplace_back("X-Next-Cursor", exported.next_cursor);
                  }
                  response.body = customer_list_csv(exported.customers);
                  return response;
                }
                list.limit =
                    static_cast<std::size_t>(query_integer(request, "limit", 1, static_cast<std::int64_t>(kMaxPageSize))
                                                 .value_or(static_cast<std::int64_t>(kDefaultPageSize)));
                list.cursor = query_text(request, "cursor");
                nlohmann::json page = customer_page_json(list_customers_page(session, list));
                return json_response({{"items", std::move(page["customers"])}, {"next_cursor", page["next_cursor"]}});
              }});
  router.add({"GET", "/api/v1/customers/{customer}", Scope::read, [&session](const RouteRequest& request) {
                return json_response(customer_360_json(customer_360(session, request.param("customer"), true)));
              }});
  router.add({"POST", "/api/v1/customers/{customer}/follow-ups", Scope::write, [&session](const RouteRequest& request) {
                const nlohmann::json body = json_body(request);
                FollowUp follow_up;
                follow_up.by = body_text(body, "by", true);
                follow_up.channel = body_text(body, "channel", true);
                follow_up.note = body_text(body, "note", true);
                const std::string at = body_text(body, "at", false);
                follow_up.at_ms = at.empty() ? session.clock().now_ms() : parse_time_ms(at, "at");
                return json_response(follow_up_json(record_follow_up(session, request.param("customer"), follow_up)),
                                     201);
              }});
  router.add({"POST", "/api/v1/events", Scope::write, [&session](const RouteRequest& request) {
                return json_response(event_ingest_json(ingest_events(session, json_body(request))));
              }});
}

}  // namespace crm::host::api
