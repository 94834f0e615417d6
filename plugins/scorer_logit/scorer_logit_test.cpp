// scorer_logit: trained through the plugin ABI on data drawn from a known
// logistic model, it recovers the direction of every effect, ranks far better
// than chance, and scores identically after a save/load round trip.
#include <cmath>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>

#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

const std::vector<std::string> kFeatures = {"recency_days",    "order_count",      "monetary_total",
                                            "order_count_90d", "order_count_365d", "recency_ratio"};

// Customers whose churn depends on recency (up) and recent orders (down) only.
struct Sample {
  FeatureBatch batch;
  std::vector<double> churned;
};

Sample draw(std::size_t count, unsigned seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  Sample sample;
  sample.batch.feature_names = kFeatures;
  sample.batch.columns.assign(kFeatures.size(), {});
  for (std::size_t i = 0; i < count; ++i) {
    const double recency = std::floor(uniform(random) * 300);
    const double recent_orders = std::floor(uniform(random) * 6);
    const double orders = recent_orders + std::floor(uniform(random) * 20);
    const double eta = 1.5 * (std::log1p(recency) - 4) - 0.8 * (std::log1p(recent_orders) - 1);
    sample.batch.customer_ids.push_back(std::to_string(i));
    const double values[] = {recency,       orders + 1, 50.0 * (orders + 1),
                             recent_orders, orders,     orders > 0 ? recency / 30 : std::nan("")};
    for (std::size_t k = 0; k < kFeatures.size(); ++k) {
      sample.batch.columns[k].push_back(values[k]);
    }
    sample.churned.push_back(uniform(random) < 1 / (1 + std::exp(-eta)) ? 1.0 : 0.0);
  }
  return sample;
}

double auc(const std::vector<double>& scores, const std::vector<double>& churned) {
  double pairs = 0;
  double right = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    for (std::size_t j = 0; j < scores.size(); ++j) {
      if (churned[i] == 1 && churned[j] == 0) {
        pairs += 1;
        right += scores[i] < scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0);
      }
    }
  }
  return right / pairs;
}

TEST(ScorerLogit, LearnsTheEffectsAndRanksUnseenCustomers) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_logit");
  ASSERT_NE(scorer, nullptr) << test.record("scorer_logit")->reason;
  const Sample train = draw(4'000, 7);
  const std::string saved = train_scorer(*scorer, train.batch, train.churned, 90);
  const auto model = nlohmann::json::parse(saved);
  EXPECT_EQ(model["features"], nlohmann::json(kFeatures));
  EXPECT_EQ(model["horizon_days"], 90);
  EXPECT_GT(model["coefficients"][0].get<double>(), 0.5);  // recency raises churn
  EXPECT_LT(model["coefficients"][3].get<double>(), 0);    // recent orders lower it

  const Sample unseen = draw(1'500, 8);
  const ScoreResult result = score_batch(*scorer, unseen.batch, true);
  EXPECT_GT(auc(result.scores, unseen.churned), 0.7);
  // Explanations: the recency term moves an old customer's score down.
  std::size_t oldest = 0;
  for (std::size_t i = 0; i < unseen.batch.customer_ids.size(); ++i) {
    oldest = unseen.batch.columns[0][i] > unseen.batch.columns[0][oldest] ? i : oldest;
  }
  EXPECT_LT(result.contributions[0 * unseen.batch.customer_ids.size() + oldest], 0);

  testing::TestHost other;
  other.load({CRM_PLUGIN_DIR});
  LoadedPlugin* fresh = other.host().find("scorer_logit");
  ASSERT_NE(fresh, nullptr);
  load_model(*fresh, saved);
  EXPECT_EQ(score_batch(*fresh, unseen.batch, false).scores, result.scores);
}

TEST(ScorerLogit, TrainingNeedsBothOutcomesAndModelsMustMatchTheFeatures) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_logit");
  ASSERT_NE(scorer, nullptr);
  const Sample sample = draw(200, 9);
  try {
    (void)train_scorer(*scorer, sample.batch, std::vector<double>(200, 1.0), 90);
    FAIL() << "trained on one outcome only";
  } catch (const PluginCallError& e) {
    EXPECT_EQ(e.status(), CRM_STATUS_DATA);
    EXPECT_NE(std::string(e.what()).find("both outcomes must occur"), std::string::npos) << e.what();
  }
  auto model = nlohmann::json::parse(train_scorer(*scorer, sample.batch, sample.churned, 90));
  model["features"][0] = "days_since_login";
  try {
    load_model(*scorer, model.dump());
    FAIL() << "a model of other features was loaded";
  } catch (const PluginCallError& e) {
    EXPECT_NE(std::string(e.what()).find("trained on other features"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crm::host
