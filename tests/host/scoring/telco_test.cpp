// Customer attributes as features, on the real IBM Telco file of
// ../shared/data/telco imported by the real erp_csv connector: import counts,
// the attribute features, the configuration's errors, and the k-fold
// cross-validation (stratified, deterministic, without look-ahead) whose
// learned scorer must reach the scikit-learn peer (bench/telco_cv.sh).
// Expected counts were computed with pandas over the same file.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <numeric>
#include <random>

#include "app/errors.hpp"
#include "app/host_config.hpp"
#include "scoring/backtest.hpp"
#include "scoring/cross_validation.hpp"
#include "scoring/features.hpp"
#include "support/sync_harness.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using testing::SyncHarness;
using testing::TempDir;

const fs::path kTelco = fs::path(CRM_SOURCE_DIR) / ".." / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv";

nlohmann::json telco_settings(const fs::path& path, const nlohmann::json& attributes) {
  return {{"erp_csv",
           {{"config",
             {{"path", path.string()},
              {"record_type", "attribute"},
              {"columns", {{"customer_external_id", "customerID"}}},
              {"attributes", attributes}}}}},
          {"scorer_example_c", {{"enabled", false}}},
          {"scorer_example_cpp", {{"enabled", false}}}};
}

// The features of examples/telco/telco.json.
FeatureSettings telco_features() {
  FeatureSettings settings;
  using Kind = FeatureSettings::AttributeKind;
  for (const char* name : {"gender", "Partner", "Dependents", "PhoneService", "MultipleLines", "InternetService",
                           "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
                           "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod"}) {
    settings.attributes[name] = Kind::categorical;
  }
  for (const char* name : {"SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"}) {
    settings.attributes[name] = Kind::numeric;
  }
  return settings;
}

const CrossValidationRow& row_of(const CrossValidationResult& result, const std::string& id) {
  for (const CrossValidationRow& row : result.rows) {
    if (row.scorer_id == id) {
      return row;
    }
  }
  throw std::runtime_error("no cross-validation row for " + id);
}

class TelcoStore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("telco");
    harness_ = std::make_unique<SyncHarness>(*dir_ / "crm.db");
    LoadedPlugin& connector = harness_->load(
        {CRM_PLUGIN_DIR}, telco_settings(kTelco, {{"columns", {"*"}}, {"names", {{"Churn", "churned"}}}}), "erp_csv");
    summary_ = harness_->sync(connector);
  }
  static void TearDownTestSuite() {
    harness_.reset();
    dir_.reset();
  }
  static std::unique_ptr<TempDir> dir_;
  static std::unique_ptr<SyncHarness> harness_;
  static SyncSummary summary_;
};
std::unique_ptr<TempDir> TelcoStore::dir_;
std::unique_ptr<SyncHarness> TelcoStore::harness_;
SyncSummary TelcoStore::summary_;

TEST_F(TelcoStore, ImportsEveryCustomerWithEveryOtherColumnAsAnAttribute) {
  ASSERT_EQ(summary_.status, "ok") << summary_.message;
  EXPECT_EQ(summary_.source_records, 7'043U);
  EXPECT_EQ(summary_.quarantined, 0U);
  EXPECT_EQ(harness_->count("SELECT count(*) FROM customers"), 7'043);
  EXPECT_EQ(harness_->count("SELECT count(*) FROM customer_attributes"), 7'043 * 20);
  EXPECT_EQ(harness_->count("SELECT count(*) FROM customer_attributes WHERE name = 'churned' AND value = 'Yes'"),
            1'869);
  EXPECT_EQ(harness_->count("SELECT count(*) FROM customer_attributes WHERE name = 'Churn'"), 0);  // renamed
  // The 11 customers of tenure 0 have a blank TotalCharges: stored empty, not refused.
  EXPECT_EQ(harness_->count("SELECT count(*) FROM customer_attributes WHERE name = 'TotalCharges' AND "
                            "coalesce(value, '') = ''"),
            11);
  EXPECT_EQ(harness_->text("SELECT a.value FROM customer_attributes a JOIN customers c ON c.id = a.customer_id "
                           "WHERE c.external_id = '7590-VHVEG' AND a.name = 'PaymentMethod'"),
            "Electronic check");
}

TEST_F(TelcoStore, CategoricalAttributesExpandToOneIndicatorPerLevelAndNumbersParse) {
  FeatureSettings settings;
  settings.attributes["Contract"] = FeatureSettings::AttributeKind::categorical;
  settings.attributes["tenure"] = FeatureSettings::AttributeKind::numeric;
  settings.attributes["TotalCharges"] = FeatureSettings::AttributeKind::numeric;
  const CustomerFeatures features = build_features(harness_->store().database(), settings, testing::TestHost::kStartMs);
  ASSERT_EQ(features.size(), 7'043U);
  const auto count = [&](const std::string& name, double value) {
    const auto& column = features.column(name);
    return std::count_if(column.begin(), column.end(),
                         [&](double v) { return std::isnan(value) ? std::isnan(v) : v == value; });
  };
  EXPECT_EQ(count("attr.Contract=Month-to-month", 1), 3'875);
  EXPECT_EQ(count("attr.Contract=One year", 1), 1'473);
  EXPECT_EQ(count("attr.Contract=Two year", 1), 1'695);
  EXPECT_EQ(count("attr.Contract=Month-to-month", 0), 7'043 - 3'875);
  EXPECT_EQ(count("attr.TotalCharges", std::nan("")), 11);  // blank: missing, imputed by the scorer
  EXPECT_EQ(count("attr.tenure", std::nan("")), 0);
  // The levels in sorted order, after the features the host always computes.
  const auto first = std::find(features.names.begin(), features.names.end(), "attr.Contract=Month-to-month");
  ASSERT_NE(first, features.names.end());
  EXPECT_EQ(std::vector<std::string>(first, features.names.end()),
            (std::vector<std::string>{"attr.Contract=Month-to-month", "attr.Contract=One year",
                                      "attr.Contract=Two year", "attr.TotalCharges", "attr.tenure"}));
  // Customer 7590-VHVEG (the file's first line): tenure 1, TotalCharges 29.85, month-to-month.
  const std::int64_t id = harness_->count("SELECT id FROM customers WHERE external_id = '7590-VHVEG'");
  const auto at = static_cast<std::size_t>(std::find(features.customer_ids.begin(), features.customer_ids.end(), id) -
                                           features.customer_ids.begin());
  EXPECT_EQ(features.column("attr.tenure")[at], 1);
  EXPECT_DOUBLE_EQ(features.column("attr.TotalCharges")[at], 29.85);
  EXPECT_EQ(features.column("attr.Contract=Month-to-month")[at], 1);
  EXPECT_EQ(features.column("attr.Contract=Two year")[at], 0);
}

TEST_F(TelcoStore, FiveFoldCrossValidationIsStratifiedDeterministicAndReachesThePeer) {
  CrossValidationOptions options;
  options.as_of_ms = testing::TestHost::kStartMs;
  const CrossValidationResult result = run_cross_validation(harness_->store(), harness_->host(), telco_features(),
                                                            ScoringSettings{}, options, [](const std::string&) {});
  EXPECT_EQ(result.customers, 7'043U);
  EXPECT_EQ(result.churned, 1'869U);
  ASSERT_EQ(result.fold_customers.size(), 5U);
  for (std::size_t f = 0; f < 5; ++f) {
    // 1,869 churned and 5,174 stayed dealt in turn: 373-374 and 1,034-1,035 per fold.
    EXPECT_GE(result.fold_churned[f], 373U);
    EXPECT_LE(result.fold_churned[f], 374U);
    EXPECT_GE(result.fold_customers[f] - result.fold_churned[f], 1'034U);
    EXPECT_LE(result.fold_customers[f] - result.fold_churned[f], 1'035U);
  }
  const CrossValidationRow& logit = row_of(result, "scorer_logit");
  EXPECT_EQ(logit.scored, 7'043U);
  // scikit-learn's LogisticRegression, one-hot categoricals, standardised numerics, on these folds
  // (bench/telco_cv.sh): mean of the folds 0.84498, pooled 0.84469.
  EXPECT_GE(logit.mean_roc_auc, 0.84498);
  EXPECT_GE(logit.pooled_roc_auc, 0.84469);
  // The band-deciding score: scorer_health, whose only dimension with data here is the learned churn
  // probability (no orders, surveys or logins), ranks as the learned scorer does.
  EXPECT_NEAR(row_of(result, kBandsRowId).pooled_roc_auc, logit.pooled_roc_auc, 0.005);
  // The same folds on a second run, and from the ids alone whatever their order.
  const CrossValidationResult again = run_cross_validation(harness_->store(), harness_->host(), telco_features(),
                                                           ScoringSettings{}, options, [](const std::string&) {});
  EXPECT_EQ(folds_csv(again), folds_csv(result));
  EXPECT_EQ(again.rows.front().pooled_roc_auc, result.rows.front().pooled_roc_auc);
  std::vector<std::string> ids;
  std::vector<double> labels;
  for (const CrossValidationCustomer& customer : result.assignment) {
    ids.push_back(customer.external_id);
    labels.push_back(customer.churned);
  }
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(17));
  std::vector<std::string> shuffled_ids;
  std::vector<double> shuffled_labels;
  for (const std::size_t i : order) {
    shuffled_ids.push_back(ids[i]);
    shuffled_labels.push_back(labels[i]);
  }
  const std::vector<int> folds = stratified_folds(shuffled_ids, shuffled_labels, 5);
  for (std::size_t k = 0; k < order.size(); ++k) {
    ASSERT_EQ(folds[k], result.assignment[order[k]].fold) << shuffled_ids[k];
  }
  const std::string csv = folds_csv(result);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "external_id,churned,fold");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7'044);
}

TEST(StratifiedFolds, RefuseFewerCustomersOfAnOutcomeThanFolds) {
  EXPECT_THROW(stratified_folds({"a", "b", "c"}, {1, 0, 0}, 2), std::invalid_argument);
  EXPECT_THROW(stratified_folds({"a", "b"}, {1, 0}, 1), std::invalid_argument);
  EXPECT_EQ(parse_churn_label(" Yes "), 1.0);
  EXPECT_EQ(parse_churn_label("no"), 0.0);
  EXPECT_FALSE(parse_churn_label("maybe"));
}

// Each customer's own id as a categorical feature: a model that saw the customer learns its
// outcome from its own indicator; one that did not has never seen the level (its indicator is
// constant in training) and can only give every customer of the fold the same score.
TEST(TelcoCrossValidation, NoCustomerIsScoredByAModelTrainedOnIt) {
  TempDir dir("telco-lookahead");
  const fs::path small = dir / "telco_300.csv";
  {
    std::ifstream in(kTelco);
    std::ofstream out(small);
    std::string line;
    for (int k = 0; k < 301 && std::getline(in, line); ++k) {
      out << line << '\n';
    }
  }
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load(
      {CRM_PLUGIN_DIR},
      telco_settings(
          small, {{"columns", {"customerID", "Churn"}}, {"names", {{"customerID", "own_id"}, {"Churn", "churned"}}}}),
      "erp_csv");
  ASSERT_EQ(harness.sync(connector).status, "ok");
  FeatureSettings settings;
  settings.attributes["own_id"] = FeatureSettings::AttributeKind::categorical;
  CrossValidationOptions options;
  options.as_of_ms = testing::TestHost::kStartMs;
  const CrossValidationResult result = run_cross_validation(harness.store(), harness.host(), settings,
                                                            ScoringSettings{}, options, [](const std::string&) {});
  EXPECT_EQ(result.customers, 300U);
  EXPECT_EQ(result.churned, 77U);
  const CrossValidationRow& logit = row_of(result, "scorer_logit");
  EXPECT_EQ(logit.scored, 300U);
  for (const double auc : logit.fold_roc_auc) {
    EXPECT_DOUBLE_EQ(auc, 0.5);  // a look-ahead would give about 1
  }
}

TEST(TelcoConfiguration, BadAttributeFeaturesAreRefusedNamingTheKey) {
  const auto error_of = [](const nlohmann::json& features) {
    try {
      parse_host_config({{"features", features}}, fs::temp_directory_path(), "crmhost.json");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string kind = error_of({{"attributes", {{"Contract", "category"}}}});
  EXPECT_NE(kind.find("Contract"), std::string::npos) << kind;
  EXPECT_NE(kind.find("attributes"), std::string::npos) << kind;
  const std::string name = error_of({{"attributes", {{"Contract=Month", "categorical"}}}});
  EXPECT_NE(name.find("Contract=Month"), std::string::npos) << name;
  EXPECT_EQ(error_of({{"attributes", {{"Contract", "categorical"}, {"tenure", "numeric"}}}}), "accepted");
}

TEST(TelcoImport, AnAttributeSourceNeedsItsAttributeColumnsAndQuarantinesBadRows) {
  TempDir dir("telco-bad");
  const fs::path bad = dir / "telco_bad.csv";
  {
    std::ifstream in(kTelco);
    std::ofstream out(bad);
    std::string line;
    for (int k = 0; k < 11 && std::getline(in, line); ++k) {
      out << line << '\n';
    }
    out << "9999-BROKEN,Female,0\n";  // too few columns
    out << ",Male,0,No,No,5,Yes,No,DSL,No,No,No,No,No,No,Month-to-month,Yes,Mailed check,50.0,250.0,No\n";
  }
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load(
      {CRM_PLUGIN_DIR}, telco_settings(bad, {{"columns", {"*"}}, {"names", {{"Churn", "churned"}}}}), "erp_csv");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.quarantined, 2U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 10);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customer_attributes"), 200);
  const std::string reasons = harness.joined("SELECT reason FROM quarantine ORDER BY id", " | ");
  EXPECT_NE(reasons.find("line 12: 3 columns where the file has 21"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("line 13: the customer id (column customerID) is empty"), std::string::npos) << reasons;

  // Without attributes the source is refused, saying what to add.
  nlohmann::json settings = telco_settings(bad, {{"columns", {"*"}}});
  settings["erp_csv"]["config"].erase("attributes");
  SyncHarness other(dir / "other.db");
  try {
    other.load({CRM_PLUGIN_DIR}, settings, "erp_csv");
    ADD_FAILURE() << "an attribute source without attributes loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("attributes: say which columns are attributes"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace crm::host
