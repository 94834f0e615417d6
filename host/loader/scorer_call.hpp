#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "loader/plugin_host.hpp"

namespace crm::host {

// A plugin call that returned an error status (or threw).
class PluginCallError : public std::runtime_error {
 public:
  PluginCallError(crm_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  [[nodiscard]] crm_status status() const { return status_; }

 private:
  crm_status status_;
};

// Customers x features, columnar: columns[k][i] is feature k of customer i.
struct FeatureBatch {
  std::vector<std::string> customer_ids;
  std::vector<std::string> feature_names;
  std::vector<std::vector<double>> columns;
  std::int64_t as_of_ms = 0;
};

struct ScoreResult {
  std::vector<double> scores;                       // one per customer
  std::vector<double> contributions;                // feature-major, K * N; empty unless asked and supported
  std::vector<std::uint64_t> reasons;               // one bitmask per customer over reason_codes(scorer)
  std::vector<std::vector<double>> output_columns;  // one per output_column_names(scorer), N each
};

// What a scorer declares in its API table (empty for a 1.0 scorer).
std::vector<std::string> required_features(const LoadedPlugin& scorer);
// The features to hand `scorer` out of the `available` ones (in their order):
// its required features, each family "prefix*" (ABI 1.4) replaced by every
// available name starting with the prefix.
std::vector<std::string> requested_features(const LoadedPlugin& scorer, const std::vector<std::string>& available);
std::vector<std::string> reason_codes(const LoadedPlugin& scorer);
std::vector<std::string> output_column_names(const LoadedPlugin& scorer);
bool is_trainable(const LoadedPlugin& scorer);

// Scores one batch through a scorer plugin. Throws PluginCallError.
ScoreResult score_batch(LoadedPlugin& scorer, const FeatureBatch& batch, bool explain);

// Fits the scorer's model on `batch` (features as of the training date) and
// `churned` (one label per customer), then returns the model's bytes.
// Throws PluginCallError (UNSUPPORTED when the scorer does not learn).
std::string train_scorer(LoadedPlugin& scorer, const FeatureBatch& batch, const std::vector<double>& churned,
                         int horizon_days);

// Makes saved model bytes the scorer's current model. Throws PluginCallError.
void load_model(LoadedPlugin& scorer, const std::string& model);

}  // namespace crm::host
