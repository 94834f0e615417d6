#include "service/metrics_collector.hpp"

#include <fmt/format.h>

#include "store/metrics_repository.hpp"

namespace crm::host {
namespace {

// Seconds. HTTP: the 360 view's target is a p99 under 25 ms, so the buckets are finest there.
const std::vector<double> kHttpBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
// A job takes from a second (alerts every 30 s) to an hour (a full scoring of 10^6 customers).
const std::vector<double> kJobBuckets = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
// A plugin call: a scorer's batch in milliseconds, a connector's fetch over the network in seconds.
const std::vector<double> kPluginCallBuckets = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
                                                0.5,    1,      2.5,   5,     10,   30,   60};

}  // namespace

MetricsCollector::MetricsCollector()
    : http_requests_(registry_.counter("crm_http_requests_total",
                                       "HTTP requests answered, by route template, method and status code.",
                                       {"route", "method", "status"})),
      http_duration_(registry_.histogram("crm_http_request_duration_seconds",
                                         "Time to answer an HTTP request, by route template and method.",
                                         {"route", "method"}, kHttpBuckets)),
      job_runs_(
          registry_.counter("crm_job_runs_total", "Runs of scheduled jobs, by job and outcome.", {"job", "outcome"})),
      job_duration_(registry_.histogram("crm_job_duration_seconds", "Duration of scheduled job runs, by job.", {"job"},
                                        kJobBuckets)),
      records_synced_(registry_.counter("crm_connector_records_synced_total",
                                        "Records a connector's syncs stored (inserted, updated or unchanged).",
                                        {"connector"})),
      records_quarantined_(registry_.counter("crm_connector_records_quarantined_total",
                                             "Records a connector's syncs quarantined as bad.", {"connector"})),
      plugin_call_duration_(registry_.histogram("crm_plugin_call_duration_seconds",
                                                "Duration of calls into plugin code, by plugin and call.",
                                                {"plugin", "call"}, kPluginCallBuckets)),
      alerts_open_(registry_.gauge("crm_alerts_open", "Alerts open and not acknowledged, by level.", {"level"})),
      alerts_past_deadline_(registry_.gauge("crm_alerts_past_deadline",
                                            "Alerts open and not acknowledged after their response deadline.")),
      outbox_messages_(registry_.gauge("crm_outbox_messages",
                                       "Notifications in the outbox waiting to be sent (pending) or given up (dead).",
                                       {"state"})),
      plugin_worker_running_(registry_.gauge(
          "crm_plugin_worker_running", "1 while a process-isolated plugin has a worker up, by plugin.", {"plugin"})),
      plugin_worker_failures_(registry_.gauge(
          "crm_plugin_worker_failures",
          "Calls that ended a plugin's worker (crash, deadline, ignored cancellation) since the service started.",
          {"plugin"})),
      plugin_worker_restarts_(registry_.gauge("crm_plugin_worker_restarts",
                                              "Workers started again after a failure since the service started.",
                                              {"plugin"})),
      plugin_disabled_(registry_.gauge("crm_plugin_disabled",
                                       "1 when a plugin was disabled for a run after too many worker failures.",
                                       {"plugin"})) {
  // The store's gauges exist before the first scrape reads them: a scrape shows 0, not nothing.
  alerts_past_deadline_.with({});
  outbox_messages_.with({"pending"});
  outbox_messages_.with({"dead"});
}

MetricsCollector::~MetricsCollector() {
  uninstall();
}

void MetricsCollector::observe_http_request(std::string_view route_template, std::string_view method, int status,
                                            double seconds) {
  const fmt::format_int status_text(status);
  http_requests_.with({route_template, method, std::string_view(status_text.data(), status_text.size())}).inc();
  http_duration_.with({route_template, method}).observe(seconds);
}

void MetricsCollector::observe_job(std::string_view job, std::string_view outcome, double seconds) {
  job_runs_.with({job, outcome}).inc();
  job_duration_.with({job}).observe(seconds);
}

void MetricsCollector::observe_sync(const SyncSummary& summary) {
  observe_sync_counts(summary.connector_id, summary.counts.inserted + summary.counts.updated + summary.counts.unchanged,
                      summary.quarantined);
}

void MetricsCollector::observe_sync_counts(std::string_view connector, std::uint64_t synced,
                                           std::uint64_t quarantined) {
  records_synced_.with({connector}).inc(static_cast<double>(synced));
  records_quarantined_.with({connector}).inc(static_cast<double>(quarantined));
}

void MetricsCollector::on_plugin_call(std::string_view plugin, const char* call, double seconds) noexcept {
  try {
    plugin_call_duration_.with({plugin, call != nullptr ? std::string_view(call) : std::string_view("call")})
        .observe(seconds);
  } catch (...) {  // NOLINT(bugprone-empty-catch): a lost observation must not fail the plugin call
  }
}

void MetricsCollector::install() {
  set_plugin_call_observer(this);
  installed_ = true;
}

void MetricsCollector::uninstall() {
  if (!installed_) {
    return;
  }
  // Only when it is still this one: another collector installed since keeps its place.
  PluginCallObserver* const previous = set_plugin_call_observer(nullptr);
  if (previous != this) {
    set_plugin_call_observer(previous);
  }
  installed_ = false;
}

std::string MetricsCollector::scrape(Store& store, std::int64_t now_ms) {
  const std::lock_guard lock(scrape_mutex_);
  const StoreGaugeReadings readings = MetricsRepository(store.database()).read(now_ms);
  alerts_open_.zero_all();
  for (const auto& [level, count] : readings.open_alerts_by_level) {
    alerts_open_.with({level}).set(static_cast<double>(count));
  }
  alerts_past_deadline_.with({}).set(static_cast<double>(readings.alerts_past_deadline));
  outbox_messages_.with({"pending"}).set(static_cast<double>(readings.outbox_pending));
  outbox_messages_.with({"dead"}).set(static_cast<double>(readings.outbox_dead));
  for (const PluginRuntimeStatus& plugin : plugin_runtime_statuses()) {
    plugin_worker_running_.with({plugin.plugin}).set(plugin.running ? 1 : 0);
    plugin_worker_failures_.with({plugin.plugin}).set(plugin.failures);
    plugin_worker_restarts_.with({plugin.plugin}).set(plugin.restarts);
    plugin_disabled_.with({plugin.plugin}).set(plugin.disabled_reason ? 1 : 0);
  }
  return registry_.render();
}

}  // namespace crm::host
