#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert_engine.hpp"
#include "app/scoring_jobs.hpp"
#include "app/session.hpp"
#include "loader/plugin_host.hpp"
#include "sync/sync_engine.hpp"
#include "winback/campaigns.hpp"
#include "winback/lost_customers.hpp"

namespace crm::host {

// What the main job did, step by step; stored with the run (runs.summary_json).
struct RunSummary {
  std::int64_t run_id = 0;
  std::string database;
  std::vector<PluginRecord> plugins;
  std::size_t loaded = 0;
  std::size_t refused = 0;
  std::vector<SyncSummary> syncs;
  std::optional<ScoringPass> scoring;  // nullopt: no scorer loaded, or cancelled first
  AlertCounts raised;
  std::size_t escalated = 0;
  DeliveryCounts delivered;
  std::size_t dead_total = 0;                 // dead notifications in all, not only this run's
  std::optional<ChurnDetection> churn;        // nullopt: cancelled first
  std::optional<CampaignPass> campaign_pass;  // with churn
  std::string status;                         // ok, partial, failed or cancelled

  [[nodiscard]] bool cancelled() const { return status == "cancelled"; }
  [[nodiscard]] bool sync_failed() const;
};

// The main job, under the store's job lock: sync every connector, score
// everyone, raise, escalate and deliver alerts, detect churn and run the
// campaigns, as of `as_of_ms` (nullopt: today). Cancelling the session stops it
// between steps; the summary says how far it got.
RunSummary run(Session& session, std::optional<std::int64_t> as_of_ms);

}  // namespace crm::host
