#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/plugin_host.hpp"
#include "scoring/settings.hpp"
#include "store/store.hpp"

namespace crm::host {

// k-fold stratified cross-validation of the scorers on a data set whose
// outcome is known per customer (a label attribute such as "churned", e.g.
// the Telco file), not from a purchase history: for each fold, every
// trainable scorer is trained on the other folds' customers and scores this
// fold's, so no customer is ever scored by a model trained on it. The fold of
// a customer depends only on its external id and label, so the folds are the
// same on every run and any import order, and can be exported for a peer.
struct CrossValidationOptions {
  int folds = 5;
  std::string label = "churned";  // the attribute holding the outcome (yes/no, true/false, 1/0)
  std::int64_t as_of_ms = 0;      // the date the purchase-history features are computed as of
};

// One labelled customer and the fold it is scored in (0-based).
struct CrossValidationCustomer {
  std::int64_t customer_id = 0;  // unified customer id
  std::string external_id;       // as the connector named it (the lowest customer row's when unified)
  double churned = 0;            // 1 churned, 0 stayed
  int fold = 0;
};

struct CrossValidationRow {
  // A scorer's id, or kBandsRowId: the score that decides the bands (band_scorer's).
  std::string scorer_id;
  std::string band_scorer;
  std::vector<double> fold_roc_auc;  // per fold; NaN where it scored no customer of both outcomes
  double mean_roc_auc = 0;           // mean of the folds' figures (NaN if one is NaN)
  double pooled_roc_auc = 0;         // of every out-of-fold score together
  std::size_t scored = 0;            // customers it gave a score (of CrossValidationResult::customers)
  std::vector<std::string> notes;    // why a fold has no figure or customers have no score
};

struct CrossValidationResult {
  int folds = 0;
  std::string label;
  std::size_t customers = 0;   // labelled customers: the population
  std::size_t churned = 0;     // of whom churned
  std::size_t unreadable = 0;  // customers whose label is neither yes nor no (left out)
  std::vector<std::size_t> fold_customers;
  std::vector<std::size_t> fold_churned;
  std::vector<CrossValidationCustomer> assignment;  // by customer id
  std::vector<CrossValidationRow> rows;             // trainable scorers first, then the others, then bands
};

// "yes", "true", "1", "churned", "lost" -> 1; "no", "false", "0", "stayed", "active" -> 0 (any case,
// trimmed); anything else -> nullopt.
std::optional<double> parse_churn_label(std::string_view text);

// Fold (0 .. folds-1) of each customer: within each outcome, customers are
// ordered by a 64-bit FNV-1a hash of their external id (then the id itself)
// and dealt to the folds in turn, so every fold holds each outcome to within
// one customer. Throws std::invalid_argument when folds < 2 or either
// outcome has fewer customers than folds.
std::vector<int> stratified_folds(const std::vector<std::string>& external_ids, const std::vector<double>& churned,
                                  int folds);

CrossValidationResult run_cross_validation(Store& store, PluginHost& plugins, const FeatureSettings& feature_settings,
                                           const ScoringSettings& scoring_settings,
                                           const CrossValidationOptions& options,
                                           const std::function<void(const std::string&)>& progress);

// The assignment as CSV ("external_id,churned,fold", a header line, folds 0-based), for a peer to use
// the same folds.
std::string folds_csv(const CrossValidationResult& result);

}  // namespace crm::host
