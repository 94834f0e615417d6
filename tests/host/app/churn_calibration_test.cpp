// The churn probability people read (issue 17): `train` fits a map from the
// band-deciding score to the churned share on the store's own history, every
// scoring run stores each customer's probability from the newest map whose
// outcomes were known by the run's date, and the customer 360 view shows it.
// On the demo's real data (examples/demo: Online Retail orders through the
// real erp_csv connector and the real scorers), on both backends.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "app/customers.hpp"
#include "app/request_dates.hpp"
#include "app/result_json.hpp"
#include "app/scoring_jobs.hpp"
#include "app/sync_jobs.hpp"
#include "scoring/calibration.hpp"
#include "store/score_run_repository.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

std::int64_t date(const char* text) {
  return parse_date_ms(text, "date");
}

struct StoredProbability {
  std::int64_t customer_id = 0;
  std::optional<double> score;
  std::optional<double> probability;
};

class ChurnCalibration : public ::testing::Test {
 protected:
  ChurnCalibration()
      : dir_(fs::temp_directory_path() / fmt::format("crm-calibration-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "plugins");
    testing::start_new_stores_under(dir_);
    for (const char* plugin : {"erp_csv", "scorer_health", "scorer_logit", "scorer_bgnbd", "scorer_rfm"}) {
      for (const char* extension : {".so", ".json"}) {
        fs::copy_file(fs::path(CRM_PLUGIN_DIR) / (std::string(plugin) + extension),
                      dir_ / "plugins" / (std::string(plugin) + extension));
      }
    }
    // The demo's connector configuration, reading the demo's orders.
    std::ifstream demo(fs::path(CRM_SOURCE_DIR) / "examples/demo/crmhost.json");
    const nlohmann::json demo_config = nlohmann::json::parse(demo);
    nlohmann::json erp_csv = demo_config["plugins"]["erp_csv"];
    erp_csv["config"]["path"] = (fs::path(CRM_SOURCE_DIR) / "examples/demo/data/orders").string();
    nlohmann::json config = {
        {"plugins", {{"erp_csv", erp_csv}, {"scorer_bgnbd", {{"config", {{"time_unit_days", 1}}}}}}}};
    std::ofstream(dir_ / "crmhost.json") << config.dump();
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
    options_.plugin_dirs = {(dir_ / "plugins").string()};
    Session session(options_, LogLevel::error, cancelled_);
    const SyncResult synced = sync(session, "erp_csv");
    EXPECT_EQ(synced.summaries.at(0).status, "ok");
  }
  ChurnCalibration(const ChurnCalibration&) = delete;
  ChurnCalibration& operator=(const ChurnCalibration&) = delete;
  ~ChurnCalibration() override { fs::remove_all(dir_); }

  std::vector<StoredProbability> probabilities(std::int64_t run_id) {
    Store store(options_.db_path);
    Statement query = store.database().prepare(
        "SELECT customer_id, score, churn_probability FROM customer_scores WHERE run_id = ?1 ORDER BY customer_id");
    query.bind(1, run_id);
    std::vector<StoredProbability> rows;
    while (query.step()) {
      StoredProbability& row = rows.emplace_back();
      row.customer_id = query.column_int64(0);
      if (!query.column_is_null(1)) {
        row.score = query.column_double(1);
      }
      if (!query.column_is_null(2)) {
        row.probability = query.column_double(2);
      }
    }
    return rows;
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(ChurnCalibration, TrainFitsAMonotoneProbabilityThatEveryRunStoresAndThe360Shows) {
  Session session(options_, LogLevel::error, cancelled_);
  // Before any training: the run stores no probability and says why.
  const ScoreJobResult before = score(session, date("2011-09-10"));
  EXPECT_FALSE(before.pass.calibration_id);
  EXPECT_EQ(before.pass.calibration_note, kNoCalibrationYet);
  for (const StoredProbability& row : probabilities(before.pass.run_id)) {
    EXPECT_FALSE(row.probability) << row.customer_id;
  }

  const TrainResult trained = train(session, date("2011-06-01"), session.config().scoring.horizon_days);
  ASSERT_FALSE(trained.failed());
  ASSERT_TRUE(trained.calibration_id) << trained.calibration_note;
  EXPECT_EQ(trained.calibration_scorer, "scorer_health");
  EXPECT_EQ(trained.calibration_customers, trained.customers);
  EXPECT_GT(trained.calibration_brier, 0.0);
  // Better than always saying the base rate: the score holds information about who churns.
  const double base_rate = trained.churned / static_cast<double>(trained.customers);
  EXPECT_LT(trained.calibration_brier, base_rate * (1 - base_rate));

  // The stored map: probabilities in [0, 1], never falling as the risk grows.
  {
    Store store(options_.db_path);
    const std::optional<StoredCalibration> stored =
        ScoreRunRepository(store.database()).calibration_for("scorer_health", 90, date("2011-09-10"));
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->id, *trained.calibration_id);
    EXPECT_EQ(stored->calibration.outcome_end_ms, date("2011-06-01"));
    EXPECT_EQ(stored->calibration.features_as_of_ms, date("2011-06-01") - 90 * kMillisecondsPerDay);
    const std::optional<Calibration> map = calibration_from_json(stored->calibration.map_json);
    ASSERT_TRUE(map);
    EXPECT_GE(map->probability.size(), 2U);
    EXPECT_TRUE(std::is_sorted(map->probability.begin(), map->probability.end()));
    EXPECT_GE(map->probability.front(), 0.0);
    EXPECT_LE(map->probability.back(), 1.0);
  }

  const ScoreJobResult after = score(session, date("2011-09-10"));
  ASSERT_EQ(after.pass.calibration_id, trained.calibration_id);
  EXPECT_EQ(after.pass.horizon_days, 90);
  std::vector<StoredProbability> rows = probabilities(after.pass.run_id);
  ASSERT_GT(rows.size(), 100U);
  std::size_t with_probability = 0;
  for (const StoredProbability& row : rows) {
    EXPECT_EQ(row.probability.has_value(), row.score.has_value()) << row.customer_id;
    if (row.probability) {
      ++with_probability;
      EXPECT_GE(*row.probability, 0.0);
      EXPECT_LE(*row.probability, 1.0);
    }
  }
  EXPECT_GT(with_probability, 100U);
  // Monotone in the score: a healthier customer is never likelier to churn.
  std::erase_if(rows, [](const StoredProbability& row) { return !row.score; });
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return *a.score < *b.score; });
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LE(*rows[i].probability, *rows[i - 1].probability)
        << "customer " << rows[i].customer_id << " (score " << *rows[i].score << ") against customer "
        << rows[i - 1].customer_id << " (score " << *rows[i - 1].score << ")";
  }
  // Not one number for everybody: the riskiest and the healthiest differ.
  EXPECT_GT(*rows.front().probability, *rows.back().probability);

  const Customer360 view = customer_360(session, std::to_string(rows.front().customer_id));
  ASSERT_TRUE(view.churn_probability);
  EXPECT_DOUBLE_EQ(*view.churn_probability, *rows.front().probability);
  EXPECT_EQ(view.churn_horizon_days, 90);
  const nlohmann::json json = customer_360_json(view);
  EXPECT_EQ(json["churn_horizon_days"], 90);
  EXPECT_NEAR(json["churn_probability"].get<double>(), *rows.front().probability, 0.0001);
  EXPECT_FALSE(json.contains("churn_probability_note"));
}

// No look-ahead: a map whose outcomes end at T serves runs as of T or later, never a run before T; of the
// maps a run may use, the one with the latest outcomes; and only for the configured horizon.
TEST_F(ChurnCalibration, ARunUsesOnlyMapsWhoseOutcomesWereKnownByItsDate) {
  Session session(options_, LogLevel::error, cancelled_);
  const TrainResult june = train(session, date("2011-06-01"), 90);
  const TrainResult september = train(session, date("2011-09-10"), 90);
  const TrainResult other_horizon = train(session, date("2011-05-01"), 60);
  ASSERT_TRUE(june.calibration_id) << june.calibration_note;
  ASSERT_TRUE(september.calibration_id) << september.calibration_note;
  ASSERT_TRUE(other_horizon.calibration_id) << other_horizon.calibration_note;

  // Before the first map's outcomes were all known (and the 60-day map is for another horizon): none.
  const ScoreJobResult may = score(session, date("2011-05-20"));
  EXPECT_FALSE(may.pass.calibration_id);
  EXPECT_EQ(may.pass.calibration_note, kNoCalibrationYet);
  for (const StoredProbability& row : probabilities(may.pass.run_id)) {
    EXPECT_FALSE(row.probability) << row.customer_id;
  }
  const Customer360 view = customer_360(session, std::to_string(probabilities(may.pass.run_id).front().customer_id));
  EXPECT_FALSE(view.churn_probability);
  EXPECT_FALSE(view.churn_horizon_days);
  EXPECT_EQ(view.churn_probability_note, kNoCalibrationYet);
  EXPECT_EQ(customer_360_json(view)["churn_probability"], nullptr);

  // Between the two: June's, although September's was stored later.
  EXPECT_EQ(score(session, date("2011-08-01")).pass.calibration_id, june.calibration_id);
  EXPECT_EQ(score(session, date("2011-06-01")).pass.calibration_id, june.calibration_id);
  // From September on: September's.
  EXPECT_EQ(score(session, date("2011-09-10")).pass.calibration_id, september.calibration_id);
  EXPECT_EQ(score(session, date("2011-10-01")).pass.calibration_id, september.calibration_id);
}

// A store of schema 15 (before migration 16): its runs read with no probability, and after `train` the
// next run has one.
TEST_F(ChurnCalibration, RunsStoredBeforeMigration16StayReadableWithoutAProbability) {
  std::int64_t customer_id = 0;
  {
    Session session(options_, LogLevel::error, cancelled_);
    const ScoreJobResult old_run = score(session, date("2011-09-10"));
    customer_id = probabilities(old_run.pass.run_id).front().customer_id;
  }
  {
    // Back to what migration 15 left: the sort keys in one table (migration 17 undone), no
    // calibrations, no probability or horizon columns.
    Store store(options_.db_path);
    Database& db = store.database();
    testing::undo_list_order_tables(db);
    db.exec("DROP TABLE calibrations");
    db.exec("ALTER TABLE customer_scores DROP COLUMN churn_probability");
    db.exec("ALTER TABLE score_runs DROP COLUMN calibration_id");
    db.exec("ALTER TABLE score_runs DROP COLUMN horizon_days");
    db.exec(db.kind() == DatabaseKind::postgresql ? "UPDATE crm_schema SET version = 15" : "PRAGMA user_version = 15");
  }
  {
    Store store(options_.db_path);
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
  }
  Session session(options_, LogLevel::error, cancelled_);
  const Customer360 old_view = customer_360(session, std::to_string(customer_id));
  EXPECT_TRUE(old_view.score);
  EXPECT_FALSE(old_view.churn_probability);
  EXPECT_EQ(old_view.churn_probability_note, kNoCalibrationYet);

  ASSERT_TRUE(train(session, date("2011-06-01"), 90).calibration_id);
  score(session, date("2011-09-10"));
  EXPECT_TRUE(customer_360(session, std::to_string(customer_id)).churn_probability);
}

TEST(CalibrationJson, RoundTripsAndRefusesMapsThatContradictTheScore) {
  const Calibration fitted = fit_isotonic({1, 2, 3, 4, 5, 6, 7, 8}, {0, 0, 1, 0, 1, 0, 1, 1});
  ASSERT_FALSE(fitted.empty());
  const std::optional<Calibration> read = calibration_from_json(calibration_to_json(fitted));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->risk_upper, fitted.risk_upper);
  EXPECT_EQ(read->probability, fitted.probability);
  EXPECT_EQ(read->customers, fitted.customers);
  EXPECT_FALSE(calibration_from_json("not json"));
  EXPECT_FALSE(calibration_from_json(R"({"risk_upper": [1, 2], "probability": [0.5, 0.2], "customers": 4})"));
  EXPECT_FALSE(calibration_from_json(R"({"risk_upper": [2, 1], "probability": [0.2, 0.5], "customers": 4})"));
  EXPECT_FALSE(calibration_from_json(R"({"risk_upper": [1], "probability": [0.2, 0.5], "customers": 4})"));
  EXPECT_FALSE(calibration_from_json(R"({"risk_upper": [1, 2], "probability": [0.2, 1.5], "customers": 4})"));
}

}  // namespace
}  // namespace crm::host
