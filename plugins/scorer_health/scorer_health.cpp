// scorer_health: the domain's weighted health score and rule signals as a
// plugin. The arithmetic lives in health_model.hpp; this file reads the
// configuration and maps the host's columns.
#include <nlohmann/json.hpp>
#include <vector>

#include "crm/plugin.hpp"
#include "health_model.hpp"
#include "scorer_health_manifest.h"

namespace {

class HealthScorer final : public crm::Scorer {
 public:
  CRM_PLUGIN_METADATA(SCORER_HEALTH)
  static constexpr const char* const* kRequiredFeatures = crm::health::kFeatureNames;
  static constexpr const char* const* kReasonCodes = crm::health::kReasonNames;

  HealthScorer(const crm::Host& /*host*/, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    const auto& weights = config.at("weights");
    settings_.weight_business = weights.at("business").get<double>();
    settings_.weight_experience = weights.at("experience").get<double>();
    settings_.weight_engagement = weights.at("engagement").get<double>();
    settings_.weight_strategic = weights.at("strategic").get<double>();
    if (settings_.weight_business + settings_.weight_experience + settings_.weight_engagement +
            settings_.weight_strategic <=
        0) {
      throw crm::ConfigError("weights: at least one dimension needs a weight above 0");
    }
    const auto& t = config.at("thresholds");
    settings_.volume_drop = t.at("volume_drop").get<double>();
    settings_.silent_login_days = t.at("silent_login_days").get<double>();
    settings_.frequency_drop = t.at("frequency_drop").get<double>();
    settings_.csat_low = t.at("csat_low").get<double>();
    settings_.repeated_complaints = t.at("repeated_complaints").get<double>();
    settings_.communication_drop = t.at("communication_drop").get<double>();
    settings_.order_gap_ratio = t.at("order_gap_ratio").get<double>();
    settings_.payment_delay_days = t.at("payment_delay_days").get<double>();
    settings_.downloads_drop = t.at("downloads_drop").get<double>();
    settings_.expected_interval_days = config.at("expected_interval_days").get<double>();
  }

  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    const std::size_t count = input.customer_count();
    std::vector<const double*> columns(crm::health::kFeatureCount);
    bool host_order = input.feature_count() == crm::health::kFeatureCount;
    for (std::size_t f = 0; f < crm::health::kFeatureCount; ++f) {
      columns[f] = input.require(crm::health::kFeatureNames[f]).data();
      host_order = host_order && input.find(crm::health::kFeatureNames[f]) == f;
    }
    if (host_order) {
      // The host passes the columns in the order declared: score straight into its arrays.
      crm::health::score(settings_, columns.data(), count, output.scores_data(), output.contributions_data(),
                         output.reasons_data());
      return;
    }
    std::vector<double> scores(count);
    std::vector<std::uint64_t> reasons(output.wants_reasons() ? count : 0);
    std::vector<double> contributions(output.wants_contributions() ? count * crm::health::kFeatureCount : 0);
    crm::health::score(settings_, columns.data(), count, scores.data(),
                       contributions.empty() ? nullptr : contributions.data(),
                       reasons.empty() ? nullptr : reasons.data());
    for (std::size_t i = 0; i < count; ++i) {
      output.set_score(i, scores[i]);
    }
    for (std::size_t i = 0; i < reasons.size(); ++i) {
      for (unsigned bit = 0; bit < 64; ++bit) {
        if ((reasons[i] >> bit & 1U) != 0) {
          output.add_reason(i, bit);
        }
      }
    }
    if (!contributions.empty()) {
      for (std::size_t f = 0; f < crm::health::kFeatureCount; ++f) {
        const std::size_t column = *input.find(crm::health::kFeatureNames[f]);
        for (std::size_t i = 0; i < count; ++i) {
          output.add_contribution(column, i, contributions[f * count + i]);
        }
      }
    }
  }

 private:
  crm::health::Settings settings_;
};

}  // namespace

CRM_EXPORT_PLUGINS(HealthScorer)
