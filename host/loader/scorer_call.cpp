#include "loader/scorer_call.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <string_view>

#include "loader/plugin_call_guard.hpp"

namespace crm::host {
namespace {

std::vector<std::string> names_of(const char* const* names) {
  std::vector<std::string> result;
  for (std::size_t i = 0; names != nullptr && names[i] != nullptr; ++i) {
    result.emplace_back(names[i]);
  }
  return result;
}

const crm_scorer_api& api_of(const LoadedPlugin& scorer) {
  const crm_scorer_api* api = scorer.scorer_api();
  if (api == nullptr) {
    throw PluginCallError(CRM_STATUS_UNSUPPORTED, fmt::format("plugin '{}' is not a scorer", scorer.id()));
  }
  return *api;
}

// The borrowed C view of a FeatureBatch, valid while the batch lives.
struct InputView {
  std::vector<crm_str> ids;
  std::vector<crm_str> names;
  std::vector<const double*> columns;
  crm_score_input input{};
};

void build_view(const FeatureBatch& batch, InputView& view) {
  const std::size_t customer_count = batch.customer_ids.size();
  if (batch.columns.size() != batch.feature_names.size()) {
    throw std::invalid_argument("a feature batch needs one column per feature name");
  }
  view.ids.reserve(customer_count);
  for (const std::string& id : batch.customer_ids) {
    view.ids.push_back(to_crm_str(id));
  }
  for (std::size_t k = 0; k < batch.feature_names.size(); ++k) {
    if (batch.columns[k].size() != customer_count) {
      throw std::invalid_argument(fmt::format("feature column '{}' has {} values for {} customers",
                                              batch.feature_names[k], batch.columns[k].size(), customer_count));
    }
    view.names.push_back(to_crm_str(batch.feature_names[k]));
    // An empty batch still hands a valid pointer per feature: plugins take a NULL column for a missing feature.
    static constexpr double kNoValues[1] = {0.0};
    view.columns.push_back(batch.columns[k].empty() ? kNoValues : batch.columns[k].data());
  }
  view.input = {sizeof(crm_score_input), customer_count,      view.ids.data(), view.names.size(),
                view.names.data(),       view.columns.data(), batch.as_of_ms};
}

std::int64_t deadline_of(const LoadedPlugin& scorer, std::string_view call_name) {
  const CallDeadlines& deadlines = scorer.deadlines();
  if (call_name == "score") {
    return scorer.watchdog_ms(deadlines.score_ms);
  }
  if (call_name == "train") {
    return scorer.watchdog_ms(deadlines.train_ms);
  }
  return scorer.watchdog_ms(deadlines.model_ms);
}

template <class Call>
void call_scorer(LoadedPlugin& scorer, const char* call_name, const char* what, Call&& call) {
  ErrorBuffer error;
  crm_status status = CRM_STATUS_FATAL;
  {
    const auto lock = scorer.call_lock();
    const PluginCallScope in_plugin(scorer.id(), call_name, deadline_of(scorer, call_name));
    try {
      status = call(error.get());
    } catch (...) {
      throw PluginCallError(CRM_STATUS_FATAL, fmt::format("scorer '{}' threw an exception in {}", scorer.id(), what));
    }
  }
  if (status != CRM_STATUS_OK) {
    throw PluginCallError(status, fmt::format("scorer '{}' failed to {} ({} error): {}", scorer.id(), what,
                                              status_name(status), error.message()));
  }
}

}  // namespace

std::vector<std::string> required_features(const LoadedPlugin& scorer) {
  return names_of(api_of(scorer).required_features);
}
std::vector<std::string> requested_features(const LoadedPlugin& scorer, const std::vector<std::string>& available) {
  std::vector<std::string> names;
  for (const std::string& name : required_features(scorer)) {
    if (name.empty() || name.back() != '*') {
      names.push_back(name);
      continue;
    }
    const std::string_view prefix(name.data(), name.size() - 1);
    for (const std::string& candidate : available) {
      if (std::string_view(candidate).substr(0, prefix.size()) == prefix &&
          std::find(names.begin(), names.end(), candidate) == names.end()) {
        names.push_back(candidate);
      }
    }
  }
  return names;
}
std::vector<std::string> reason_codes(const LoadedPlugin& scorer) {
  return names_of(api_of(scorer).reason_codes);
}
std::vector<std::string> output_column_names(const LoadedPlugin& scorer) {
  return names_of(api_of(scorer).output_columns);
}
bool is_trainable(const LoadedPlugin& scorer) {
  return api_of(scorer).train != nullptr;
}

std::string train_scorer(LoadedPlugin& scorer, const FeatureBatch& batch, const std::vector<double>& churned,
                         int horizon_days) {
  const crm_scorer_api& api = api_of(scorer);
  if (api.train == nullptr) {
    throw PluginCallError(CRM_STATUS_UNSUPPORTED, fmt::format("scorer '{}' does not learn", scorer.id()));
  }
  if (churned.size() != batch.customer_ids.size()) {
    throw std::invalid_argument("training needs one label per customer");
  }
  InputView view;
  build_view(batch, view);
  const crm_train_input input = {sizeof(crm_train_input), &view.input, churned.data(), horizon_days};
  call_scorer(scorer, "train", "train",
              [&](crm_error* error) { return api.train(scorer.instance(), scorer.host_table(), &input, error); });
  std::string model(4096, '\0');
  for (int attempt = 0; attempt < 3; ++attempt) {
    crm_buffer out{model.data(), model.size(), 0};
    crm_status status = CRM_STATUS_FATAL;
    ErrorBuffer error;
    {
      const auto lock = scorer.call_lock();
      const PluginCallScope in_plugin(scorer.id(), "save_model", scorer.watchdog_ms(scorer.deadlines().model_ms));
      status = api.save_model(scorer.instance(), scorer.host_table(), &out, error.get());
    }
    if (status == CRM_STATUS_OK) {
      model.resize(out.size);
      return model;
    }
    if (status != CRM_STATUS_BUFFER_TOO_SMALL) {
      throw PluginCallError(status, fmt::format("scorer '{}' failed to save its model ({} error): {}", scorer.id(),
                                                status_name(status), error.message()));
    }
    model.assign(out.size, '\0');
  }
  throw PluginCallError(CRM_STATUS_FATAL, fmt::format("scorer '{}' kept growing its saved model", scorer.id()));
}

void load_model(LoadedPlugin& scorer, const std::string& model) {
  const crm_scorer_api& api = api_of(scorer);
  if (api.load_model == nullptr) {
    throw PluginCallError(CRM_STATUS_UNSUPPORTED, fmt::format("scorer '{}' does not learn", scorer.id()));
  }
  call_scorer(scorer, "load_model", "load its model", [&](crm_error* error) {
    return api.load_model(scorer.instance(), scorer.host_table(), to_crm_str(model), error);
  });
}

ScoreResult score_batch(LoadedPlugin& scorer, const FeatureBatch& batch, bool explain) {
  const crm_scorer_api* api = &api_of(scorer);
  const std::size_t customer_count = batch.customer_ids.size();
  InputView view;
  build_view(batch, view);
  const std::size_t feature_count = view.names.size();
  ScoreResult result;
  result.scores.assign(customer_count, std::numeric_limits<double>::quiet_NaN());
  const bool with_contributions = explain && scorer.has_capability(CRM_CAP_EXPLAIN);
  if (with_contributions) {
    result.contributions.assign(customer_count * feature_count, 0.0);
  }
  const bool with_reasons = api->reason_codes != nullptr && api->reason_codes[0] != nullptr;
  if (with_reasons) {
    result.reasons.assign(customer_count, 0);
  }
  std::vector<double*> output_pointers;
  for (std::size_t c = 0; api->output_columns != nullptr && api->output_columns[c] != nullptr; ++c) {
    result.output_columns.emplace_back(customer_count, std::numeric_limits<double>::quiet_NaN());
  }
  for (auto& column : result.output_columns) {
    output_pointers.push_back(column.data());
  }
  crm_score_output output = {
      sizeof(crm_score_output), result.scores.data(), with_contributions ? result.contributions.data() : nullptr,
      with_reasons ? result.reasons.data() : nullptr, output_pointers.empty() ? nullptr : output_pointers.data()};
  call_scorer(scorer, "score", "score", [&](crm_error* error) {
    return api->score(scorer.instance(), scorer.host_table(), &view.input, &output, error);
  });
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
