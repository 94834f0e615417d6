#include "service/service_runtime.hpp"

#include <charconv>
#include <chrono>
#include <fmt/format.h>
#include <thread>

#include "api/rest_api.hpp"
#include "app/api_tokens.hpp"
#include "app/sync_jobs.hpp"
#include "app/wecom_callback.hpp"
#include "core/config.hpp"
#include "http/server.hpp"
#include "service/api_token_cache.hpp"
#include "service/job_executors.hpp"
#include "service/metrics_collector.hpp"
#include "service/scheduler.hpp"
#include "service/service_settings.hpp"

namespace crm::host {

namespace {

// Requests in flight get this long to finish after SIGTERM; with the running
// job stopping between its steps meanwhile, the service exits within 10 s.
constexpr std::chrono::milliseconds kDrain{8'000};
constexpr std::chrono::milliseconds kStopPoll{100};

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

ListenAddress parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw ConfigError(fmt::format("listen address '{}' must be HOST:PORT (127.0.0.1:8080, [::1]:8080)", text));
  }
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const std::string_view port = std::string_view(text).substr(colon + 1);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw ConfigError(fmt::format("listen address '{}': the port must be a number from 0 to 65535", text));
  }
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

api::Scope highest_scope(const ApiCaller& caller) {
  api::Scope highest = api::Scope::none;
  for (const Scope scope : caller.scopes) {
    const api::Scope mapped = scope == Scope::admin   ? api::Scope::admin
                              : scope == Scope::write ? api::Scope::write
                                                      : api::Scope::read;
    highest = std::max(highest, mapped);
  }
  return highest;
}

// What the REST API asks of the running service, over the scheduler, the
// token cache and the metrics.
class ServiceRuntime final : public api::ServiceControl {
 public:
  ServiceRuntime(Session& session, Scheduler& scheduler, MetricsCollector& metrics)
      : session_(session),
        scheduler_(scheduler),
        metrics_(metrics),
        tokens_(session.clock(), [&session](std::string_view bearer, std::int64_t now_ms) {
          const StoreHandle store = session.open_store();
          return authenticate_api_token(*store, bearer, now_ms);
        }) {}

  std::optional<api::Caller> authenticate(std::string_view bearer_token) override {
    const std::optional<ApiCaller> caller = tokens_.authenticate(bearer_token);
    if (!caller) {
      return std::nullopt;
    }
    return api::Caller{caller->token_name, highest_scope(*caller), std::nullopt};
  }

  nlohmann::json jobs() override { return {{"items", job_statuses_json(scheduler_.status())["jobs"]}}; }

  std::optional<nlohmann::json> trigger_job(std::string_view id) override {
    if (!scheduler_.trigger(std::string(id))) {
      return std::nullopt;
    }
    for (const JobStatus& status : scheduler_.status()) {
      if (status.id == id) {
        return job_status_json(status);
      }
    }
    return std::nullopt;
  }

  nlohmann::json readiness() override {
    nlohmann::json checks = nlohmann::json::object();
    bool ready = true;
    try {
      const StoreHandle store = session_.open_store();
      checks["schema_version"] = store->schema_version();
      checks["store"] = "ok";
    } catch (const std::exception& e) {
      // The reason may carry a path or URL: the log has it, the answer does not.
      session_.logger().log(LogLevel::warn, "service", fmt::format("readiness: store unreachable: {}", e.what()));
      checks["store"] = "unreachable";
      ready = false;
    }
    checks["plugins"] = "loaded";
    return {{"status", ready ? "ready" : "not-ready"}, {"checks", checks}};
  }

  std::string metrics_text() override {
    const StoreHandle store = session_.open_store();
    return metrics_.scrape(*store, session_.clock().now_ms());
  }

  void observe_request(std::string_view route, std::string_view method, int status, double seconds) override {
    metrics_.observe_http_request(route, method, status, seconds);
  }

  void tokens_changed() override { tokens_.forget_all(); }

 private:
  Session& session_;
  Scheduler& scheduler_;
  MetricsCollector& metrics_;
  ApiTokenCache tokens_;
};

// Times each job for the metrics, and counts what a sync stored.
JobExecutors observed(JobExecutors executors, MetricsCollector& metrics) {
  const auto wrap = [&metrics](JobExecutor inner) -> JobExecutor {
    return [inner = std::move(inner), &metrics](const JobDefinition& job, const JobLock& held) {
      const auto started = std::chrono::steady_clock::now();
      JobRunResult result;
      try {
        result = inner(job, held);
      } catch (...) {
        metrics.observe_job(job.id, "failed",
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        throw;
      }
      metrics.observe_job(job.id, result.outcome,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (job.kind == JobKind::sync && result.counts.is_object()) {
        metrics.observe_sync_counts(job.connector_id,
                                    result.counts.value("inserted", std::uint64_t{0}) +
                                        result.counts.value("updated", std::uint64_t{0}) +
                                        result.counts.value("unchanged", std::uint64_t{0}),
                                    result.counts.value("quarantined", std::uint64_t{0}));
      }
      return result;
    };
  };
  executors.sync = wrap(std::move(executors.sync));
  executors.score = wrap(std::move(executors.score));
  executors.alerts = wrap(std::move(executors.alerts));
  executors.winback = wrap(std::move(executors.winback));
  return executors;
}

}  // namespace

int run_service(Session& session, const ServeOptions& options, const std::atomic<bool>& stop_requested) {
  const ServiceSettings settings = parse_service_settings(session.config(), loaded_connector_ids(session));
  const ListenAddress address = parse_listen(options.listen.empty() ? settings.listen : options.listen);

  http::ServerOptions server_options = settings.http;
  server_options.host = address.host;
  server_options.port = address.port;
  // Each HTTP worker and the scheduler may hold a store at once; more idle ones would only hold memory.
  session.pool_stores(
      (server_options.worker_threads == 0 ? std::thread::hardware_concurrency() : server_options.worker_threads) + 2);

  MetricsCollector metrics;
  metrics.install();
  SchedulerOptions scheduler_options;
  scheduler_options.jitter_ms = settings.jitter_ms;
  scheduler_options.lock_jobs = [&session](std::string_view job) { return session.lock_jobs(job); };
  Scheduler scheduler(settings.jobs, settings.time_zone, observed(make_job_executors(session), metrics),
                      scheduler_options, session.clock(), std::make_unique<Store>(session.database_locator()));

  ServiceRuntime runtime(session, scheduler, metrics);
  api::RestApiOptions api_options;
  api_options.max_body_bytes = server_options.max_body_bytes;
  api_options.wecom_callback = wecom_callback_settings(session.config());
  api_options.web_sessions = settings.web_sessions;
  // Behind a proxy that terminates TLS the service speaks plain HTTP, but people reach it over
  // https (public_url): the session cookie must still never travel in clear.
  api_options.secure_cookies =
      !server_options.tls_certificate_file.empty() || session.config().public_url.starts_with("https://");
  if (api_options.wecom_callback) {
    api_options.wecom_callbacks = &metrics.registry().counter(
        "crm_wecom_callbacks_total",
        "WeCom callbacks received, by outcome: accepted, ignored (an event the host does not record), or refused "
        "as bad_signature, wrong_corp, stale, replayed, undecryptable, malformed.",
        {"outcome"});
  }
  const api::RestApi rest_api(session, runtime, api_options);
  const std::unique_ptr<http::Server> server =
      http::make_server(server_options, [&rest_api](const http::Request& request) { return rest_api.handle(request); });
  server->start();
  session.logger().log(LogLevel::info, "service",
                       fmt::format("listening on {}://{}:{} ({}); {} scheduled jobs; store {}",
                                   server_options.tls_certificate_file.empty() ? "http" : "https", address.host,
                                   server->port(), server->implementation(), settings.jobs.size(), session.database()));
  scheduler.start();

  while (!stop_requested.load()) {
    std::this_thread::sleep_for(kStopPoll);
  }
  session.logger().log(LogLevel::info, "service",
                       "stopping: no new requests; the running job and requests in flight finish");
  // The session's cancellation is the stop flag: the running job already stops between its steps.
  std::thread stop_jobs([&scheduler] { scheduler.stop(); });
  server->stop(kDrain);
  stop_jobs.join();
  metrics.uninstall();
  session.logger().log(LogLevel::info, "service", "stopped");
  return 0;
}

}  // namespace crm::host
