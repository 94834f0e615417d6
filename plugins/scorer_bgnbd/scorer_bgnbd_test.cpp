// scorer_bgnbd: the published BG/NBD fit reproduced through the plugin ABI
// (train, save_model, load_model, score) on the very data of the paper.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

const std::filesystem::path kSummary =
    std::filesystem::path(CRM_SOURCE_DIR) / ".." / "shared" / "data" / "cdnow" / "cdnow_customers_summary.csv";

// The 2,357 customers of the paper: ID,frequency,recency,T in weeks, as features in days.
FeatureBatch cdnow_sample() {
  std::ifstream input(kSummary);
  EXPECT_TRUE(input.good()) << kSummary;
  std::string line;
  std::getline(input, line);
  FeatureBatch batch;
  batch.feature_names = {"repeat_purchases", "purchase_span_days", "tenure_days"};
  batch.columns.assign(3, {});
  while (std::getline(input, line)) {
    std::stringstream fields(line);
    std::string id;
    std::string x;
    std::string t_x;
    std::string age;
    std::getline(fields, id, ',');
    std::getline(fields, x, ',');
    std::getline(fields, t_x, ',');
    std::getline(fields, age, ',');
    batch.customer_ids.push_back(id);
    batch.columns[0].push_back(std::stod(x));
    batch.columns[1].push_back(std::stod(t_x) * 7);
    batch.columns[2].push_back(std::stod(age) * 7);
  }
  return batch;
}

double significant(double value, int digits) {
  const double scale = std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(value)))));
  return std::round(value * scale) / scale;
}

TEST(ScorerBgNbd, ReproducesThePublishedParametersOnCdnow) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_bgnbd");
  ASSERT_NE(scorer, nullptr) << test.record("scorer_bgnbd")->reason;
  const FeatureBatch sample = cdnow_sample();
  ASSERT_EQ(sample.customer_ids.size(), 2'357U);
  const std::string saved = train_scorer(*scorer, sample, std::vector<double>(2'357, 0.0), 273);
  const auto model = nlohmann::json::parse(saved);
  // Fader, Hardie and Lee (2005): r = 0.2426, alpha = 4.4135, a = 0.7929, b = 2.4258.
  EXPECT_EQ(significant(model["r"], 3), 0.243);
  EXPECT_EQ(significant(model["alpha"], 3), 4.41);
  EXPECT_EQ(significant(model["a"], 3), 0.793);
  EXPECT_EQ(significant(model["b"], 3), 2.43);
  EXPECT_NEAR(model["r"].get<double>(), 0.2426, 5e-5);
  EXPECT_NEAR(model["alpha"].get<double>(), 4.4135, 5e-4);
  EXPECT_NEAR(model["a"].get<double>(), 0.7929, 5e-5);
  EXPECT_NEAR(model["b"].get<double>(), 2.4258, 5e-4);
  EXPECT_NEAR(model["log_likelihood"].get<double>(), -9582.4, 0.05);
  EXPECT_FALSE(model["at_boundary"].get<bool>());

  // The saved model, loaded by another instance, scores: a customer with 2
  // repeat purchases, the last at week 30.43 of 38.86, expects 1.226 purchases
  // in the next 39 weeks (the worked example of the lifetimes documentation).
  testing::TestHost other;
  other.load({CRM_PLUGIN_DIR}, {{"scorer_bgnbd", {{"config", {{"horizon_days", 39 * 7}}}}}});
  LoadedPlugin* fresh = other.host().find("scorer_bgnbd");
  ASSERT_NE(fresh, nullptr);
  load_model(*fresh, saved);
  FeatureBatch one;
  one.customer_ids = {"example", "never"};
  one.feature_names = sample.feature_names;
  one.columns = {{2, std::nan("")}, {30.43 * 7, 0}, {38.86 * 7, 0}};
  const ScoreResult result = score_batch(*fresh, one, false);
  ASSERT_EQ(output_column_names(*fresh),
            (std::vector<std::string>{"p_alive", "expected_purchases", "purchases_per_year_if_alive"}));
  // A year while alive is more than a year's expectation weighted by P(alive).
  EXPECT_GT(result.output_columns[2][0], result.output_columns[1][0]);
  EXPECT_NEAR(result.output_columns[1][0], 1.226, 0.001);
  EXPECT_NEAR(result.output_columns[0][0], 0.727, 0.001);
  EXPECT_NEAR(result.scores[0], 100 * (1 - std::exp(-result.output_columns[1][0])), 1e-9);
  EXPECT_TRUE(std::isnan(result.scores[1]));  // never bought: nothing to say
}

TEST(ScorerBgNbd, RefusesToScoreUntrainedAndModelsOfAnotherTimeUnit) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"scorer_bgnbd", {{"config", {{"time_unit_days", 1}}}}}});
  LoadedPlugin* scorer = test.host().find("scorer_bgnbd");
  ASSERT_NE(scorer, nullptr);
  FeatureBatch one;
  one.customer_ids = {"a"};
  one.feature_names = {"repeat_purchases", "purchase_span_days", "tenure_days"};
  one.columns = {{1}, {10}, {20}};
  try {
    (void)score_batch(*scorer, one, false);
    FAIL() << "an untrained BG/NBD scored";
  } catch (const PluginCallError& e) {
    EXPECT_EQ(e.status(), CRM_STATUS_DATA);
    EXPECT_NE(std::string(e.what()).find("run `crmhost train` first"), std::string::npos);
  }
  try {
    load_model(*scorer, R"({"model": "bgnbd", "r": 1, "alpha": 1, "a": 1, "b": 1, "time_unit_days": 7})");
    FAIL() << "a weekly model was loaded into a daily scorer";
  } catch (const PluginCallError& e) {
    EXPECT_NE(std::string(e.what()).find("time_unit_days 7"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_model(*scorer, "not json"), PluginCallError);
  EXPECT_THROW((void)train_scorer(*scorer, one, {1.0}, 90), PluginCallError);  // one customer is not a population
}

}  // namespace
}  // namespace crm::host
