#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loader/plugin_host.hpp"
#include "scoring/settings.hpp"
#include "store/store.hpp"

namespace crm::host {

// How well one scorer foretold, as of a date, who bought nothing in the
// horizon after it. The population is every customer with a purchase before
// the date; scorers that learn are trained at (date - horizon) on what
// happened in the horizon up to the date, so nothing after the date is seen.
struct BacktestRow {
  std::string scorer_id;  // or "baseline_recency": recency alone, the simplest peer
  std::size_t customers = 0;
  std::size_t churned = 0;
  double roc_auc = 0;
  double precision_top10 = 0;  // churned share of the riskiest 10 %
  double recall_top10 = 0;     // share of the churned found in the riskiest 10 %
  // Churned customers flagged orange or red by the date: how many days before
  // the date their last uninterrupted warning began (median), and how many
  // days after their last purchase it began (median; negative: while still buying).
  std::size_t flagged_churned = 0;
  double median_lead_time_days = 0;
  double median_flag_after_last_purchase_days = 0;
  std::string note;  // why a figure is missing
};

struct BacktestOptions {
  std::int64_t as_of_ms = 0;
  int horizon_days = 90;
  // Snapshots for the lead time, every N days over the horizon before the date; 0: no lead time.
  int lead_step_days = 7;
};

std::vector<BacktestRow> run_backtest(Store& store, PluginHost& plugins, const FeatureSettings& feature_settings,
                                      const ScoringSettings& scoring_settings, const BacktestOptions& options,
                                      const std::function<void(const std::string&)>& progress);

// Area under the ROC curve of `risk` for the positives of `label` (ties count half).
double roc_auc(const std::vector<double>& risk, const std::vector<double>& label);

}  // namespace crm::host
