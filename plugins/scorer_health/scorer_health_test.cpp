// scorer_health through the real loader: each rule signal of domain.md
// section 3 fires on its own evidence, explanations add up to the score, and
// the weights come from the configuration.
#include <algorithm>
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

// Where the business evidence came from and which dimensions had no data: reasons that are no churn signal.
bool is_data_note(const std::string& code) {
  return code.starts_with("business_from_") || (code.starts_with("no_") && code.ends_with("_data"));
}

std::vector<std::string> all_reasons_of(LoadedPlugin& scorer, const ScoreResult& result, std::size_t customer) {
  std::vector<std::string> names;
  const auto codes = reason_codes(scorer);
  for (std::size_t bit = 0; bit < codes.size(); ++bit) {
    if ((result.reasons[customer] >> bit & 1U) != 0) {
      names.push_back(codes[bit]);
    }
  }
  return names;
}

// The rule signals only.
std::vector<std::string> reasons_of(LoadedPlugin& scorer, const ScoreResult& result, std::size_t customer) {
  std::vector<std::string> names = all_reasons_of(scorer, result, customer);
  std::erase_if(names, is_data_note);
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

TEST_F(ScorerHealth, BusinessTakesTheLearnedChurnProbabilityThenPAliveThenTheRhythm) {
  LoadedPlugin& scorer = load();
  // Same purchase history; the evidence differs. Only business is known: the score is that dimension.
  const std::map<std::string, double> history = {
      {"recency_days", 200}, {"recency_ratio", 4}, {"purchase_volume_change", -1}, {"order_frequency_change", -1}};
  auto with_model = history;
  with_model["churn_probability"] = 0.38;
  with_model["p_alive"] = 0.9;
  auto with_p_alive = history;
  with_p_alive["p_alive"] = 0.9;
  const ScoreResult result = score_batch(scorer, batch_of(scorer, {with_model, with_p_alive, history}), true);
  const auto names = required_features(scorer);
  const auto contribution = [&](std::size_t customer, const std::string& feature) {
    const std::size_t k = static_cast<std::size_t>(std::find(names.begin(), names.end(), feature) - names.begin());
    return result.contributions[k * 3 + customer];
  };
  // The learned probability is the purchase evidence: 100 - 38, all of it explained by churn_probability.
  EXPECT_NEAR(result.scores[0], 62, 1e-9);
  EXPECT_NEAR(contribution(0, "churn_probability"), -38, 1e-9);
  EXPECT_EQ(contribution(0, "purchase_volume_change"), 0);
  EXPECT_EQ(all_reasons_of(scorer, result, 0),
            (std::vector<std::string>{"volume_drop", "order_trend_break", "business_from_churn_model",
                                      "no_experience_data", "no_engagement_data", "no_strategic_data"}));
  // Without a model, BG/NBD's probability alive.
  EXPECT_NEAR(result.scores[1], 90, 1e-9);
  EXPECT_NEAR(contribution(1, "p_alive"), -10, 1e-9);
  const auto from_p_alive = all_reasons_of(scorer, result, 1);
  EXPECT_NE(std::ranges::find(from_p_alive, "business_from_p_alive"), from_p_alive.end());
  // Without either, four times late against the own rhythm, and volume and frequency falling.
  // (77 points for the lateness, 30 and 20 for the falls: the dimension's 100 shared among them).
  EXPECT_NEAR(result.scores[2], 0, 1e-9);
  EXPECT_LT(contribution(2, "recency_ratio"), -50);
  EXPECT_LT(contribution(2, "purchase_volume_change"), -20);
  const auto from_rhythm = all_reasons_of(scorer, result, 2);
  EXPECT_NE(std::ranges::find(from_rhythm, "business_from_purchase_rhythm"), from_rhythm.end());
}

TEST_F(ScorerHealth, ADimensionWithoutDataIsLeftOutAndSaysSo) {
  LoadedPlugin& scorer = load();
  // A churn probability of 0.1 and one complaint: business 90 (0.4), experience 85 (0.3); engagement and
  // strategic fit have no data and weigh nothing, rather than counting as a neutral 100.
  const ScoreResult result = score_batch(
      scorer, batch_of(scorer, {{{"churn_probability", 0.1}, {"recency_days", 5}, {"complaints_window", 1}}}), false);
  EXPECT_NEAR(result.scores[0], (0.4 * 90 + 0.3 * 85) / 0.7, 1e-9);
  EXPECT_EQ(all_reasons_of(scorer, result, 0),
            (std::vector<std::string>{"business_from_churn_model", "no_engagement_data", "no_strategic_data"}));
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
