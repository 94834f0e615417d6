#include <algorithm>
#include <fmt/format.h>

#include "api/routes.hpp"
#include "app/result_json.hpp"
#include "app/winback_jobs.hpp"

namespace crm::host::api {

namespace {

nlohmann::json task_by_id(Session& session, std::int64_t task_id) {
  for (const OwnerTask& task : list_tasks(session, "")) {
    if (task.id == task_id) {
      return task_json(task);
    }
  }
  throw not_found(fmt::format("no task {}", task_id));
}

// An account manager signed in closes only tasks given to them (their sign-in name or one of their owner
// ids); tokens and other roles any.
void check_may_close(Session& session, const Caller& caller, std::int64_t task_id) {
  if (!caller.user || role_allows(caller.user->user.role, permission::kTasksCloseAny)) {
    return;
  }
  const std::vector<std::string>& owners = caller.user->user.owner_ids;
  for (const OwnerTask& task : list_tasks(session, "")) {
    if (task.id == task_id) {
      if (task.owner != caller.user->user.name && std::find(owners.begin(), owners.end(), task.owner) == owners.end()) {
        throw ApiError(403, "forbidden", "Forbidden",
                       fmt::format("task {} is {}'s; {} (role {}) closes only their own tasks", task_id, task.owner,
                                   caller.user->user.name, role_name(caller.user->user.role)));
      }
      return;
    }
  }
  throw not_found(fmt::format("no task {}", task_id));
}

}  // namespace

void add_winback_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  router.add({"GET", "/api/v1/churn", Scope::read, [&session](const RouteRequest& request) {
                const bool eligible_only = query_boolean(request, "eligible").value_or(false);
                return items_response(
                    lost_customers_json(list_lost_customers(session, eligible_only))["lost_customers"]);
              }});
  router.add({"GET", "/api/v1/churn/root-causes", Scope::read, [&session](const RouteRequest&) {
                return items_response(root_causes_json(list_root_causes(session))["root_causes"]);
              }});
  router.add({"GET", "/api/v1/churn/{customer}", Scope::read, [&session](const RouteRequest& request) {
                return json_response(lost_customer_json(show_lost_customer(session, request.param("customer"))));
              }});
  router.add({"PUT", "/api/v1/churn/{customer}/reason", Scope::write, [&session](const RouteRequest& request) {
                const nlohmann::json body = json_body(request);
                return json_response(lost_customer_json(
                    set_churn_reason(session, request.param("customer"), body_text(body, "reason", true),
                                     body_text(body, "note", false), acting_person(request, body))));
              }});
  router.add({"POST", "/api/v1/churn/{customer}/whys", Scope::write, [&session](const RouteRequest& request) {
                const nlohmann::json body = json_body(request);
                return json_response(lost_customer_json(
                    add_churn_why(session, request.param("customer"), body_text(body, "why", true))));
              }});
  router.add({"GET", "/api/v1/campaigns", Scope::read, [&session](const RouteRequest&) {
                return items_response(campaign_list_json(list_campaigns(session))["campaigns"]);
              }});
  router.add({"GET", "/api/v1/campaigns/{campaign}", Scope::read, [&session](const RouteRequest& request) {
                return json_response(campaign_summary_json(campaign_status(session, id_param(request, "campaign"))));
              }});
  router.add({"GET", "/api/v1/campaigns/{campaign}/report", Scope::read, [&session](const RouteRequest& request) {
                const std::int64_t campaign_id = id_param(request, "campaign");
                campaign_status(session, campaign_id);
                return json_response(campaign_report_json(campaign_report(session, campaign_id)));
              }});
  router.add({"GET", "/api/v1/tasks", Scope::read, [&session](const RouteRequest& request) {
                const std::string state = query_text(request, "state");
                if (!state.empty() && state != "open" && state != "done") {
                  throw invalid_request("query parameter 'state' must be open or done");
                }
                return items_response(tasks_json(list_tasks(session, state))["tasks"]);
              }});
  router.add({"POST", "/api/v1/tasks/{task}/close", Scope::write, [&session](const RouteRequest& request) {
                const std::int64_t task_id = id_param(request, "task");
                const nlohmann::json body = json_body(request);
                check_may_close(session, request.caller, task_id);
                complete_task(session, task_id, body_text(body, "outcome", true), acting_person(request, body));
                return json_response(task_by_id(session, task_id));
              }});
}

}  // namespace crm::host::api
