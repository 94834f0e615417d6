#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/session.hpp"
#include "scoring/backtest.hpp"
#include "scoring/cross_validation.hpp"
#include "scoring/scoring.hpp"

namespace crm::host {

// One scoring pass as `score` and `run` do it: features, every scorer, the run stored.
struct ScoringPass {
  std::int64_t run_id = 0;
  std::int64_t as_of_ms = 0;
  std::size_t customers = 0;
  std::string primary_scorer;
  std::map<std::string, std::size_t> bands;  // every configured band, customers of the primary scorer in it
  std::map<std::string, std::size_t> tiers;
  std::size_t unscored = 0;
  std::vector<std::string> skipped;  // "<scorer>: <why>"
  std::vector<BandChange> changes;   // since the run before
  // The calibration the run's churn probabilities come from (the newest fitted for the configured
  // horizon with outcomes known by the run's date); nullopt, with calibration_note saying why, when none.
  std::optional<std::int64_t> calibration_id;
  int horizon_days = 0;  // scoring.horizon_days
  std::optional<std::int64_t> calibration_outcome_end_ms;
  std::string calibration_note;
};

// Scores as of `as_of_ms` with the store and plugins a job already has open.
// `past_date`: the date was asked for (score --as-of), so customers with no
// record before it (first seen after it) are neither stored nor counted.
ScoringPass run_scoring(Session& session, Store& store, PluginHost& host, std::int64_t as_of_ms,
                        bool past_date = false);

struct ScoreJobResult {
  ScoringPass pass;
  std::size_t refused = 0;  // scorers refused; the others scored
};

// `crmhost score`: every customer as of the date (nullopt: today). Throws
// PluginsRefused when every scorer was refused, ConfigError when none is configured.
ScoreJobResult score(Session& session, std::optional<std::int64_t> as_of_ms);

struct TrainedScorer {
  std::string scorer_id;
  std::optional<std::int64_t> model_id;  // nullopt: training failed
  std::string error;
};

struct TrainResult {
  std::int64_t features_as_of_ms = 0;  // a horizon before the outcome's end
  std::int64_t outcome_end_ms = 0;
  int horizon_days = 0;
  std::size_t customers = 0;
  double churned = 0;
  std::vector<TrainedScorer> scorers;  // the trainable ones, in load order
  std::size_t refused = 0;
  // The churn probability's map, fitted on the same snapshot: the band-deciding score (calibration_scorer's)
  // against what those customers did by outcome_end_ms (isotonic). nullopt, with calibration_note saying
  // why, when it could not be fitted (fewer than two churned or two staying, or no scorer scored).
  std::optional<std::int64_t> calibration_id;
  std::string calibration_scorer;
  std::size_t calibration_customers = 0;
  double calibration_brier = 0;  // on the customers it was fitted on
  std::string calibration_note;

  [[nodiscard]] bool failed() const;
};

// Fits the learning scorers on history: features a horizon before `as_of_ms` (nullopt: today), outcome up to it;
// then maps the band-deciding score of those customers to their churned share (the churn probability runs store).
TrainResult train(Session& session, std::optional<std::int64_t> as_of_ms, int horizon_days);

struct BacktestResult {
  std::vector<BacktestRow> rows;
  std::size_t refused = 0;
};

BacktestResult backtest(Session& session, const BacktestOptions& options);

// k-fold stratified cross-validation on a label attribute (scoring/cross_validation.hpp).
// Throws InvalidRequest when the folds or the labels do not allow it (naming why).
struct CrossValidationJobResult {
  CrossValidationResult cross_validation;
  std::size_t refused = 0;
};
CrossValidationJobResult cross_validate(Session& session, const CrossValidationOptions& options);

// The customer features this host computes for scorers.
std::vector<std::string> list_features(const Session& session);

}  // namespace crm::host
