#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// A finished scoring run with its customers per band (score_run_bands).
struct RunBandCounts {
  std::int64_t run_id = 0;
  std::int64_t as_of_ms = 0;
  std::map<std::string, std::int64_t> bands;  // customers without a band are not counted
};

// Customers of a run by their band in the finished run before and now; "" :
// no band (from: not scored before).
struct BandTransition {
  std::string from_band;
  std::string to_band;
  std::int64_t customer_count = 0;
};

struct OpenAlertCounts {
  std::map<std::string, std::int64_t> open_by_level;  // state open (not acknowledged)
  std::int64_t past_deadline = 0;                     // open, deadline before now
  std::int64_t due_within_hour = 0;                   // open, deadline from now to an hour on
};

struct ReasonCount {
  std::string reason;  // "" : no reason yet
  std::int64_t customer_count = 0;
};

struct MassChurnLine {
  std::int64_t id = 0;
  std::string reason;
  std::int64_t period_start_ms = 0;
  std::int64_t lost_count = 0;
  double rate = 0;
  std::optional<std::int64_t> alert_id;
};

// Enrolments of every campaign; recovered: the lost customer came back
// (lost_customers.recovered_ms) within the campaign's recovery window after enrolling.
struct WinbackFunnel {
  std::int64_t enrolled = 0;  // treatment group
  std::int64_t contacted = 0;
  std::int64_t recovered = 0;
  std::int64_t holdout = 0;
  std::int64_t holdout_recovered = 0;
};

// The aggregate reads behind the web app's overview: each a few index rows or
// one GROUP BY over a small table, never a scan of a run's scores. Borrows the
// Database, which must outlive it.
class OverviewRepository {
 public:
  explicit OverviewRepository(Database& db) : db_(db) {}

  // The newest `limit` finished scoring runs, oldest first, with their band counts.
  std::vector<RunBandCounts> band_history(std::size_t limit);
  // Customers of `run_id` by band before and now (every pair, changed or not).
  std::vector<BandTransition> band_transitions(std::int64_t run_id);
  OpenAlertCounts open_alerts(std::int64_t now_ms);
  // Lost customers with a churn date at or after `since_ms`, the most first.
  std::vector<ReasonCount> lost_by_reason(std::int64_t since_ms);
  // Mass-churn events whose period starts at or after `since_ms`, by period then id.
  std::vector<MassChurnLine> mass_churn_events(std::int64_t since_ms);
  WinbackFunnel winback_funnel();

 private:
  Database& db_;
};

}  // namespace crm::host
