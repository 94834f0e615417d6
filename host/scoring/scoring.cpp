#include "scoring/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace crm::host {
namespace {

constexpr std::array<const char*, 4> kTierNames = {"strategic", "key", "potential", "general"};
constexpr std::array<const char*, 3> kAbcNames = {"A", "B", "C"};
constexpr std::array<const char*, 4> kStageNames = {"development", "initial", "stable", "strategic"};

template <std::size_t N>
std::string code_name(const std::array<const char*, N>& names, double code) {
  if (std::isnan(code) || code < 0 || code >= static_cast<double>(N)) {
    return {};
  }
  return names[static_cast<std::size_t>(code)];
}

// Keeps the five contributions of largest magnitude (the ones that explain a score).
void keep_top(std::array<std::pair<std::int16_t, float>, 5>& top, std::int16_t feature, double points) {
  if (points == 0 || std::isnan(points)) {
    return;
  }
  const auto weakest = std::min_element(top.begin(), top.end(), [](const auto& left, const auto& right) {
    return std::fabs(left.second) < std::fabs(right.second);
  });
  if (std::fabs(points) > std::fabs(weakest->second)) {
    *weakest = {feature, static_cast<float>(points)};
  }
}

}  // namespace

const std::vector<double>* ScorerOutcome::output(std::string_view name) const {
  for (std::size_t c = 0; c < output_names.size(); ++c) {
    if (output_names[c] == name) {
      return &outputs[c];
    }
  }
  return nullptr;
}

std::vector<std::string> split_reason_codes(std::string_view stored) {
  std::vector<std::string> codes;
  std::size_t start = 0;
  while (start < stored.size()) {
    const std::size_t end = std::min(stored.find(',', start), stored.size());
    if (end > start) {
      codes.emplace_back(stored.substr(start, end - start));
    }
    start = end + 1;
  }
  return codes;
}

std::string output_label(std::string_view column, double code) {
  if (column == "tier") {
    return code_name(kTierNames, code);
  }
  if (column == "abc_class") {
    return code_name(kAbcNames, code);
  }
  if (column == "stage") {
    return code_name(kStageNames, code);
  }
  return {};
}

std::vector<LoadedPlugin*> loaded_scorers(PluginHost& plugins) {
  return plugins.plugins_of_kind(CRM_KIND_SCORER);
}

std::vector<std::string> load_stored_models(Store& store, PluginHost& plugins,
                                            std::map<std::string, std::string>& model_labels) {
  std::vector<std::string> untrained;
  for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
    if (!is_trainable(*scorer)) {
      continue;
    }
    Statement query = store.database().prepare(
        "SELECT id, model, as_of_ms FROM models WHERE scorer_id = ?1 ORDER BY id DESC LIMIT 1");
    query.bind(1, scorer->id());
    if (!query.step()) {
      untrained.push_back(scorer->id());
      continue;
    }
    load_model(*scorer, query.column_text(1));
    model_labels[scorer->id()] = fmt::format("{}+model {}", scorer->record().version, query.column_int64(0));
  }
  return untrained;
}

ScoringResult score_customers(PluginHost& plugins, const CustomerFeatures& features, const ScoringSettings& settings,
                              bool explain, const std::function<void(std::size_t, std::size_t)>& progress,
                              const std::vector<std::string>& untrained) {
  ScoringResult result;
  std::vector<LoadedPlugin*> scorers;
  for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
    if (std::find(untrained.begin(), untrained.end(), scorer->id()) != untrained.end()) {
      result.skipped.push_back(fmt::format("{}: no trained model yet; run `crmhost train`", scorer->id()));
    } else {
      scorers.push_back(scorer);
    }
  }
  const std::size_t customer_count = features.size();
  const std::size_t total_steps = scorers.size() * customer_count;
  std::size_t done = 0;
  for (LoadedPlugin* scorer : scorers) {
    ScorerOutcome outcome;
    outcome.scorer_id = scorer->id();
    outcome.model = scorer->record().version;
    outcome.reason_names = reason_codes(*scorer);
    outcome.output_names = output_column_names(*scorer);
    outcome.feature_names = required_features(*scorer);
    outcome.scores.reserve(customer_count);
    outcome.outputs.resize(outcome.output_names.size());
    const bool with_contributions = explain && scorer->has_capability(CRM_CAP_EXPLAIN);
    try {
      for (std::size_t begin = 0; begin < customer_count; begin += settings.batch_size) {
        const std::size_t end = std::min(customer_count, begin + settings.batch_size);
        const ScoreResult batch =
            score_batch(*scorer, features.slice(begin, end, outcome.feature_names), with_contributions);
        outcome.scores.insert(outcome.scores.end(), batch.scores.begin(), batch.scores.end());
        outcome.reasons.insert(outcome.reasons.end(), batch.reasons.begin(), batch.reasons.end());
        for (std::size_t c = 0; c < batch.output_columns.size(); ++c) {
          outcome.outputs[c].insert(outcome.outputs[c].end(), batch.output_columns[c].begin(),
                                    batch.output_columns[c].end());
        }
        if (with_contributions) {
          const std::size_t rows = end - begin;
          for (std::size_t i = 0; i < rows; ++i) {
            auto& top = outcome.top_contributions.emplace_back();
            top.fill({-1, 0.0F});
            for (std::size_t k = 0; k < outcome.feature_names.size(); ++k) {
              keep_top(top, static_cast<std::int16_t>(k), batch.contributions[k * rows + i]);
            }
          }
        }
        done += end - begin;
        if (progress) {
          progress(done, total_steps);
        }
      }
    } catch (const PluginCallError& e) {
      result.skipped.push_back(fmt::format("{}: {}", scorer->id(), e.what()));
      continue;
    }
    result.scorers.push_back(std::move(outcome));
  }
  for (std::size_t s = 0; s < result.scorers.size(); ++s) {
    if (result.scorers[s].scorer_id == settings.primary_scorer) {
      result.primary = s;
    }
  }
  if (!result.primary && !result.scorers.empty()) {
    result.primary = 0;
  }
  return result;
}

std::int64_t store_scoring_run(Store& store, const CustomerFeatures& features, const ScoringResult& result,
                               const ScoringSettings& settings, std::int64_t now_ms) {
  Database& db = store.database();
  Transaction transaction(db);
  nlohmann::json scorers = nlohmann::json::object();
  for (const ScorerOutcome& outcome : result.scorers) {
    scorers[outcome.scorer_id] = outcome.model;
  }
  const std::string primary_id = result.primary ? result.scorers[*result.primary].scorer_id : std::string();
  db.prepare(
        "INSERT INTO score_runs(as_of_ms, started_ms, primary_scorer, scorers_json, customer_count) VALUES (?1, ?2, "
        "?3, ?4, ?5)")
      .bind(1, features.as_of_ms)
      .bind(2, now_ms)
      .bind(3, primary_id)
      .bind(4, scorers.dump())
      .bind(5, static_cast<std::int64_t>(features.size()))
      .run();
  const std::int64_t run_id = db.last_insert_rowid();
  Statement insert = db.prepare(
      "INSERT INTO customer_scores(run_id, customer_id, score, band, tier, stage, abc_class, reasons, scores_json, "
      "explain_json, purchases_per_year) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  // Tier, stage, class and the yearly purchases while alive come from whichever scorer outputs them.
  const std::vector<double>* tier = nullptr;
  const std::vector<double>* stage = nullptr;
  const std::vector<double>* abc = nullptr;
  const std::vector<double>* purchases_per_year = nullptr;
  for (const ScorerOutcome& outcome : result.scorers) {
    tier = tier != nullptr ? tier : outcome.output("tier");
    stage = stage != nullptr ? stage : outcome.output("stage");
    abc = abc != nullptr ? abc : outcome.output("abc_class");
    purchases_per_year =
        purchases_per_year != nullptr ? purchases_per_year : outcome.output("purchases_per_year_if_alive");
  }
  std::string reasons;
  std::string scores_json;
  std::string explain_json;
  for (std::size_t i = 0; i < features.size(); ++i) {
    insert.bind(1, run_id).bind(2, features.customer_ids[i]);
    const ScorerOutcome* primary = result.primary ? &result.scorers[*result.primary] : nullptr;
    if (primary != nullptr && !std::isnan(primary->scores[i])) {
      insert.bind(3, primary->scores[i]).bind(4, band_of(settings, primary->scores[i]).name);
    } else {
      insert.bind_null(3).bind_null(4);
    }
    const auto bind_label = [&](int index, const std::vector<double>* column, std::string_view name) {
      const std::string label = column != nullptr ? output_label(name, (*column)[i]) : std::string();
      if (label.empty()) {
        insert.bind_null(index);
      } else {
        insert.bind(index, label);
      }
    };
    bind_label(5, tier, "tier");
    bind_label(6, stage, "stage");
    bind_label(7, abc, "abc_class");
    reasons.clear();
    scores_json = "{";
    for (const ScorerOutcome& outcome : result.scorers) {
      if (!outcome.reasons.empty()) {
        for (std::size_t bit = 0; bit < outcome.reason_names.size(); ++bit) {
          if ((outcome.reasons[i] >> bit & 1U) != 0) {
            reasons += reasons.empty() ? "" : ",";
            reasons += outcome.reason_names[bit];
          }
        }
      }
      const double score = outcome.scores[i];
      scores_json += fmt::format("{}\"{}\":{}", scores_json.size() > 1 ? "," : "", outcome.scorer_id,
                                 std::isnan(score) ? std::string("null") : fmt::format("{:.2f}", score));
    }
    scores_json += "}";
    insert.bind(8, reasons).bind(9, scores_json);
    explain_json.clear();
    if (primary != nullptr && !primary->top_contributions.empty()) {
      auto top = primary->top_contributions[i];
      std::sort(top.begin(), top.end(),
                [](const auto& left, const auto& right) { return std::fabs(left.second) > std::fabs(right.second); });
      explain_json = "[";
      for (const auto& [feature, points] : top) {
        if (feature >= 0) {
          explain_json += fmt::format("{}[\"{}\",{:.2f}]", explain_json.size() > 1 ? "," : "",
                                      primary->feature_names[static_cast<std::size_t>(feature)], points);
        }
      }
      explain_json += "]";
      insert.bind(10, explain_json);
    } else {
      insert.bind_null(10);
    }
    if (purchases_per_year != nullptr && std::isfinite((*purchases_per_year)[i])) {
      insert.bind(11, (*purchases_per_year)[i]);
    } else {
      insert.bind_null(11);
    }
    insert.run();
  }
  db.prepare("UPDATE score_runs SET finished_ms = ?1 WHERE id = ?2").bind(1, now_ms).bind(2, run_id).run();
  transaction.commit();
  return run_id;
}

std::vector<BandChange> band_changes(Store& store, std::int64_t run_id) {
  std::vector<BandChange> changes;
  Statement query = store.database().prepare(
      "SELECT now.customer_id, before.band, now.band, now.score FROM customer_scores now JOIN customer_scores before "
      "ON before.customer_id = now.customer_id AND before.run_id = (SELECT max(id) FROM score_runs WHERE id < ?1 AND "
      "finished_ms IS NOT NULL) WHERE now.run_id = ?1 AND now.band IS NOT NULL AND before.band IS NOT now.band ORDER "
      "BY now.score");
  query.bind(1, run_id);
  while (query.step()) {
    changes.push_back({query.column_int64(0), query.column_text(1), query.column_text(2), query.column_double(3)});
  }
  return changes;
}

std::int64_t store_model(Store& store, const std::string& scorer_id, const std::string& scorer_version,
                         std::int64_t trained_ms, std::int64_t as_of_ms, int horizon_days, std::size_t customer_count,
                         const std::string& model) {
  Database& db = store.database();
  db.prepare(
        "INSERT INTO models(scorer_id, scorer_version, trained_ms, as_of_ms, horizon_days, customer_count, model) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
      .bind(1, scorer_id)
      .bind(2, scorer_version)
      .bind(3, trained_ms)
      .bind(4, as_of_ms)
      .bind(5, static_cast<std::int64_t>(horizon_days))
      .bind(6, static_cast<std::int64_t>(customer_count))
      .bind(7, model)
      .run();
  return db.last_insert_rowid();
}

}  // namespace crm::host
