#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/runs.hpp"
#include "app/session.hpp"
#include "store/overview_repository.hpp"

namespace crm::host {

inline constexpr std::size_t kOverviewRuns = 30;
inline constexpr std::int64_t kDefaultOverviewPeriodDays = 30;
inline constexpr std::int64_t kMaxOverviewPeriodDays = 3660;

// Band changes between the latest finished scoring run and the one before.
// worse: customers now in a band listed lower in the configuration's bands
// (riskier) than before; better: higher. Customers not scored before, and
// bands the configuration does not list, count in neither.
struct BandChangeSummary {
  std::optional<std::int64_t> since_run_id;  // nullopt: the latest run is the first
  std::int64_t worse = 0;
  std::int64_t better = 0;
  std::vector<BandTransition> transitions;  // only the pairs whose band changed, from a band to a band
};

// What the web app's overview shows, every figure an aggregate read.
struct Overview {
  std::int64_t as_of_ms = 0;                // when it was read (the host clock)
  std::vector<RunBandCounts> band_history;  // the last kOverviewRuns finished runs, oldest first
  BandChangeSummary band_changes;
  OpenAlertCounts alerts;  // deadlines against as_of_ms
  // period_days before the latest finished scoring run's as-of date (before as_of_ms when
  // there is none); losses with a churn date from then on count.
  std::int64_t lost_period_start_ms = 0;
  std::vector<ReasonCount> lost_by_reason;
  // Mass-churn events whose detection period overlaps the period (starts less
  // than the configuration's mass_churn_period_days before it, or in it).
  std::vector<MassChurnLine> mass_churn;
  WinbackFunnel winback;
  std::vector<ConnectorStatus> connectors;
};

// The overview with lost customers counted over the last `period_days` days
// (1 to kMaxOverviewPeriodDays, else InvalidRequest). `plugins`: the plugins
// a service has loaded (nullptr: found as list_plugins finds them).
Overview read_overview(Session& session, std::int64_t period_days, const std::vector<PluginRecord>* plugins = nullptr);

}  // namespace crm::host
