#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/metrics.hpp"
#include "loader/plugin_call_guard.hpp"
#include "loader/remote_plugin.hpp"
#include "store/store.hpp"
#include "sync/sync_engine.hpp"

namespace crm::host {

// The metrics `crmhost serve` exposes at /metrics, all named crm_*:
//   crm_http_requests_total{route,method,status}         counter
//   crm_http_request_duration_seconds{route,method}      histogram
//   crm_job_runs_total{job,outcome}                      counter
//   crm_job_duration_seconds{job}                        histogram
//   crm_connector_records_synced_total{connector}        counter (inserted + updated + unchanged)
//   crm_connector_records_quarantined_total{connector}   counter
//   crm_plugin_call_duration_seconds{plugin,call}        histogram
//   crm_alerts_open{level}                               gauge, read from the store at scrape
//   crm_alerts_past_deadline                             gauge, read from the store at scrape
//   crm_outbox_messages{state="pending"|"dead"}          gauge, read from the store at scrape
// Every family is registered at construction, so a scrape lists each with its
// HELP and TYPE before anything happened.
//
// Threads: the observe_* members and on_plugin_call may be called from any
// thread at any rate (atomics on the hot path; see core/metrics.hpp). scrape()
// may be called from any thread; scrapes are serialised among themselves, and
// the caller serialises the store as for any other use of it.
//
// As the observer of plugin calls (set_plugin_call_observer) the collector
// must outlive every plugin call: install() it once the service starts and
// uninstall() (or destroy it) after the service's workers stopped.
class MetricsCollector final : public PluginCallObserver {
 public:
  MetricsCollector();
  ~MetricsCollector() override;
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  // The registry, for families of the service's own.
  [[nodiscard]] MetricsRegistry& registry() { return registry_; }

  // One answered request: `route_template` as the router declared it
  // ("/api/v1/customers/{id}", never the path with its ids), or "unmatched".
  void observe_http_request(std::string_view route_template, std::string_view method, int status, double seconds);
  // One run of a scheduled job ("sync:erp_csv", "scoring", "alerts"...), `outcome` e.g. "ok", "failed", "busy".
  void observe_job(std::string_view job, std::string_view outcome, double seconds);
  // What one connector's sync stored and quarantined.
  void observe_sync(const SyncSummary& summary);
  // The same from a sync job's counts.
  void observe_sync_counts(std::string_view connector, std::uint64_t synced, std::uint64_t quarantined);
  void on_plugin_call(std::string_view plugin, const char* call, double seconds) noexcept override;

  // Makes this collector the process's observer of plugin calls; uninstall() stops it (if it still is).
  void install();
  void uninstall();

  // Reads the store's gauges as of `now_ms`, then renders every family (text format 0.0.4).
  std::string scrape(Store& store, std::int64_t now_ms);

 private:
  MetricsRegistry registry_;
  CounterFamily& http_requests_;
  HistogramFamily& http_duration_;
  CounterFamily& job_runs_;
  HistogramFamily& job_duration_;
  CounterFamily& records_synced_;
  CounterFamily& records_quarantined_;
  HistogramFamily& plugin_call_duration_;
  GaugeFamily& alerts_open_;
  GaugeFamily& alerts_past_deadline_;
  GaugeFamily& outbox_messages_;
  GaugeFamily& plugin_worker_running_;
  GaugeFamily& plugin_worker_failures_;
  GaugeFamily& plugin_worker_restarts_;
  GaugeFamily& plugin_disabled_;
  std::mutex scrape_mutex_;
  bool installed_ = false;
};

}  // namespace crm::host
