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
  std::vector<double> scores;         // one per customer
  std::vector<double> contributions;  // feature-major, K * N; empty unless asked and supported
};

// Scores one batch through a scorer plugin. Throws PluginCallError.
ScoreResult score_batch(LoadedPlugin& scorer, const FeatureBatch& batch, bool explain);

}  // namespace crm::host
