// Loads the real scorer_example_c.so through the host's loader and scores.
#include <cmath>
#include <gtest/gtest.h>
#include <limits>

#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

FeatureBatch recency_batch() {
  FeatureBatch batch;
  batch.customer_ids = {"recent", "half-year", "two-years", "unknown"};
  batch.feature_names = {"orders_12m", "recency_days"};
  batch.columns = {{12, 3, 0, 1}, {0, 182.5, 730, kMissing}};
  return batch;
}

TEST(ScorerExampleC, LoadsWithDefaultConfigAndScoresByRecency) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_example_c");
  ASSERT_NE(scorer, nullptr) << test.record("scorer_example_c")->reason;
  const ScoreResult result = score_batch(*scorer, recency_batch(), true);
  EXPECT_DOUBLE_EQ(result.scores[0], 100.0);
  EXPECT_DOUBLE_EQ(result.scores[1], 50.0);  // default max_recency_days is 365
  EXPECT_DOUBLE_EQ(result.scores[2], 0.0);
  EXPECT_TRUE(std::isnan(result.scores[3]));
  // Feature-major contributions: recency_days is feature 1, orders_12m unused.
  EXPECT_DOUBLE_EQ(result.contributions[0 * 4 + 1], 0.0);
  EXPECT_DOUBLE_EQ(result.contributions[1 * 4 + 1], -50.0);
  EXPECT_DOUBLE_EQ(result.contributions[1 * 4 + 2], -100.0);
}

TEST(ScorerExampleC, ConfigChangesTheSlope) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"scorer_example_c", {{"config", {{"max_recency_days", 730}}}}}});
  LoadedPlugin* scorer = test.host().find("scorer_example_c");
  ASSERT_NE(scorer, nullptr);
  EXPECT_DOUBLE_EQ(score_batch(*scorer, recency_batch(), false).scores[1], 75.0);
}

TEST(ScorerExampleC, MissingFeatureIsADataError) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_example_c");
  ASSERT_NE(scorer, nullptr);
  FeatureBatch batch;
  batch.customer_ids = {"a"};
  batch.feature_names = {"orders_12m"};
  batch.columns = {{1}};
  try {
    (void)score_batch(*scorer, batch, false);
    FAIL() << "expected a data error";
  } catch (const PluginCallError& e) {
    EXPECT_EQ(e.status(), CRM_STATUS_DATA);
    EXPECT_STREQ(
        e.what(),
        "scorer 'scorer_example_c' failed to score (data error): feature 'recency_days' is missing from the batch");
  }
}

TEST(ScorerExampleC, NonPositiveMaximumIsRefusedBySchema) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"scorer_example_c", {{"config", {{"max_recency_days", 0}}}}}});
  EXPECT_EQ(test.host().find("scorer_example_c"), nullptr);
  EXPECT_EQ(test.record("scorer_example_c")->reason,
            "configuration breaks the plugin's schema: /max_recency_days: must be > 0; fix "
            "plugins.scorer_example_c.config in the host configuration");
}

}  // namespace
}  // namespace crm::host
