#include "service/job_executors.hpp"

#include <fmt/format.h>

#include "alerts/alert_engine.hpp"
#include "app/request_dates.hpp"
#include "app/result_json.hpp"
#include "app/scoring_jobs.hpp"
#include "app/sync_jobs.hpp"
#include "app/winback_jobs.hpp"
#include "scoring/scoring.hpp"
#include "winback/campaigns.hpp"
#include "winback/lost_customers.hpp"

namespace crm::host {
namespace {

nlohmann::json delivery_json(const DeliveryCounts& delivered) {
  return {{"delivered", delivered.delivered}, {"partial", delivered.partial}, {"retrying", delivered.retried},
          {"dead", delivered.dead},           {"held", delivered.held},       {"paced", delivered.paced},
          {"messages", delivered.messages}};
}

// Opens the store and the plugins for one job and keeps its row in `runs`:
// begun before the work, finished with the outcome and counts after it, or
// "failed" with the error when the work throws.
template <typename Work>
JobRunResult recorded(Session& session, const JobLock& held, const JobDefinition& job, Work work) {
  const StoreHandle store = session.open_store();
  session.close_interrupted_runs(*store, held);
  const std::int64_t run_id = store->begin_run(job.id, session.clock().now_ms());
  JobRunResult result;
  try {
    const std::unique_ptr<PluginHost> host = session.plugins(*store);
    result = work(*store, *host);
  } catch (const std::exception& e) {
    store->finish_run(run_id, "failed", nlohmann::json{{"error", e.what()}}.dump(), session.clock().now_ms());
    throw;
  }
  const std::string status = session.cancelled() ? "cancelled" : result.outcome;
  result.counts["job_run_id"] = run_id;  // the row in `runs`
  store->finish_run(run_id, status, result.counts.dump(), session.clock().now_ms());
  return result;
}

AlertEngine alert_engine(Session& session, Store& store, PluginHost& host) {
  return {store, host, session.logger(), session.clock(), session.config().alerts, session.config().scoring};
}

JobRunResult sync_job(Session& session, const JobDefinition& job, const JobLock& held) {
  return recorded(session, held, job, [&](Store& store, PluginHost& host) {
    JobRunResult result;
    for (const SyncSummary& summary : sync_connectors(session, store, host, job.connector_id)) {
      result.counts = sync_summary_json(summary);
      if (summary.status == "failed") {
        alert_engine(session, store, host).raise_sync_failure(summary.connector_id, summary.message);
        result.outcome = "failed";
        result.message = summary.message;
      }
    }
    return result;
  });
}

JobRunResult score_job(Session& session, const JobDefinition& job, const JobLock& held) {
  return recorded(session, held, job, [&](Store& store, PluginHost& host) {
    if (loaded_scorers(host).empty()) {
      throw ConfigError("no scorer plugin is loaded; see `crmhost plugins`");
    }
    JobRunResult result;
    const ScoringPass pass = run_scoring(session, store, host, as_of_or_today(std::nullopt, session.clock()));
    result.counts = score_result_json(pass);
    const AlertCounts raised = alert_engine(session, store, host).evaluate(pass.run_id);
    result.counts["alerts"] = {{"opened", raised.opened},
                               {"updated", raised.updated},
                               {"renotified", raised.renotified},
                               {"resolved", raised.resolved}};
    return result;
  });
}

JobRunResult alerts_job(Session& session, const JobDefinition& job, const JobLock& held) {
  return recorded(session, held, job, [&](Store& store, PluginHost& host) {
    AlertEngine alerts = alert_engine(session, store, host);
    JobRunResult result;
    result.counts["escalated"] = alerts.escalate();
    if (!session.cancelled()) {
      result.counts["delivery"] = delivery_json(alerts.deliver());
    }
    return result;
  });
}

JobRunResult winback_job(Session& session, const JobDefinition& job, const JobLock& held) {
  return recorded(session, held, job, [&](Store& store, PluginHost& host) {
    const HostConfig& config = session.config();
    AlertEngine alerts = alert_engine(session, store, host);
    JobRunResult result;
    LostCustomers lost(store, &alerts, session.logger(), session.clock(), config.winback);
    result.counts["churn"] = churn_detection_json(lost.detect(as_of_or_today(std::nullopt, session.clock())));
    if (!session.cancelled()) {
      CampaignEngine campaigns(store, session.logger(), session.clock(), config.winback);
      result.counts["campaigns"] = campaign_pass_json(campaigns.run());
      result.counts["delivery"] = delivery_json(alerts.deliver());
    }
    return result;
  });
}

}  // namespace

JobExecutors make_job_executors(Session& session) {
  return {
      [&session](const JobDefinition& job, const JobLock& held) { return sync_job(session, job, held); },
      [&session](const JobDefinition& job, const JobLock& held) { return score_job(session, job, held); },
      [&session](const JobDefinition& job, const JobLock& held) { return alerts_job(session, job, held); },
      [&session](const JobDefinition& job, const JobLock& held) { return winback_job(session, job, held); },
  };
}

}  // namespace crm::host
