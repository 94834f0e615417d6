// Loads the real scorer_example_cpp.so through the host's loader and scores.
#include <gtest/gtest.h>

#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

FeatureBatch engagement_batch() {
  FeatureBatch batch;
  batch.customer_ids = {"happy", "complaining", "silent"};
  batch.feature_names = {"days_since_login", "complaints_window"};
  batch.columns = {{1, 4, 400}, {0, 3, 0}};
  return batch;
}

TEST(ScorerExampleCpp, ScoresWithDefaults) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_example_cpp");
  ASSERT_NE(scorer, nullptr) << test.record("scorer_example_cpp")->reason;
  const ScoreResult result = score_batch(*scorer, engagement_batch(), true);
  EXPECT_DOUBLE_EQ(result.scores[0], 99.5);  // 100 - 1 day * 0.5
  EXPECT_DOUBLE_EQ(result.scores[1], 68.0);  // 100 - 3 * 10 - 4 * 0.5
  EXPECT_DOUBLE_EQ(result.scores[2], 0.0);   // clamped
  // days_since_login is feature 0, complaints_window feature 1.
  EXPECT_DOUBLE_EQ(result.contributions[0 * 3 + 1], -2.0);
  EXPECT_DOUBLE_EQ(result.contributions[1 * 3 + 1], -30.0);
}

TEST(ScorerExampleCpp, ConfiguredPenalties) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"scorer_example_cpp", {{"config", {{"complaint_penalty", 5}, {"baseline", 90}}}}}});
  LoadedPlugin* scorer = test.host().find("scorer_example_cpp");
  ASSERT_NE(scorer, nullptr);
  EXPECT_DOUBLE_EQ(score_batch(*scorer, engagement_batch(), false).scores[1], 73.0);  // 90 - 15 - 2
}

TEST(ScorerExampleCpp, ExceptionInScoreBecomesADataError) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  LoadedPlugin* scorer = test.host().find("scorer_example_cpp");
  ASSERT_NE(scorer, nullptr);
  FeatureBatch batch = engagement_batch();
  batch.feature_names[1] = "tickets";
  try {
    (void)score_batch(*scorer, batch, false);
    FAIL() << "expected a data error";
  } catch (const PluginCallError& e) {
    EXPECT_EQ(e.status(), CRM_STATUS_DATA);
    EXPECT_STREQ(e.what(),
                 "scorer 'scorer_example_cpp' failed to score (data error): feature 'complaints_window' is missing "
                 "from the batch");
  }
}

TEST(ScorerExampleCpp, UnknownConfigKeyIsRefused) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"scorer_example_cpp", {{"config", {{"complaint_penalti", 5}}}}}});
  EXPECT_EQ(test.record("scorer_example_cpp")->reason,
            "configuration breaks the plugin's schema: /complaint_penalti: is not an allowed property; fix "
            "plugins.scorer_example_cpp.config in the host configuration");
}

}  // namespace
}  // namespace crm::host
