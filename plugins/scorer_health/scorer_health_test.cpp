// scorer_health through the real loader: each rule signal of domain.md
// section 3 fires on its own evidence, explanations add up to the score, and
// the weights come from the configuration.
#include <cmath>
#include <gtest/gtest.h>
#include <map>
#include <numeric>

#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

const double kNan = std::nan("");

// One customer per map; features not named are missing (NaN).
FeatureBatch batch_of(LoadedPlugin& scorer, const std::vector<std::map<std::string, double>>& customers) {
  FeatureBatch batch;
  batch.feature_names = required_features(scorer);
  batch.columns.assign(batch.feature_names.size(), std::vector<double>(customers.size(), kNan));
  for (std::size_t i = 0; i < customers.size(); ++i) {
    batch.customer_ids.push_back("c" + std::to_string(i));
    for (const auto& [name, value] : customers[i]) {
      const auto found = std::find(batch.feature_names.begin(), batch.feature_names.end(), name);
      EXPECT_NE(found, batch.feature_names.end()) << name;
      batch.columns[static_cast<std::size_t>(found - batch.feature_names.begin())][i] = value;
    }
  }
  return batch;
}

std::vector<std::string> reasons_of(LoadedPlugin& scorer, const ScoreResult& result, std::size_t customer) {
  std::vector<std::string> names;
  const auto codes = reason_codes(scorer);
  for (std::size_t bit = 0; bit < codes.size(); ++bit) {
    if ((result.reasons[customer] >> bit & 1U) != 0) {
      names.push_back(codes[bit]);
    }
  }
  return names;
}

class ScorerHealth : public ::testing::Test {
 protected:
  LoadedPlugin& load(const nlohmann::json& config = nlohmann::json::object()) {
    test_.load({CRM_PLUGIN_DIR}, {{"scorer_health", {{"config", config}}}});
    LoadedPlugin* scorer = test_.host().find("scorer_health");
    EXPECT_NE(scorer, nullptr) << test_.record("scorer_health")->reason;
    return *scorer;
  }
  testing::TestHost test_;
};

TEST_F(ScorerHealth, EveryRuleSignalIsANamedReasonOnItsOwnEvidence) {
  LoadedPlugin& scorer = load();
  const std::vector<std::pair<std::map<std::string, double>, std::string>> cases = {
      {{{"purchase_volume_change", -0.25}}, "volume_drop"},
      {{{"nps_vs_industry", -5}}, "nps_below_industry"},
      {{{"days_since_login", 95}, {"order_frequency_change", -0.5}}, "login_silence_and_frequency_drop"},
      {{{"csat_last", 70}, {"csat_second_last", 79}, {"csat_third_last", 60}}, "csat_low_streak"},
      {{{"complaints_since_last_order", 3}}, "repeated_complaints"},
      {{{"communication_change", -0.6}}, "communication_drop"},
      {{{"key_contact_changed", 1}}, "key_contact_changed"},
      {{{"followup_overdue_days", 4}}, "cadence_missed"},
      {{{"recency_ratio", 2.5}, {"recency_days", 50}}, "order_trend_break"},
      {{{"payment_delay_days", 45}}, "payment_delay"},
      {{{"downloads_change", -0.6}}, "downloads_drop"},
  };
  std::vector<std::map<std::string, double>> customers;
  for (const auto& [features, reason] : cases) {
    customers.push_back(features);
  }
  // And the near misses: none of these fires anything.
  customers.push_back({{"purchase_volume_change", -0.19},
                       {"nps_vs_industry", 0},
                       {"days_since_login", 95},
                       {"order_frequency_change", -0.4},
                       {"csat_last", 70},
                       {"csat_second_last", 85},
                       {"csat_third_last", 60},
                       {"complaints_since_last_order", 2},
                       {"followup_overdue_days", 0},
                       {"recency_ratio", 1.9},
                       {"recency_days", 30}});
  const ScoreResult result = score_batch(scorer, batch_of(scorer, customers), false);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(reasons_of(scorer, result, i), std::vector<std::string>{cases[i].second}) << "case " << i;
  }
  EXPECT_TRUE(reasons_of(scorer, result, cases.size()).empty());
}

TEST_F(ScorerHealth, ContributionsExplainTheWholeScore) {
  LoadedPlugin& scorer = load();
  const ScoreResult result = score_batch(scorer,
                                         batch_of(scorer, {{{"recency_days", 120},
                                                            {"recency_ratio", 3},
                                                            {"purchase_volume_change", -0.4},
                                                            {"complaints_window", 2},
                                                            {"csat_last", 60},
                                                            {"days_since_login", 70},
                                                            {"strategic_value", 70}}}),
                                         true);
  const std::size_t features = required_features(scorer).size();
  double sum = 0;
  for (std::size_t k = 0; k < features; ++k) {
    sum += result.contributions[k];
    EXPECT_LE(result.contributions[k], 0);
  }
  EXPECT_NEAR(100 + sum, result.scores[0], 1e-9);
  EXPECT_LT(result.scores[0], 70);
}

TEST_F(ScorerHealth, MissingDimensionsAreLeftOutAndWeightsComeFromConfig) {
  LoadedPlugin& defaults = load();
  // Only experience is known: the score is that dimension alone (100 - 2 complaints x 15).
  const auto only_experience = std::vector<std::map<std::string, double>>{{{"complaints_window", 2}}};
  EXPECT_DOUBLE_EQ(score_batch(defaults, batch_of(defaults, only_experience), false).scores[0], 70);
  // Nothing known: cannot be scored.
  EXPECT_TRUE(std::isnan(score_batch(defaults, batch_of(defaults, {{}}), false).scores[0]));

  testing::TestHost other;
  other.load({CRM_PLUGIN_DIR}, {{"scorer_health", {{"config", {{"weights", {{"business", 0}, {"experience", 1}}}}}}}});
  LoadedPlugin* weighted = other.host().find("scorer_health");
  ASSERT_NE(weighted, nullptr);
  // Business is weighted 0: a very late customer with one complaint scores the experience only.
  const auto both = std::vector<std::map<std::string, double>>{
      {{"recency_days", 400}, {"complaints_window", 1}, {"days_since_login", 1000}}};
  const double score = score_batch(*weighted, batch_of(*weighted, both), false).scores[0];
  // experience 85 (weight 1) and engagement 50 (weight 0.2 by default): (85 + 0.2 * 50) / 1.2
  EXPECT_NEAR(score, (85 + 0.2 * 50) / 1.2, 1e-9);
}

TEST_F(ScorerHealth, ZeroWeightsAreRefusedWithTheReason) {
  test_.load(
      {CRM_PLUGIN_DIR},
      {{"scorer_health",
        {{"config", {{"weights", {{"business", 0}, {"experience", 0}, {"engagement", 0}, {"strategic", 0}}}}}}}});
  EXPECT_EQ(test_.host().find("scorer_health"), nullptr);
  EXPECT_NE(test_.record("scorer_health")->reason.find("at least one dimension needs a weight above 0"),
            std::string::npos);
}

}  // namespace
}  // namespace crm::host
