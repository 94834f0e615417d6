#include "app/scoring_jobs.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <stdexcept>

#include "app/errors.hpp"
#include "app/request_dates.hpp"
#include "loader/plugin_call_guard.hpp"
#include "loader/scorer_call.hpp"
#include "scoring/features.hpp"
#include "store/customer_read_repository.hpp"
#include "store/score_run_repository.hpp"

namespace crm::host {
namespace {

// The rows with at least one known feature: the customers with a record (order, activity, ticket, mail,
// survey, payment) before the features' date.
std::vector<std::size_t> known_rows(const CustomerFeatures& features) {
  std::vector<bool> known(features.size(), false);
  for (const std::vector<double>& column : features.columns) {
    for (std::size_t i = 0; i < column.size(); ++i) {
      known[i] = known[i] || !std::isnan(column[i]);
    }
  }
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (known[i]) {
      rows.push_back(i);
    }
  }
  return rows;
}

// The customers at `rows`, every column.
CustomerFeatures subset(const CustomerFeatures& features, const std::vector<std::size_t>& rows) {
  CustomerFeatures kept;
  kept.as_of_ms = features.as_of_ms;
  kept.names = features.names;
  kept.customer_ids.reserve(rows.size());
  for (const std::size_t i : rows) {
    kept.customer_ids.push_back(features.customer_ids[i]);
  }
  for (const std::vector<double>& column : features.columns) {
    std::vector<double>& values = kept.columns.emplace_back();
    values.reserve(rows.size());
    for (const std::size_t i : rows) {
      values.push_back(column[i]);
    }
  }
  return kept;
}

// The map runs as of `as_of_ms` may use: fitted for the primary scorer and the configured horizon on
// outcomes all known by that date, so a score as of a past date never sees what came after it.
std::optional<RunCalibration> calibration_at(Store& store, const std::string& primary_scorer, int horizon_days,
                                             std::int64_t as_of_ms, ScoringPass& pass) {
  pass.horizon_days = horizon_days;
  std::optional<StoredCalibration> stored =
      ScoreRunRepository(store.database()).calibration_for(primary_scorer, horizon_days, as_of_ms);
  if (!stored) {
    pass.calibration_note = kNoCalibrationYet;
    return std::nullopt;
  }
  std::optional<Calibration> map = calibration_from_json(stored->calibration.map_json);
  if (!map || map->empty()) {
    pass.calibration_note = fmt::format("calibration {} is damaged; run `crmhost train`", stored->id);
    return std::nullopt;
  }
  pass.calibration_id = stored->id;
  pass.calibration_outcome_end_ms = stored->calibration.outcome_end_ms;
  return RunCalibration{stored->id, horizon_days, std::move(*map)};
}

}  // namespace

ScoringPass run_scoring(Session& session, Store& store, PluginHost& host, std::int64_t as_of_ms, bool past_date) {
  const ScoringSettings& settings = session.config().scoring;
  ScoringPass pass;
  pass.as_of_ms = as_of_ms;
  std::map<std::string, std::string> models;
  const std::vector<std::string> untrained = load_stored_models(store, host, models);
  session.progress("computing features");
  CustomerFeatures features = build_features(store.database(), session.config().features, as_of_ms);
  if (past_date) {
    features = subset(features, known_rows(features));
  }
  ScoringResult result = score_customers(
      host, features, settings, true,
      [&](std::size_t done, std::size_t total) { session.progress(fmt::format("scoring {}/{}", done, total)); },
      untrained);
  for (ScorerOutcome& outcome : result.scorers) {
    if (const auto found = models.find(outcome.scorer_id); found != models.end()) {
      outcome.model = found->second;
    }
  }
  session.progress("storing scores");
  std::optional<RunCalibration> calibration;
  if (result.primary) {
    calibration =
        calibration_at(store, result.scorers[*result.primary].scorer_id, settings.horizon_days, as_of_ms, pass);
  } else {
    pass.horizon_days = settings.horizon_days;
    pass.calibration_note = kNoCalibrationYet;
  }
  StoredScoringRun stored = store_scoring_run(store, features, result, settings, session.clock().now_ms(),
                                              calibration ? &*calibration : nullptr);
  session.progress_done();
  pass.run_id = stored.run_id;
  pass.changes = std::move(stored.changes);
  pass.customers = features.size();
  pass.skipped = result.skipped;
  for (const BandRule& band : settings.bands) {
    pass.bands[band.name] = 0;
  }
  if (result.primary) {
    pass.primary_scorer = result.scorers[*result.primary].scorer_id;
    for (const double score : result.scorers[*result.primary].scores) {
      if (std::isnan(score)) {
        ++pass.unscored;
      } else {
        ++pass.bands[band_of(settings, score).name];
      }
    }
  }
  pass.tiers = CustomerReadRepository(store.database()).tier_counts(pass.run_id);
  return pass;
}

ScoreJobResult score(Session& session, std::optional<std::int64_t> as_of_ms) {
  const StoreHandle store = session.open_store();
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  ScoreJobResult result;
  result.refused = session.report_refusals(*host, {"scorer"});
  if (loaded_scorers(*host).empty()) {
    if (result.refused > 0) {
      throw PluginsRefused(fmt::format("no scorer could run: {} refused; see `crmhost plugins`", result.refused));
    }
    throw ConfigError("no scorer plugin is loaded; see `crmhost plugins`");
  }
  result.pass = run_scoring(session, *store, *host, as_of_or_today(as_of_ms, session.clock()), as_of_ms.has_value());
  return result;
}

namespace {

// The churn probability's map: the band-deciding score of the training snapshot, scored with the models just
// trained (no second feature build), against what those customers did by the outcome's end. Stored with that
// date, so it serves runs as of it or later only.
void fit_calibration(Session& session, Store& store, PluginHost& host, const CustomerFeatures& history,
                     const std::vector<double>& labels, TrainResult& result) {
  session.progress("calibrating the churn probability");
  std::vector<std::string> untrained;
  for (const TrainedScorer& scorer : result.scorers) {
    if (!scorer.model_id) {
      untrained.push_back(scorer.scorer_id);
    }
  }
  const ScoringResult scored = score_customers(host, history, session.config().scoring, false, nullptr, untrained);
  if (!scored.primary) {
    result.calibration_note = "no scorer scored the training snapshot, so no churn probability was calibrated";
    return;
  }
  const ScorerOutcome& primary = scored.scorers[*scored.primary];
  result.calibration_scorer = primary.scorer_id;
  std::vector<double> risk(primary.scores.size());
  std::transform(primary.scores.begin(), primary.scores.end(), risk.begin(), churn_risk_of_score);
  const Calibration map = fit_isotonic(risk, labels);
  if (map.empty()) {
    result.calibration_note =
        "fewer than two customers churned or two stayed in the training snapshot, so no churn probability was "
        "calibrated";
    return;
  }
  std::vector<double> probability(risk.size());
  std::transform(risk.begin(), risk.end(), probability.begin(), [&](double value) { return map.apply(value); });
  result.calibration_brier = calibration_quality(probability, labels).brier;
  result.calibration_customers = map.customers;
  result.calibration_id =
      ScoreRunRepository(store.database())
          .add_calibration(
              {primary.scorer_id, session.clock().now_ms(), result.features_as_of_ms, result.outcome_end_ms,
               result.horizon_days, static_cast<std::int64_t>(map.customers),
               std::isnan(result.calibration_brier) ? std::nullopt : std::optional<double>(result.calibration_brier),
               calibration_to_json(map)});
}

}  // namespace

bool TrainResult::failed() const {
  return std::any_of(scorers.begin(), scorers.end(), [](const TrainedScorer& scorer) { return !scorer.model_id; });
}

TrainResult train(Session& session, std::optional<std::int64_t> as_of_ms, int horizon_days) {
  const StoreHandle store = session.open_store();
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  TrainResult result;
  result.refused = session.report_refusals(*host, {"scorer"});
  result.horizon_days = horizon_days;
  // Labels need a full horizon of outcome: train on the features a horizon before the date.
  result.outcome_end_ms = as_of_or_today(as_of_ms, session.clock());
  result.features_as_of_ms = result.outcome_end_ms - horizon_days * kMillisecondsPerDay;
  session.progress("computing features");
  const CustomerFeatures all = build_features(store->database(), session.config().features, result.features_as_of_ms);
  const std::vector<std::size_t> buyers = buyer_rows(all);
  const std::vector<double> labels_all =
      churn_labels(store->database(), all, result.features_as_of_ms, result.outcome_end_ms);
  std::vector<double> labels;
  labels.reserve(buyers.size());
  for (const std::size_t i : buyers) {
    labels.push_back(labels_all[i]);
  }
  for (LoadedPlugin* scorer : loaded_scorers(*host)) {
    if (!is_trainable(*scorer)) {
      continue;
    }
    session.progress(fmt::format("training {}", scorer->id()));
    try {
      const std::string model =
          train_scorer(*scorer, all.select(buyers, requested_features(*scorer, all.names)), labels, horizon_days);
      result.scorers.push_back({scorer->id(),
                                store_model(*store, scorer->id(), scorer->record().version, session.clock().now_ms(),
                                            result.features_as_of_ms, horizon_days, buyers.size(), model),
                                {}});
    } catch (const PluginCallError& e) {
      result.scorers.push_back({scorer->id(), std::nullopt, e.what()});
    }
  }
  fit_calibration(session, *store, *host, subset(all, buyers), labels, result);
  session.progress_done();
  result.customers = buyers.size();
  result.churned = static_cast<double>(std::count(labels.begin(), labels.end(), 1.0));
  return result;
}

BacktestResult backtest(Session& session, const BacktestOptions& options) {
  const StoreHandle store = session.open_store();
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  BacktestResult result;
  result.refused = session.report_refusals(*host, {"scorer"});
  result.rows = run_backtest(*store, *host, session.config().features, session.config().scoring, options,
                             [&](const std::string& step) { session.progress(step); });
  session.progress_done();
  return result;
}

CrossValidationJobResult cross_validate(Session& session, const CrossValidationOptions& options) {
  const StoreHandle store = session.open_store();
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  CrossValidationJobResult result;
  result.refused = session.report_refusals(*host, {"scorer"});
  try {
    result.cross_validation = run_cross_validation(*store, *host, session.config().features, session.config().scoring,
                                                   options, [&](const std::string& step) { session.progress(step); });
  } catch (const std::invalid_argument& e) {
    session.progress_done();
    throw InvalidRequest(e.what());
  }
  session.progress_done();
  return result;
}

std::vector<std::string> list_features(const Session& session) {
  return feature_names(session.config().features);
}

}  // namespace crm::host
