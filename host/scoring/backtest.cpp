#include "scoring/backtest.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "scoring/features.hpp"
#include "scoring/scoring.hpp"

namespace crm::host {
namespace {

// The customers with a purchase before the features' date: the backtest population.
CustomerFeatures buyers_only(const CustomerFeatures& all) {
  return all.subset(buyer_rows(all));
}

double median(std::vector<double> values) {
  if (values.empty()) {
    return std::nan("");
  }
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  if (values.size() % 2 == 1) {
    return *middle;
  }
  return (*middle + *std::max_element(values.begin(), middle)) / 2.0;
}

struct Snapshot {
  CustomerFeatures features;
  std::string band_scorer;                            // the primary scorer, whose score is also kept as kBandsRowId
  std::map<std::string, std::vector<double>> scores;  // scorer id -> score per customer
  std::vector<std::string> notes;
  std::vector<double> churn_probability;  // calibrated from the band-deciding score; NaN when no fit
  std::size_t calibration_customers = 0;
  bool training_before_data = false;                          // no customer had bought by the training date
  std::vector<std::pair<std::string, std::string>> warnings;  // (scorer id, what it warned about this snapshot)
};

// Trains every trainable scorer at (as_of - horizon) and scores the buyers as of `as_of`.
Snapshot score_at(Store& store, PluginHost& plugins, const FeatureSettings& feature_settings,
                  const ScoringSettings& scoring_settings, std::int64_t as_of_ms, int horizon_days, bool calibrate) {
  Snapshot snapshot;
  snapshot.features = buyers_only(build_features(store.database(), feature_settings, as_of_ms));
  const std::int64_t train_as_of_ms = as_of_ms - horizon_days * kMillisecondsPerDay;
  // The training snapshot: every buyer as of the training date, and whether they bought by the date.
  const CustomerFeatures history = buyers_only(build_features(store.database(), feature_settings, train_as_of_ms));
  const std::vector<double> labels = churn_labels(store.database(), history, train_as_of_ms, as_of_ms);
  snapshot.training_before_data = history.size() == 0;
  std::vector<std::string> untrained;
  for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
    if (!is_trainable(*scorer)) {
      continue;
    }
    try {
      std::vector<std::size_t> rows(history.size());
      std::iota(rows.begin(), rows.end(), 0);
      const std::string model =
          train_scorer(*scorer, history.select(rows, requested_features(*scorer, history.names)), labels, horizon_days);
      // BG/NBD says in its model when the likelihood peaked at the no-dropout boundary.
      const nlohmann::json saved = nlohmann::json::parse(model, nullptr, false);
      if (saved.is_object() && saved.value("at_boundary", false)) {
        snapshot.warnings.emplace_back(scorer->id(),
                                       "the likelihood peaks where no customer drops out; the NBD purchase rate is "
                                       "used (probability alive is 1)");
      }
    } catch (const PluginCallError& e) {
      untrained.push_back(scorer->id());
      snapshot.notes.push_back(fmt::format("{}: {}", scorer->id(), e.what()));
    }
  }
  const ScoringResult result = score_customers(plugins, snapshot.features, scoring_settings, false, nullptr, untrained);
  // The probability of churning: the band-deciding score of the training snapshot against what those
  // customers did by the date (isotonic), applied to the score at the date.
  snapshot.churn_probability.assign(snapshot.features.size(), std::nan(""));
  if (calibrate && result.primary && history.size() > 0) {
    const ScoringResult trained = score_customers(plugins, history, scoring_settings, false, nullptr, untrained);
    if (trained.primary) {
      std::vector<double> risk = trained.scorers[*trained.primary].scores;
      std::transform(risk.begin(), risk.end(), risk.begin(), [](double score) { return 100.0 - score; });
      const Calibration calibration = fit_isotonic(risk, labels);
      snapshot.calibration_customers = calibration.customers;
      const std::vector<double>& scores = result.scorers[*result.primary].scores;
      for (std::size_t i = 0; i < scores.size(); ++i) {
        snapshot.churn_probability[i] = calibration.apply(100.0 - scores[i]);
      }
    }
  }
  for (const ScorerOutcome& outcome : result.scorers) {
    snapshot.scores[outcome.scorer_id] = outcome.scores;
  }
  if (result.primary) {
    snapshot.band_scorer = result.scorers[*result.primary].scorer_id;
    snapshot.scores[kBandsRowId] = result.scorers[*result.primary].scores;
  }
  for (const std::string& skipped : result.skipped) {
    if (std::find_if(snapshot.notes.begin(), snapshot.notes.end(), [&](const std::string& note) {
          return note.rfind(skipped.substr(0, skipped.find(':')), 0) == 0;
        }) == snapshot.notes.end()) {
      snapshot.notes.push_back(skipped);
    }
  }
  std::vector<double> recency_risk = snapshot.features.column("recency_days");
  for (double& value : recency_risk) {
    value = 100.0 - 100.0 * value / (value + 90.0);
  }
  snapshot.scores["baseline_recency"] = std::move(recency_risk);
  return snapshot;
}

}  // namespace

double BandOutcome::precision() const {
  return customers == 0 ? std::nan("") : static_cast<double>(churned) / static_cast<double>(customers);
}

double roc_auc(const std::vector<double>& risk, const std::vector<double>& label) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < risk.size(); ++i) {
    if (!std::isnan(risk[i]) && !std::isnan(label[i])) {
      order.push_back(i);
    }
  }
  std::sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) { return risk[left] < risk[right]; });
  double positive_rank_sum = 0;
  double positives = 0;
  for (std::size_t at = 0; at < order.size();) {
    std::size_t end = at;
    while (end < order.size() && risk[order[end]] == risk[order[at]]) {
      ++end;
    }
    const double rank = static_cast<double>(at + end + 1) / 2.0;
    for (std::size_t k = at; k < end; ++k) {
      if (label[order[k]] > 0.5) {
        positive_rank_sum += rank;
        positives += 1;
      }
    }
    at = end;
  }
  const double negatives = static_cast<double>(order.size()) - positives;
  if (positives == 0 || negatives == 0) {
    return std::nan("");
  }
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

std::vector<BacktestRow> run_backtest(Store& store, PluginHost& plugins, const FeatureSettings& feature_settings,
                                      const ScoringSettings& scoring_settings, const BacktestOptions& options,
                                      const std::function<void(const std::string&)>& progress) {
  const std::int64_t horizon_ms = options.horizon_days * kMillisecondsPerDay;
  if (progress) {
    progress("scoring as of the date");
  }
  Snapshot at_date =
      score_at(store, plugins, feature_settings, scoring_settings, options.as_of_ms, options.horizon_days, true);
  const CustomerFeatures& population = at_date.features;
  const std::vector<double> churned =
      churn_labels(store.database(), population, options.as_of_ms, options.as_of_ms + horizon_ms);
  const std::size_t churned_count = static_cast<std::size_t>(std::count(churned.begin(), churned.end(), 1.0));

  // Lead time: weekly snapshots over the horizon before the date, each scored
  // with models trained a horizon before it.
  std::vector<Snapshot> history;
  if (options.lead_step_days > 0) {
    for (int back = options.horizon_days; back > 0; back -= options.lead_step_days) {
      if (progress) {
        progress(fmt::format("lead-time snapshot {} days before the date", back));
      }
      history.push_back(score_at(store, plugins, feature_settings, scoring_settings,
                                 options.as_of_ms - back * kMillisecondsPerDay, options.horizon_days, false));
    }
  }
  const double flag_below = scoring_settings.bands.size() > 2 ? scoring_settings.bands[1].min_score : 60.0;
  const std::vector<double>& recency = population.column("recency_days");

  std::vector<BacktestRow> rows;
  for (const auto& [scorer_id, scores] : at_date.scores) {
    BacktestRow row;
    row.scorer_id = scorer_id;
    row.customers = population.size();
    row.churned = churned_count;
    std::vector<double> risk(scores.size());
    std::transform(scores.begin(), scores.end(), risk.begin(), [](double score) { return 100.0 - score; });
    row.roc_auc = roc_auc(risk, churned);
    std::vector<std::size_t> order(risk.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) {
      const double a = std::isnan(risk[left]) ? -1 : risk[left];
      const double b = std::isnan(risk[right]) ? -1 : risk[right];
      return a > b;
    });
    const std::size_t top = std::max<std::size_t>(1, order.size() / 10);
    double hits = 0;
    for (std::size_t k = 0; k < top && k < order.size(); ++k) {
      hits += churned[order[k]];
    }
    row.precision_top10 = order.empty() ? 0 : hits / static_cast<double>(std::min(top, order.size()));
    row.recall_top10 = churned_count == 0 ? 0 : hits / static_cast<double>(churned_count);

    if (!history.empty() && scorer_id != "baseline_recency") {
      // Per churned customer: the first snapshot of the final uninterrupted run of flags up to the date.
      std::map<std::int64_t, std::size_t> position;
      std::vector<double> lead_days;
      std::vector<double> after_purchase_days;
      std::vector<std::map<std::int64_t, double>> by_snapshot;
      for (const Snapshot& snapshot : history) {
        auto& scores_by_id = by_snapshot.emplace_back();
        const auto found = snapshot.scores.find(scorer_id);
        if (found != snapshot.scores.end()) {
          for (std::size_t i = 0; i < snapshot.features.size(); ++i) {
            scores_by_id[snapshot.features.customer_ids[i]] = found->second[i];
          }
        }
      }
      for (std::size_t i = 0; i < population.size(); ++i) {
        if (churned[i] != 1.0 || std::isnan(scores[i]) || scores[i] >= flag_below) {
          continue;
        }
        int first_flag_back = 0;  // days before the date; 0 = flagged only at the date
        for (std::size_t s = history.size(); s-- > 0;) {
          const auto found = by_snapshot[s].find(population.customer_ids[i]);
          if (found == by_snapshot[s].end() || std::isnan(found->second) || found->second >= flag_below) {
            break;
          }
          first_flag_back = options.horizon_days - static_cast<int>(s) * options.lead_step_days;
        }
        ++row.flagged_churned;
        lead_days.push_back(first_flag_back);
        after_purchase_days.push_back(recency[i] - first_flag_back);
      }
      row.median_lead_time_days = median(lead_days);
      row.median_flag_after_last_purchase_days = median(after_purchase_days);
    } else {
      row.median_lead_time_days = std::nan("");
      row.median_flag_after_last_purchase_days = std::nan("");
    }
    for (const std::string& note : at_date.notes) {
      if (note.rfind(scorer_id + ":", 0) == 0) {
        row.note = note;
      }
    }
    // What each snapshot had to say: BG/NBD at the boundary, training dates before the data, failed training.
    const std::string own_id = scorer_id == kBandsRowId ? at_date.band_scorer : scorer_id;
    for (const auto& [id, warning] : at_date.warnings) {
      if (id == own_id) {
        row.warnings.push_back(fmt::format("at the date: {}", warning));
      }
    }
    for (std::size_t s = 0; s < history.size() && scorer_id != "baseline_recency"; ++s) {
      const int back = options.horizon_days - static_cast<int>(s) * options.lead_step_days;
      const Snapshot& snapshot = history[s];
      if (snapshot.training_before_data) {
        row.warnings.push_back(fmt::format(
            "lead-time snapshot {} days before the date: its training date ({} days before) falls before the data "
            "begins, so learned scorers are not trained there and it is scored without them",
            back, back + options.horizon_days));
        continue;
      }
      for (const auto& [id, warning] : snapshot.warnings) {
        if (id == own_id) {
          row.warnings.push_back(fmt::format("lead-time snapshot {} days before the date: {}", back, warning));
        }
      }
      for (const std::string& note : snapshot.notes) {
        if (note.rfind(own_id + ":", 0) == 0) {
          row.warnings.push_back(fmt::format("lead-time snapshot {} days before the date: {}", back, note));
        }
      }
    }
    if (scorer_id == kBandsRowId) {
      row.band_scorer = at_date.band_scorer;
      for (const BandRule& rule : scoring_settings.bands) {
        row.bands.push_back({rule.name, 0, 0});
      }
      const std::string& red = scoring_settings.bands.empty() ? std::string() : scoring_settings.bands.back().name;
      std::size_t judged = 0;
      std::size_t right = 0;
      for (std::size_t i = 0; i < scores.size(); ++i) {
        if (std::isnan(scores[i])) {
          continue;
        }
        const std::string& band = band_of(scoring_settings, scores[i]).name;
        for (BandOutcome& outcome : row.bands) {
          if (outcome.band == band) {
            ++outcome.customers;
            outcome.churned += churned[i] == 1.0 ? 1 : 0;
          }
        }
        ++judged;
        right += (band == red) == (churned[i] == 1.0) ? 1 : 0;
      }
      row.accuracy_at_red = judged == 0 ? std::nan("") : static_cast<double>(right) / static_cast<double>(judged);
      row.calibration = calibration_quality(at_date.churn_probability, churned);
      row.calibration_customers = at_date.calibration_customers;
    }
    rows.push_back(std::move(row));
  }
  for (const std::string& note : at_date.notes) {
    const std::string id = note.substr(0, note.find(':'));
    if (at_date.scores.count(id) == 0) {
      BacktestRow row;
      row.scorer_id = id;
      row.note = note;
      row.roc_auc = std::nan("");
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace crm::host
