#include "scoring/backtest.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <numeric>

#include "scoring/features.hpp"
#include "scoring/scoring.hpp"

namespace crm::host {
namespace {

// The customers with a purchase before the features' date: the backtest population.
CustomerFeatures buyers_only(const CustomerFeatures& all) {
  const std::vector<std::size_t> keep = buyer_rows(all);
  CustomerFeatures buyers;
  buyers.as_of_ms = all.as_of_ms;
  buyers.names = all.names;
  for (const std::size_t i : keep) {
    buyers.customer_ids.push_back(all.customer_ids[i]);
  }
  for (const auto& column : all.columns) {
    std::vector<double> values;
    values.reserve(keep.size());
    for (const std::size_t i : keep) {
      values.push_back(column[i]);
    }
    buyers.columns.push_back(std::move(values));
  }
  return buyers;
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
  std::map<std::string, std::vector<double>> scores;  // scorer id -> score per customer
  std::vector<std::string> notes;
};

// Trains every trainable scorer at (as_of - horizon) and scores the buyers as of `as_of`.
Snapshot score_at(Store& store, PluginHost& plugins, const FeatureSettings& feature_settings,
                  const ScoringSettings& scoring_settings, std::int64_t as_of_ms, int horizon_days) {
  Snapshot snapshot;
  snapshot.features = buyers_only(build_features(store.database(), feature_settings, as_of_ms));
  const std::int64_t train_as_of_ms = as_of_ms - horizon_days * kMillisecondsPerDay;
  std::optional<CustomerFeatures> history;
  std::vector<double> labels;
  std::vector<std::string> untrained;
  for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
    if (!is_trainable(*scorer)) {
      continue;
    }
    if (!history) {
      history = buyers_only(build_features(store.database(), feature_settings, train_as_of_ms));
      labels = churn_labels(store.database(), *history, train_as_of_ms, as_of_ms);
    }
    try {
      std::vector<std::size_t> rows(history->size());
      std::iota(rows.begin(), rows.end(), 0);
      train_scorer(*scorer, history->select(rows, required_features(*scorer)), labels, horizon_days);
    } catch (const PluginCallError& e) {
      untrained.push_back(scorer->id());
      snapshot.notes.push_back(fmt::format("{}: {}", scorer->id(), e.what()));
    }
  }
  const ScoringResult result = score_customers(plugins, snapshot.features, scoring_settings, false, nullptr, untrained);
  for (const ScorerOutcome& outcome : result.scorers) {
    snapshot.scores[outcome.scorer_id] = outcome.scores;
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
      score_at(store, plugins, feature_settings, scoring_settings, options.as_of_ms, options.horizon_days);
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
                                 options.as_of_ms - back * kMillisecondsPerDay, options.horizon_days));
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
