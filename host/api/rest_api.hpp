#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/router.hpp"
#include "app/session.hpp"
#include "app/users.hpp"
#include "app/wecom_callback.hpp"
#include "core/metrics.hpp"
#include "http/server.hpp"

namespace crm::host::api {

// What the REST API asks of the service around it: who a bearer token is, the
// scheduler's jobs, readiness, metrics. `crmhost serve` implements it; tests
// may implement it over the same pieces. Called from the HTTP worker threads
// concurrently: implementations must be thread-safe.
class ServiceControl {
 public:
  virtual ~ServiceControl() = default;
  // The caller a bearer token stands for, or nullopt when it is unknown or revoked.
  virtual std::optional<Caller> authenticate(std::string_view bearer_token) = 0;
  // {"items": [job status...]}.
  virtual nlohmann::json jobs() = 0;
  // Queues job `id` to run now and returns its status, or nullopt when there is no such job.
  virtual std::optional<nlohmann::json> trigger_job(std::string_view id) = 0;
  // {"status": "ready"|"not-ready", "checks": {"store": ..., "plugins": ...}}.
  virtual nlohmann::json readiness() = 0;
  // The Prometheus text exposition of every metric.
  virtual std::string metrics_text() = 0;
  // A token was created or revoked through the API: forget what was cached about tokens.
  virtual void tokens_changed() = 0;
  // One answered request, for the metrics: `route` is the template, not the path.
  virtual void observe_request(std::string_view route, std::string_view method, int status, double seconds) = 0;
};

struct RestApiOptions {
  std::size_t max_body_bytes = 10 * 1024 * 1024;
  // WeCom's encrypted callbacks (GET and POST at its path, authenticated by their
  // signature, not a token); nullopt: no such route.
  std::optional<WecomCallbackSettings> wecom_callback;
  // Where the callback endpoint counts callbacks by outcome (crm_wecom_callbacks_total);
  // null: not counted. Must outlive the API.
  CounterFamily* wecom_callbacks = nullptr;
  // Browser sessions (the crm_session cookie): timeouts and the sign-in lockout ("service.web").
  WebSessionSettings web_sessions;
  // The server runs TLS: the session cookie is marked Secure.
  bool secure_cookies = false;
};

// The REST API of `crmhost serve` (/api/v1, /healthz, /readyz, /metrics, the
// signed acknowledge pages): authenticates, checks the route's scope, calls the
// application core and answers JSON or RFC 9457 problems. Holds references to
// the session and the service control, which must outlive it. handle() is
// thread-safe.
class RestApi {
 public:
  RestApi(Session& session, ServiceControl& service, RestApiOptions options = {});

  [[nodiscard]] http::Response handle(const http::Request& request) const;
  [[nodiscard]] const Router& router() const { return router_; }

 private:
  http::Response dispatch(const http::Request& request, std::string& route_template) const;
  // The person the session cookie stands for, checked against the route: nullopt and `refusal` set when refused.
  std::optional<Caller> cookie_caller(const http::Request& request, const Route& route, std::string_view cookie,
                                      http::Response& refusal) const;

  Session& session_;
  ServiceControl& service_;
  RestApiOptions options_;
  Router router_;
};

}  // namespace crm::host::api
