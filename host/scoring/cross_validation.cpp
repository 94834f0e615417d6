#include "scoring/cross_validation.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "scoring/backtest.hpp"
#include "scoring/features.hpp"
#include "scoring/scoring.hpp"
#include "store/customer_history_repository.hpp"

namespace crm::host {
namespace {

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14'695'981'039'346'656'037ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1'099'511'628'211ULL;
  }
  return hash;
}

}  // namespace

std::optional<double> parse_churn_label(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "yes" || lower == "true" || lower == "1" || lower == "churned" || lower == "lost") {
    return 1.0;
  }
  if (lower == "no" || lower == "false" || lower == "0" || lower == "stayed" || lower == "active") {
    return 0.0;
  }
  return std::nullopt;
}

std::vector<int> stratified_folds(const std::vector<std::string>& external_ids, const std::vector<double>& churned,
                                  int folds) {
  if (folds < 2) {
    throw std::invalid_argument(fmt::format("--folds {}: cross-validation needs at least 2 folds", folds));
  }
  std::vector<int> fold(external_ids.size(), 0);
  for (const double outcome : {1.0, 0.0}) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < churned.size(); ++i) {
      if (churned[i] == outcome) {
        members.push_back(i);
      }
    }
    if (members.size() < static_cast<std::size_t>(folds)) {
      throw std::invalid_argument(
          fmt::format("{} customers {}, fewer than the {} folds: every fold needs both outcomes", members.size(),
                      outcome > 0.5 ? "churned" : "stayed", folds));
    }
    std::sort(members.begin(), members.end(), [&](std::size_t left, std::size_t right) {
      const std::uint64_t a = fnv1a(external_ids[left]);
      const std::uint64_t b = fnv1a(external_ids[right]);
      return a != b ? a < b : external_ids[left] < external_ids[right];
    });
    for (std::size_t at = 0; at < members.size(); ++at) {
      fold[members[at]] = static_cast<int>(at % static_cast<std::size_t>(folds));
    }
  }
  return fold;
}

CrossValidationResult run_cross_validation(Store& store, PluginHost& plugins, const FeatureSettings& feature_settings,
                                           const ScoringSettings& scoring_settings,
                                           const CrossValidationOptions& options,
                                           const std::function<void(const std::string&)>& progress) {
  CrossValidationResult result;
  result.folds = options.folds;
  result.label = options.label;
  progress("computing features");
  const CustomerFeatures all = build_features(store.database(), feature_settings, options.as_of_ms);
  std::unordered_map<std::int64_t, std::size_t> position;
  for (std::size_t i = 0; i < all.size(); ++i) {
    position.emplace(all.customer_ids[i], i);
  }

  // The population: customers whose label reads as yes or no (the first row of a unified customer's decides).
  std::vector<std::size_t> rows;
  std::vector<std::string> external_ids;
  std::vector<double> labels;
  {
    RowScan<LabelAttributeRow> scan = CustomerHistoryRepository(store.database()).scan_label_attribute(options.label);
    std::int64_t last = -1;
    for (LabelAttributeRow row; scan.next(row);) {
      if (row.unified_id == last) {
        continue;
      }
      last = row.unified_id;
      const auto found = position.find(row.unified_id);
      const std::optional<double> label = parse_churn_label(row.value);
      if (found == position.end() || !label) {
        ++result.unreadable;
        continue;
      }
      rows.push_back(found->second);
      external_ids.emplace_back(row.external_id);
      labels.push_back(*label);
    }
  }
  if (rows.empty()) {
    throw std::invalid_argument(
        fmt::format("no customer has the attribute '{}' as yes or no; import the labels, or name the label "
                    "attribute with --label",
                    options.label));
  }
  const std::vector<int> fold = stratified_folds(external_ids, labels, options.folds);
  result.customers = rows.size();
  result.churned = static_cast<std::size_t>(std::count(labels.begin(), labels.end(), 1.0));
  result.fold_customers.assign(static_cast<std::size_t>(options.folds), 0);
  result.fold_churned.assign(static_cast<std::size_t>(options.folds), 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    result.assignment.push_back({all.customer_ids[rows[i]], external_ids[i], labels[i], fold[i]});
    ++result.fold_customers[static_cast<std::size_t>(fold[i])];
    result.fold_churned[static_cast<std::size_t>(fold[i])] += labels[i] > 0.5 ? 1 : 0;
  }

  // Out-of-fold scores per row id, in population order.
  std::vector<std::string> order;
  std::unordered_map<std::string, std::vector<double>> scores;
  std::unordered_map<std::string, std::vector<std::string>> notes;
  std::string band_scorer;
  const auto note = [&](const std::string& id, std::string text) {
    auto& list = notes[id];
    if (std::find(list.begin(), list.end(), text) == list.end()) {
      list.push_back(std::move(text));
    }
  };
  const auto keep = [&](const std::string& id, const std::vector<std::size_t>& members,
                        const std::vector<double>& fold_scores) {
    if (scores.count(id) == 0) {
      order.push_back(id);
      scores[id].assign(rows.size(), std::nan(""));
    }
    for (std::size_t k = 0; k < members.size(); ++k) {
      scores[id][members[k]] = fold_scores[k];
    }
  };
  for (int f = 0; f < options.folds; ++f) {
    progress(fmt::format("fold {} of {}", f + 1, options.folds));
    std::vector<std::size_t> train_rows;  // rows of `all`
    std::vector<double> train_labels;
    std::vector<std::size_t> test_members;  // positions in the population
    std::vector<std::size_t> test_rows;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (fold[i] == f) {
        test_members.push_back(i);
        test_rows.push_back(rows[i]);
      } else {
        train_rows.push_back(rows[i]);
        train_labels.push_back(labels[i]);
      }
    }
    std::vector<std::string> untrained;
    for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
      if (!is_trainable(*scorer)) {
        continue;
      }
      try {
        // The horizon means nothing for a label read from an attribute; the scorers' default is passed.
        train_scorer(*scorer, all.select(train_rows, requested_features(*scorer, all.names)), train_labels, 90);
      } catch (const PluginCallError& e) {
        untrained.push_back(scorer->id());
        note(scorer->id(), fmt::format("fold {}: not trained: {}", f + 1, e.what()));
      }
    }
    const CustomerFeatures test = all.subset(test_rows);
    const ScoringResult scored = score_customers(plugins, test, scoring_settings, false, nullptr, untrained);
    for (const ScorerOutcome& outcome : scored.scorers) {
      keep(outcome.scorer_id, test_members, outcome.scores);
    }
    if (scored.primary) {
      band_scorer = scored.scorers[*scored.primary].scorer_id;
      keep(kBandsRowId, test_members, scored.scorers[*scored.primary].scores);
    }
    for (LoadedPlugin* scorer : loaded_scorers(plugins)) {
      if (std::find(untrained.begin(), untrained.end(), scorer->id()) != untrained.end() &&
          scores.count(scorer->id()) == 0) {
        order.push_back(scorer->id());
        scores[scorer->id()].assign(rows.size(), std::nan(""));
      }
    }
  }
  // Trainable scorers first (what the cross-validation is for), then the others in load order, then the bands.
  std::stable_partition(order.begin(), order.end(), [&](const std::string& id) {
    const LoadedPlugin* plugin = plugins.find(id);
    return plugin != nullptr && is_trainable(*plugin);
  });
  std::stable_partition(order.begin(), order.end(), [](const std::string& id) { return id != kBandsRowId; });
  for (const std::string& id : order) {
    CrossValidationRow row;
    row.scorer_id = id;
    row.band_scorer = id == kBandsRowId ? band_scorer : "";
    std::vector<double> risk = scores[id];
    std::transform(risk.begin(), risk.end(), risk.begin(), [](double score) { return 100.0 - score; });
    row.scored = static_cast<std::size_t>(
        std::count_if(risk.begin(), risk.end(), [](double value) { return !std::isnan(value); }));
    double sum = 0;
    for (int f = 0; f < options.folds; ++f) {
      std::vector<double> fold_risk;
      std::vector<double> fold_labels;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (fold[i] == f) {
          fold_risk.push_back(risk[i]);
          fold_labels.push_back(labels[i]);
        }
      }
      row.fold_roc_auc.push_back(roc_auc(fold_risk, fold_labels));
      sum += row.fold_roc_auc.back();
    }
    row.mean_roc_auc = sum / options.folds;
    row.pooled_roc_auc = roc_auc(risk, labels);
    row.notes = notes[id];
    if (row.scored < rows.size()) {
      row.notes.push_back(row.scored == 0 ? std::string("scored no customer (it reads data this store lacks)")
                                          : fmt::format("scored {} of {} customers; the figures are on those",
                                                        row.scored, rows.size()));
    }
    result.rows.push_back(std::move(row));
  }
  return result;
}

std::string folds_csv(const CrossValidationResult& result) {
  std::string text = "external_id,churned,fold\n";
  for (const CrossValidationCustomer& customer : result.assignment) {
    std::string id = customer.external_id;
    if (id.find_first_of(",\"\n\r") != std::string::npos) {
      std::string quoted = "\"";
      for (const char c : id) {
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      }
      id = quoted + "\"";
    }
    text += fmt::format("{},{},{}\n", id, customer.churned > 0.5 ? 1 : 0, customer.fold);
  }
  return text;
}

}  // namespace crm::host
