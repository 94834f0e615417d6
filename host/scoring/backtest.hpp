#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loader/plugin_host.hpp"
#include "scoring/calibration.hpp"
#include "scoring/settings.hpp"
#include "store/store.hpp"

namespace crm::host {

// How well one scorer foretold, as of a date, who bought nothing in the
// horizon after it. The population is every customer with a purchase before
// the date; scorers that learn are trained at (date - horizon) on what
// happened in the horizon up to the date, so nothing after the date is seen.
// Of the customers a band held at the date, how many churned.
struct BandOutcome {
  std::string band;
  std::size_t customers = 0;
  std::size_t churned = 0;
  [[nodiscard]] double precision() const;  // churned share; NaN when the band is empty
};

struct BacktestRow {
  // A scorer's id, "baseline_recency" (recency alone, the simplest peer) or
  // "bands": the score that decides the bands (the primary scorer's, band_scorer).
  std::string scorer_id;
  std::string band_scorer;         // "bands" only: whose score it is
  std::vector<BandOutcome> bands;  // "bands" only: each band's customers and churned, best band first
  double accuracy_at_red = 0;      // "bands" only: red = will churn, other bands = will stay; NaN if none
  // "bands" only: the churn probability calibrated (isotonic) on the snapshot a horizon before the
  // date, with the outcomes known by the date, and how it fared; brier NaN when it could not be fitted.
  CalibrationQuality calibration;
  std::size_t calibration_customers = 0;
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
  // Per snapshot (the date's, the lead-time ones): a model at a boundary, a training date before the
  // data begins, a model that could not be trained there.
  std::vector<std::string> warnings;
};

// The id of the backtest row of the band-deciding score.
inline constexpr const char* kBandsRowId = "bands";

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
