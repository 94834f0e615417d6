#include "app/run_job.hpp"

#include <algorithm>

#include "app/request_dates.hpp"
#include "app/result_json.hpp"
#include "app/sync_jobs.hpp"
#include "app/winback_jobs.hpp"

namespace crm::host {

bool RunSummary::sync_failed() const {
  return std::any_of(syncs.begin(), syncs.end(),
                     [](const SyncSummary& sync) { return sync.status == "failed" && !sync.plugin_disabled; });
}

RunSummary run(Session& session, std::optional<std::int64_t> as_of_ms) {
  const std::unique_ptr<JobLock> one_job_at_a_time = session.lock_jobs("run");
  const StoreHandle store = session.open_store();
  session.close_interrupted_runs(*store, *one_job_at_a_time);
  RunSummary summary;
  summary.database = session.database();
  summary.run_id = store->begin_run("run", session.clock().now_ms());
  const std::unique_ptr<PluginHost> host = session.plugins(*store);

  summary.syncs = sync_connectors(session, *store, *host, "");
  summary.plugins = host->records();
  summary.loaded = host->plugins().size();
  summary.refused = host->refused_count();

  if (!session.cancelled() && !loaded_scorers(*host).empty()) {
    summary.scoring = run_scoring(session, *store, *host, as_of_or_today(as_of_ms, session.clock()));
  }
  const HostConfig& config = session.config();
  AlertEngine alerts(*store, *host, session.logger(), session.clock(), config.alerts, config.scoring);
  for (const SyncSummary& sync : summary.syncs) {
    if (sync.status == "failed") {
      alerts.raise_sync_failure(sync.connector_id, sync.message);
    }
  }
  if (summary.scoring) {
    summary.raised = alerts.evaluate(summary.scoring->run_id);
  }
  summary.escalated = alerts.escalate();
  // Win-back: who is lost as of the date, then the campaigns' due steps; their
  // messages go out with the alerts below.
  if (!session.cancelled()) {
    LostCustomers lost(*store, &alerts, session.logger(), session.clock(), config.winback);
    summary.churn = lost.detect(as_of_or_today(as_of_ms, session.clock()));
    summary.raised.opened += summary.churn->strategic_alerts_raised;  // mass churn: one alert to the top level
    if (summary.churn->strategic_alerts_raised > 0 && !config.scoring.bands.empty()) {
      summary.raised.opened_by_level[config.scoring.bands.back().name] += summary.churn->strategic_alerts_raised;
    }
    const CampaignClock campaign_clock(session.clock(), as_of_ms);
    CampaignEngine campaigns(*store, session.logger(), campaign_clock.clock(), config.winback);
    summary.campaign_pass = campaigns.run();
  }
  summary.delivered = alerts.deliver();
  summary.dead_total = alerts.outbox("dead").size();

  summary.status = session.cancelled()     ? "cancelled"
                   : summary.sync_failed() ? "failed"
                   : summary.refused > 0   ? "partial"
                                           : "ok";
  store->finish_run(summary.run_id, summary.status, run_summary_json(summary).dump(), session.clock().now_ms());
  return summary;
}

}  // namespace crm::host
