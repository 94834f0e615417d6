#include "loader/scorer_call.hpp"

#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace crm::host {

ScoreResult score_batch(LoadedPlugin& scorer, const FeatureBatch& batch, bool explain) {
  const crm_scorer_api* api = scorer.scorer_api();
  if (api == nullptr) {
    throw PluginCallError(CRM_STATUS_UNSUPPORTED, fmt::format("plugin '{}' is not a scorer", scorer.id()));
  }
  const std::size_t customer_count = batch.customer_ids.size();
  if (batch.columns.size() != batch.feature_names.size()) {
    throw std::invalid_argument("a feature batch needs one column per feature name");
  }
  std::vector<crm_str> ids;
  ids.reserve(customer_count);
  for (const std::string& id : batch.customer_ids) {
    ids.push_back(to_crm_str(id));
  }
  std::vector<crm_str> names;
  std::vector<const double*> columns;
  for (std::size_t k = 0; k < batch.feature_names.size(); ++k) {
    if (batch.columns[k].size() != customer_count) {
      throw std::invalid_argument(fmt::format("feature column '{}' has {} values for {} customers",
                                              batch.feature_names[k], batch.columns[k].size(), customer_count));
    }
    names.push_back(to_crm_str(batch.feature_names[k]));
    columns.push_back(batch.columns[k].data());
  }
  const crm_score_input input = {sizeof(crm_score_input), customer_count, ids.data(), names.size(), names.data(),
                                 columns.data(),          batch.as_of_ms};
  ScoreResult result;
  result.scores.assign(customer_count, std::numeric_limits<double>::quiet_NaN());
  const bool with_contributions = explain && scorer.has_capability(CRM_CAP_EXPLAIN);
  if (with_contributions) {
    result.contributions.assign(customer_count * names.size(), 0.0);
  }
  crm_score_output output = {sizeof(crm_score_output), result.scores.data(),
                             with_contributions ? result.contributions.data() : nullptr};
  ErrorBuffer error;
  crm_status status = CRM_STATUS_FATAL;
  {
    const auto lock = scorer.call_lock();
    try {
      status = api->score(scorer.instance(), scorer.host_table(), &input, &output, error.get());
    } catch (...) {
      throw PluginCallError(CRM_STATUS_FATAL, fmt::format("scorer '{}' threw an exception", scorer.id()));
    }
  }
  if (status != CRM_STATUS_OK) {
    throw PluginCallError(
        status, fmt::format("scorer '{}' failed ({} error): {}", scorer.id(), status_name(status), error.message()));
  }
  for (std::size_t i = 0; i < customer_count; ++i) {
    const double score = result.scores[i];
    if (!std::isnan(score) && (score < 0 || score > 100)) {
      throw PluginCallError(CRM_STATUS_DATA, fmt::format("scorer '{}' returned {} for customer '{}', outside 0-100",
                                                         scorer.id(), score, batch.customer_ids[i]));
    }
  }
  return result;
}

}  // namespace crm::host
