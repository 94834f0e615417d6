// scorer_rfm through the real loader: quintiles, the four tiers, the ABC cut
// and the relationship stages of domain.md section 4.
#include <cmath>
#include <gtest/gtest.h>

#include "loader/scorer_call.hpp"
#include "scoring/features.hpp"
#include "scoring/value_class.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

const double kNan = std::nan("");

struct Customer {
  double recency_rank, frequency_rank, monetary_rank, share_above, orders, wallet, strategic;
};

FeatureBatch batch_of(const std::vector<Customer>& customers) {
  FeatureBatch batch;
  batch.feature_names = {"recency_rank", "frequency_rank",  "monetary_rank",  "revenue_share_above",
                         "order_count",  "share_of_wallet", "strategic_value"};
  batch.columns.assign(batch.feature_names.size(), {});
  for (std::size_t i = 0; i < customers.size(); ++i) {
    const Customer& c = customers[i];
    batch.customer_ids.push_back("c" + std::to_string(i));
    const double values[] = {c.recency_rank, c.frequency_rank, c.monetary_rank, c.share_above,
                             c.orders,       c.wallet,         c.strategic};
    for (std::size_t k = 0; k < batch.columns.size(); ++k) {
      batch.columns[k].push_back(values[k]);
    }
  }
  return batch;
}

class ScorerRfm : public ::testing::Test {
 protected:
  void SetUp() override {
    test_.load({CRM_PLUGIN_DIR});
    scorer_ = test_.host().find("scorer_rfm");
    ASSERT_NE(scorer_, nullptr) << test_.record("scorer_rfm")->reason;
    ASSERT_EQ(output_column_names(*scorer_),
              (std::vector<std::string>{"tier", "abc_class", "stage", "r_score", "f_score", "m_score"}));
  }
  testing::TestHost test_;
  LoadedPlugin* scorer_ = nullptr;
};

TEST_F(ScorerRfm, QuintilesTiersClassesAndStages) {
  const ScoreResult result = score_batch(*scorer_,
                                         batch_of({
                                             {0.95, 0.9, 0.99, 0.0, 40, 0.9, 80},    // top, strategic value
                                             {0.85, 0.7, 0.65, 0.5, 12, 0.6, 10},    // high RFM (5+4+4)
                                             {0.3, 0.2, 0.1, 0.97, 1, 0.2, 90},      // low RFM, strategic
                                             {0.1, 0.2, 0.3, 0.85, 2, kNan, kNan},   // low, unknown wallet
                                             {kNan, kNan, kNan, kNan, 0, kNan, 20},  // never bought
                                         }),
                                         true);
  const auto& tier = result.output_columns[0];
  const auto& abc = result.output_columns[1];
  const auto& stage = result.output_columns[2];
  EXPECT_EQ(tier, (std::vector<double>{0, 1, 2, 3, 3}));  // strategic, key, potential, general, general
  EXPECT_EQ(abc[0], 0);                                   // inside the first 80 % of revenue
  EXPECT_EQ(abc[1], 0);
  EXPECT_EQ(abc[2], 2);    // beyond 95 %
  EXPECT_EQ(abc[3], 1);    // between 80 and 95 %
  EXPECT_EQ(stage[0], 3);  // 90 % of wallet: strategic
  EXPECT_EQ(stage[1], 2);  // 60 %: stable
  EXPECT_EQ(stage[2], 1);  // 20 %: initial
  EXPECT_TRUE(std::isnan(stage[3]));
  EXPECT_EQ(stage[4], 0);  // no business yet: development
  EXPECT_EQ(result.output_columns[3][1], 5);
  EXPECT_EQ(result.output_columns[4][1], 4);
  EXPECT_EQ(result.output_columns[5][1], 4);
  EXPECT_DOUBLE_EQ(result.scores[0], 100);
  EXPECT_NEAR(result.scores[1], 100 - 100.0 / 3 * (0 + 0.25 + 0.25), 1e-9);
  EXPECT_TRUE(std::isnan(result.scores[4]));
  // Contributions of recency, frequency and monetary explain the score.
  const std::size_t n = 5;
  EXPECT_NEAR(100 + result.contributions[0 * n + 1] + result.contributions[1 * n + 1] + result.contributions[2 * n + 1],
              result.scores[1], 1e-9);
  // Low quintiles are named.
  const auto codes = reason_codes(*scorer_);
  EXPECT_EQ(codes, (std::vector<std::string>{"low_recency", "low_frequency", "low_monetary"}));
  EXPECT_EQ(result.reasons[2], 0b111U);
  EXPECT_EQ(result.reasons[0], 0U);
}

// The ABC shares are the host's (value_classes), which win-back uses too: a plugin-level
// value that differs is refused, naming where the number is set.
TEST(ScorerRfmConfig, AbcSharesOtherThanTheHostsAreRefused) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"scorer_rfm", {{"config", {{"abc_a_share", 0.9}, {"abc_b_share", 0.8}}}}}});
  EXPECT_EQ(test.host().find("scorer_rfm"), nullptr);
  EXPECT_NE(test.record("scorer_rfm")
                ->reason.find("plugins.scorer_rfm.config.abc_a_share is set by the host "
                              "configuration's value_classes.a_share (0.8)"),
            std::string::npos)
      << test.record("scorer_rfm")->reason;
  testing::TestHost same;
  same.load({CRM_PLUGIN_DIR}, {{"scorer_rfm", {{"config", {{"abc_a_share", 0.8}}}}}});
  EXPECT_NE(same.host().find("scorer_rfm"), nullptr) << "the host's own value is no conflict";
}

TEST(ScorerRfmConfig, TheHostsValueClassSharesDecideTheClasses) {
  const auto classes = [](const ValueClassSettings& shares) {
    testing::TestHost test;
    PluginHostOptions options;
    options.plugin_dirs = {CRM_PLUGIN_DIR};
    options.available_features = feature_names(FeatureSettings{});
    options.host_settings = plugin_visible_settings(shares);
    test.load(options);
    LoadedPlugin* scorer = test.host().find("scorer_rfm");
    EXPECT_NE(scorer, nullptr);
    if (scorer == nullptr) {
      return std::vector<double>{};
    }
    // Revenues 5,000 / 3,000 / 1,500 / 500: shares above 0, 0.5, 0.8, 0.95.
    const std::vector<double> above = revenue_share_above({5'000, 3'000, 1'500, 500});
    EXPECT_EQ(above, (std::vector<double>{0, 0.5, 0.8, 0.95}));
    return score_batch(*scorer,
                       batch_of({
                           {0.9, 0.9, 0.9, above[0], 10, 0.5, 50},
                           {0.9, 0.9, 0.9, 0.5, 10, 0.5, 50},
                           {0.9, 0.9, 0.9, 0.8, 10, 0.5, 50},
                           {0.9, 0.9, 0.9, 0.95, 10, 0.5, 50},
                       }),
                       true)
        .output_columns[1];
  };
  // The letters the host's rule gives win-back for the same shares, coded as the scorer codes them.
  const auto host_classes = [](const ValueClassSettings& shares) {
    std::vector<double> codes;
    for (const double above : {0.0, 0.5, 0.8, 0.95}) {
      codes.push_back(value_class(above, shares)[0] - 'A');
    }
    return codes;
  };
  EXPECT_EQ(classes(ValueClassSettings{}), (std::vector<double>{0, 0, 1, 2}));  // A A B C
  EXPECT_EQ(classes(ValueClassSettings{}), host_classes(ValueClassSettings{}));
  EXPECT_EQ(classes({0.5, 0.9}), (std::vector<double>{0, 1, 1, 2}));  // A B B C
  EXPECT_EQ(classes({0.5, 0.9}), host_classes({0.5, 0.9}));
}

}  // namespace
}  // namespace crm::host
