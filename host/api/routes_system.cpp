#include <fmt/format.h>

#include "api/openapi_document.hpp"
#include "api/routes.hpp"
#include "app/api_tokens.hpp"
#include "app/result_json.hpp"
#include "app/runs.hpp"
#include "app/sync_jobs.hpp"

namespace crm::host::api {

namespace {

// The connector a route names must be one the host knows, so that a typo is a
// 404 and not an empty list.
void require_connector(Session& session, const std::string& connector_id) {
  for (const PluginRecord& record : list_plugins(session)) {
    if (record.id == connector_id && record.kind == "connector") {
      return;
    }
  }
  throw not_found(fmt::format("no connector '{}' (GET /api/v1/plugins lists them)", connector_id));
}

}  // namespace

void add_system_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  ServiceControl& service = context.service;
  router.add({"GET", "/healthz", Scope::none, [](const RouteRequest&) { return json_response({{"status", "ok"}}); }});
  router.add({"GET", "/readyz", Scope::none, [&service](const RouteRequest& request) {
                nlohmann::json readiness = service.readiness();
                if (readiness.value("status", "") == "ready") {
                  return json_response(readiness);
                }
                http::Response response = problem_response(503, "not-ready", "Not ready",
                                                           "the service is not ready: see checks", request.http.path);
                nlohmann::json body = nlohmann::json::parse(response.body);
                body["checks"] = readiness.value("checks", nlohmann::json::object());
                response.body = body.dump();
                return response;
              }});
  router.add({"GET", "/metrics", Scope::none, [&service](const RouteRequest&) {
                http::Response response;
                response.content_type = "text/plain; version=0.0.4; charset=utf-8";
                response.body = service.metrics_text();
                return response;
              }});
  router.add({"GET", "/api/v1/openapi.json", Scope::none, [](const RouteRequest&) {
                http::Response response;
                response.body = std::string(openapi_document());
                return response;
              }});
  router.add({"GET", "/api/v1/plugins", Scope::read, [&session](const RouteRequest&) {
                return items_response(plugin_records_json(list_plugins(session))["plugins"]);
              }});
  router.add({"GET", "/api/v1/connectors", Scope::read, [&session](const RouteRequest&) {
                return items_response(connectors_json(list_connectors(session))["connectors"]);
              }});
  router.add({"GET", "/api/v1/runs", Scope::read, [&session](const RouteRequest& request) {
                const auto limit = static_cast<std::size_t>(query_integer(request, "limit", 1, 1000).value_or(50));
                return items_response(runs_json(list_runs(session, query_text(request, "kind"), limit))["runs"]);
              }});
  router.add({"GET", "/api/v1/runs/{run}", Scope::read, [&session](const RouteRequest& request) {
                return json_response(run_row_json(show_run(session, id_param(request, "run"))));
              }});
  router.add({"GET", "/api/v1/scores/runs", Scope::read, [&session](const RouteRequest& request) {
                const auto limit = static_cast<std::size_t>(query_integer(request, "limit", 1, 1000).value_or(24));
                return items_response(score_runs_json(list_score_runs(session, limit))["score_runs"]);
              }});
  router.add({"GET", "/api/v1/connectors/{connector}/quarantine", Scope::read, [&session](const RouteRequest& request) {
                const std::string& connector_id = request.param("connector");
                require_connector(session, connector_id);
                const bool include_released = query_boolean(request, "include_released").value_or(false);
                return items_response(quarantine_json(list_quarantine(session, connector_id, include_released)));
              }});
  router.add({"POST", "/api/v1/connectors/{connector}/quarantine/retry", Scope::write,
              [&session](const RouteRequest& request) {
                const std::string& connector_id = request.param("connector");
                require_connector(session, connector_id);
                const QuarantineRetryResult result = retry_quarantine(session, connector_id);
                nlohmann::json report = quarantine_retry_json(result);
                return json_response(report.empty() ? nlohmann::json{{"connector", connector_id}, {"released", 0}}
                                                    : report.front());
              }});
  router.add({"GET", "/api/v1/tokens", Scope::admin,
              [&session](const RouteRequest&) { return items_response(api_tokens_json(list_api_tokens(session))); }});
  router.add({"POST", "/api/v1/tokens", Scope::admin, [&session, &service](const RouteRequest& request) {
                const nlohmann::json body = json_body(request);
                const auto scopes = body.find("scopes");
                if (scopes == body.end() || !scopes->is_array() || scopes->empty()) {
                  throw invalid_request("'scopes' must be a non-empty array of read, write, admin");
                }
                std::vector<crm::host::Scope> granted;
                for (const nlohmann::json& scope : *scopes) {
                  const std::optional<crm::host::Scope> parsed =
                      scope.is_string() ? crm::host::parse_scope(scope.get<std::string>()) : std::nullopt;
                  if (!parsed) {
                    throw invalid_request("'scopes' must hold only read, write or admin");
                  }
                  granted.push_back(*parsed);
                }
                const CreatedApiToken created = create_api_token(session, body_text(body, "name", true), granted);
                service.tokens_changed();
                return json_response(created_api_token_json(created), 201);
              }});
  router.add({"DELETE", "/api/v1/tokens/{name}", Scope::admin, [&session, &service](const RouteRequest& request) {
                revoke_api_token(session, request.param("name"));
                service.tokens_changed();
                http::Response response;
                response.status = 204;
                response.content_type.clear();
                return response;
              }});
  router.add(
      {"GET", "/api/v1/jobs", Scope::read, [&service](const RouteRequest&) { return json_response(service.jobs()); }});
  router.add({"POST", "/api/v1/jobs/{job}/run", Scope::write, [&service](const RouteRequest& request) {
                std::optional<nlohmann::json> status = service.trigger_job(request.param("job"));
                if (!status) {
                  throw not_found(fmt::format("no job '{}' (GET /api/v1/jobs lists them)", request.param("job")));
                }
                return json_response(*status, 202);
              }});
}

}  // namespace crm::host::api
