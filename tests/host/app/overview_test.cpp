#include "app/overview.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

#include "app/errors.hpp"
#include "app/result_json.hpp"
#include "scoring/scoring.hpp"
#include "store/score_run_repository.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Scored {
  std::int64_t customer_id;
  const char* band;  // nullptr: no band
};

// A store whose scoring runs are written as scoring writes them (ScoreRunRepository),
// so that the band counts come from finish_run, and a session over it with the default bands.
class OverviewTest : public ::testing::Test {
 protected:
  OverviewTest()
      : dir_(fs::temp_directory_path() / fmt::format("crm-overview-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
  }
  OverviewTest(const OverviewTest&) = delete;
  OverviewTest& operator=(const OverviewTest&) = delete;
  ~OverviewTest() override { fs::remove_all(dir_); }

  std::int64_t store_run(Store& store, std::int64_t as_of_ms, const std::vector<Scored>& scores, bool finish = true) {
    Transaction transaction(store.database());
    ScoreRunRepository runs(store.database());
    const std::int64_t run_id =
        runs.begin_run({as_of_ms, as_of_ms, "s", "{}", static_cast<std::int64_t>(scores.size())});
    std::map<std::string, std::int64_t> band_totals;
    std::vector<std::int64_t> customer_ids;
    for (const Scored& scored : scores) {
      customer_ids.push_back(scored.customer_id);
    }
    RunComparison previous(runs, run_id, customer_ids);
    for (const Scored& scored : scores) {
      ++band_totals[scored.band != nullptr ? scored.band : ""];
      CustomerScoreRow row;
      row.run_id = run_id;
      row.customer_id = scored.customer_id;
      row.score = 50;
      if (scored.band != nullptr) {
        row.band = scored.band;
      }
      row.reasons = "";
      row.scores_json = "{}";
      runs.add_score(row);
      previous.compare(static_cast<std::size_t>(&scored - scores.data()), row.score, row.band);
    }
    if (finish) {
      runs.finish_run(run_id, as_of_ms + 1, band_totals, previous.take_changes());
    }
    transaction.commit();
    return run_id;
  }

  Overview read(std::int64_t period_days = kDefaultOverviewPeriodDays) {
    Session session(options_, LogLevel::error, cancelled_);
    return read_overview(session, period_days);
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(OverviewTest, AnEmptyStoreHasNoBandsNoChangesAndZeroCounts) {
  { Store store(options_.db_path); }
  const Overview overview = read();
  EXPECT_TRUE(overview.band_history.empty());
  EXPECT_FALSE(overview.band_changes.since_run_id);
  EXPECT_TRUE(overview.band_changes.transitions.empty());
  EXPECT_TRUE(overview.alerts.open_by_level.empty());
  EXPECT_EQ(overview.winback.enrolled, 0);
  const nlohmann::json json = overview_json(overview);
  EXPECT_EQ(json["bands"], nlohmann::json::object());
  EXPECT_EQ(json["band_changes"]["since_run"], nullptr);
}

TEST_F(OverviewTest, BandsOverTheRunsAndChangesBetweenTheLastTwo) {
  {
    Store store(options_.db_path);
    store.database().exec(
        "INSERT INTO customers(id, source, external_id, name) VALUES (1, 'erp', 'a', 'a'), (2, 'erp', 'b', 'b'), "
        "(3, 'erp', 'c', 'c'), (4, 'erp', 'd', 'd'), (5, 'erp', 'e', 'e')");
    testing::continue_ids_after_largest(store.database());
    store_run(store, 1 * kDayMs, {{1, "green"}, {2, "green"}, {3, "yellow"}});
    // An unfinished run between the finished ones counts nowhere.
    store_run(store, 2 * kDayMs, {{1, "red"}}, false);
    // 1 green -> red, 2 green -> yellow (worse); 3 yellow -> green (better); 4 new; 5 no band.
    store_run(store, 3 * kDayMs, {{1, "red"}, {2, "yellow"}, {3, "green"}, {4, "orange"}, {5, nullptr}});
  }
  const Overview overview = read();
  ASSERT_EQ(overview.band_history.size(), 2U);
  EXPECT_EQ(overview.band_history[0].as_of_ms, 1 * kDayMs);
  EXPECT_EQ(overview.band_history[0].bands, (std::map<std::string, std::int64_t>{{"green", 2}, {"yellow", 1}}));
  EXPECT_EQ(overview.band_history[1].bands,
            (std::map<std::string, std::int64_t>{{"green", 1}, {"orange", 1}, {"red", 1}, {"yellow", 1}}));
  EXPECT_EQ(overview.band_changes.since_run_id, overview.band_history[0].run_id);
  EXPECT_EQ(overview.band_changes.worse, 2);
  EXPECT_EQ(overview.band_changes.better, 1);
  const nlohmann::json json = overview_json(overview);
  EXPECT_EQ(json["band_changes"]["transitions"],
            nlohmann::json::parse(R"([{"from":"green","to":"red","count":1},{"from":"green","to":"yellow","count":1},
                                      {"from":"yellow","to":"green","count":1}])"));
  EXPECT_EQ(json["bands"], json["band_history"][1]["bands"]);
  EXPECT_EQ(json["band_history"][0]["as_of"], "1970-01-02T00:00:00Z");
}

TEST_F(OverviewTest, KeepsTheLastThirtyRunsOldestFirst) {
  {
    Store store(options_.db_path);
    for (std::int64_t day = 1; day <= 32; ++day) {
      store_run(store, day * kDayMs, {{1, day % 2 == 0 ? "red" : "green"}});
    }
  }
  const Overview overview = read();
  ASSERT_EQ(overview.band_history.size(), kOverviewRuns);
  EXPECT_EQ(overview.band_history.front().as_of_ms, 3 * kDayMs);
  EXPECT_EQ(overview.band_history.back().as_of_ms, 32 * kDayMs);
  EXPECT_EQ(overview.band_history.back().bands, (std::map<std::string, std::int64_t>{{"red", 1}}));
  EXPECT_EQ(overview.band_changes.worse, 1);
}

TEST_F(OverviewTest, OpenAlertsByLevelAndDeadline) {
  const std::int64_t now = now_ms();
  {
    Store store(options_.db_path);
    store.database().exec(fmt::format(
        "INSERT INTO alerts(customer_id, reason, level, state, title, opened_ms, updated_ms, deadline_ms) VALUES "
        "(1, 'r1', 'red', 'open', 't', 0, 0, {0}), (2, 'r1', 'red', 'open', 't', 0, 0, {1}), "
        "(3, 'r1', 'orange', 'open', 't', 0, 0, {2}), (4, 'r1', 'orange', 'open', 't', 0, 0, NULL), "
        "(5, 'r1', 'red', 'acknowledged', 't', 0, 0, {0}), (6, 'r1', 'red', 'resolved', 't', 0, 0, {0})",
        now - kHourMs, now + kHourMs / 2, now + 2 * kHourMs));
  }
  const Overview overview = read();
  EXPECT_EQ(overview.alerts.open_by_level, (std::map<std::string, std::int64_t>{{"orange", 2}, {"red", 2}}));
  EXPECT_EQ(overview.alerts.past_deadline, 1);
  EXPECT_EQ(overview.alerts.due_within_hour, 1);
}

TEST_F(OverviewTest, LostCustomersOfThePeriodByReasonMassChurnAndTheWinbackFunnel) {
  const std::int64_t now = now_ms();
  {
    Store store(options_.db_path);
    store.database().exec(fmt::format(
        "INSERT INTO lost_customers(customer_id, churn_date_ms, detected_ms, method, evidence, reason, recovered_ms) "
        "VALUES (1, {0}, 0, 'silence', '{{}}', 'price', NULL), (2, {0}, 0, 'silence', '{{}}', 'price', {1}), "
        "(3, {0}, 0, 'silence', '{{}}', NULL, {1}), (4, {2}, 0, 'silence', '{{}}', 'service', {3}), "
        "(5, {0}, 0, 'silence', '{{}}', 'service', {4});"
        "INSERT INTO mass_churn_events(reason, period_start_ms, lost_count, rate, alert_id) VALUES "
        "('price', {5}, 30, 0.1, NULL), ('price', {6}, 40, 0.2, NULL);"
        "INSERT INTO campaigns(id, playbook_id, playbook_version, playbook, holdout_fraction, recovery_window_days, "
        "created_ms) VALUES (1, 'p', 1, '{{}}', 0.2, 30, 0);"
        "INSERT INTO enrolments(campaign_id, customer_id, holdout, state, next_step_ms, enrolled_ms, contacted) VALUES "
        "(1, 1, 0, 'active', 0, {7}, 1), (1, 2, 0, 'converted', 0, {7}, 1), (1, 4, 0, 'active', 0, {7}, 0), "
        "(1, 3, 1, 'holdout', 0, {7}, 0), (1, 5, 1, 'holdout', 0, {7}, 0)",
        now - 5 * kDayMs, now - kDayMs, now - 100 * kDayMs, now - 4 * kDayMs, now + 60 * kDayMs, now - 10 * kDayMs,
        now - 400 * kDayMs, now - 3 * kDayMs));
  }
  const Overview overview = read();
  const nlohmann::json json = overview_json(overview);
  EXPECT_EQ(json["lost"]["by_reason"], nlohmann::json::parse(R"([{"reason":"price","count":2},{"reason":null,"count":1},
                                      {"reason":"service","count":1}])"));
  ASSERT_EQ(overview.mass_churn.size(), 1U);
  EXPECT_EQ(overview.mass_churn[0].lost_count, 30);
  EXPECT_EQ(read(365).lost_by_reason.size(), 3U);
  EXPECT_EQ(read(365).lost_by_reason[1].customer_count, 2);  // service: now both
  // 4 recovered before it enrolled, 5 after the window: neither counts.
  EXPECT_EQ(json["winback"],
            nlohmann::json::parse(R"({"enrolled":3,"contacted":2,"recovered":1,"holdout":2,"holdout_recovered":1})"));
  EXPECT_THROW(read(0), InvalidRequest);
}

TEST(CustomerListCsv, QuotesFieldsWithCommasQuotesAndLineBreaksAndEndsLinesWithCrlf) {
  CustomerListRow plain;
  plain.customer_id = 7;
  plain.name = "Plain";
  plain.source = "erp";
  plain.external_id = "7";
  plain.score = 41.25;
  plain.band = "red";
  CustomerListRow awkward;
  awkward.customer_id = 8;
  awkward.name = "Zhang, \"Big\"\nTrading 张";
  awkward.source = "erp";
  awkward.external_id = "x,y";
  // A UTF-8 byte order mark first, so that Excel reads the Chinese name as UTF-8.
  EXPECT_EQ(customer_list_csv({plain, awkward}),
            "\xEF\xBB\xBF"
            "customer_id,name,known_as,score,band,tier,stage,abc_class\r\n"
            "7,Plain,erp:7,41.25,red,,,\r\n"
            "8,\"Zhang, \"\"Big\"\"\nTrading 张\",\"erp:x,y\",,,,,\r\n");
}

// A name from an outside system that a spreadsheet would run as a formula is
// exported as text.
TEST(CustomerListCsv, ANameStartingLikeAFormulaIsExportedAsText) {
  CustomerListRow row;
  row.customer_id = 9;
  row.source = "erp";
  row.external_id = "9";
  for (const auto& [name, exported] :
       {std::pair{"=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
        std::pair{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"}, std::pair{"@SUM(A1)", "'@SUM(A1)"},
        std::pair{"-2+3", "'-2+3"}, std::pair{"Acme = good", "Acme = good"}}) {
    row.name = name;
    EXPECT_EQ(customer_list_csv({row}), fmt::format("\xEF\xBB\xBF"
                                                    "customer_id,name,known_as,score,band,tier,stage,abc_class\r\n"
                                                    "9,{},erp:9,,,,,\r\n",
                                                    exported))
        << name;
  }
}

}  // namespace
}  // namespace crm::host
