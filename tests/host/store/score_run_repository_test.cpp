#include "store/score_run_repository.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// A run's rows and list orders are written many rows per statement (a full
// statement's worth at a time, then the rest at finish_run): every row arrives
// whole, NULLs included, however the count falls on the statements' size.
class ScoreRunWrites : public ::testing::TestWithParam<int> {
 protected:
  ScoreRunWrites() = default;
  ScoreRunWrites(const ScoreRunWrites&) = delete;
  ScoreRunWrites& operator=(const ScoreRunWrites&) = delete;
  ~ScoreRunWrites() override { fs::remove_all(dir_); }

  static fs::path make_dir(const fs::path& dir) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
  }

  fs::path dir_ = make_dir(fs::temp_directory_path() / fmt::format("crm-score-run-{}-{}", GetParam(), ::getpid()));
  Store store_{testing::store_locator(dir_ / "crm.db")};
};

struct Expected {
  std::int64_t customer_id;
  std::optional<double> score;
  std::optional<std::string> band;
  std::optional<std::string> tier;
  std::string reasons;
  std::optional<std::string> explain;
  std::optional<double> probability;
  std::optional<double> change;
  double value;
};

Expected expected_row(int i) {
  Expected row{1000 + i,
               std::nullopt,
               std::nullopt,
               std::nullopt,
               fmt::format("reason_{}", i % 5),
               std::nullopt,
               std::nullopt,
               std::nullopt,
               static_cast<double>((i * 37) % 101)};
  if (i % 7 != 0) {
    row.score = static_cast<double>((i * 53) % 100);
    row.band = *row.score < 40 ? "red" : (*row.score < 70 ? "yellow" : "green");
    row.probability = *row.score / 200.0;
  }
  if (i % 3 == 0) {
    row.tier = i % 2 == 0 ? "strategic" : "general";
  }
  if (i % 4 != 0) {
    row.explain = fmt::format("[[\"f{}\",{}]]", i, -i);
  }
  if (i % 5 != 0 && row.score) {
    row.change = static_cast<double>((i * 17) % 41) - 20;
  }
  return row;
}

TEST_P(ScoreRunWrites, EveryRowAndEveryListOrderArriveWhole) {
  const int count = GetParam();
  std::vector<Expected> expected;
  for (int i = 0; i < count; ++i) {
    expected.push_back(expected_row(i));
  }
  Database& db = store_.database();
  db.exec("INSERT INTO score_runs(id, as_of_ms, started_ms) VALUES (7, 0, 0)");
  {
    Transaction transaction(db);
    ScoreRunRepository runs(db);
    for (const Expected& row : expected) {
      CustomerScoreRow score;
      score.run_id = 7;
      score.customer_id = row.customer_id;
      score.score = row.score;
      score.band = row.band;
      score.tier = row.tier;
      score.reasons = row.reasons;
      // The row holds views: the text must outlive add_score().
      const std::string scores_json = fmt::format("{{\"s\":{}}}", row.customer_id);
      score.scores_json = scores_json;
      score.explain_json = row.explain;
      score.churn_probability = row.probability;
      runs.add_score(score);
      CustomerSortKeyRow key;
      key.run_id = 7;
      key.customer_id = row.customer_id;
      key.band = row.band;
      key.score = row.score;
      key.score_change = row.change;
      key.value = row.value;
      runs.add_sort_key(key);
    }
    runs.finish_run(7, 10, {}, {});
    transaction.commit();
  }
  Statement stored = db.prepare(
      "SELECT customer_id, score, band, tier, reasons, scores_json, explain_json, churn_probability, stage, "
      "abc_class, purchases_per_year FROM customer_scores WHERE run_id = 7 ORDER BY customer_id");
  std::size_t next = 0;
  while (stored.step()) {
    ASSERT_LT(next, expected.size());
    const Expected& row = expected[next++];
    SCOPED_TRACE(row.customer_id);
    EXPECT_EQ(stored.column_int64(0), row.customer_id);
    EXPECT_EQ(stored.column_is_null(1) ? std::nullopt : std::optional<double>(stored.column_double(1)), row.score);
    EXPECT_EQ(stored.column_is_null(2) ? std::nullopt : std::optional<std::string>(stored.column_text(2)), row.band);
    EXPECT_EQ(stored.column_is_null(3) ? std::nullopt : std::optional<std::string>(stored.column_text(3)), row.tier);
    EXPECT_EQ(stored.column_text(4), row.reasons);
    EXPECT_EQ(stored.column_text(5), fmt::format("{{\"s\":{}}}", row.customer_id));
    EXPECT_EQ(stored.column_is_null(6) ? std::nullopt : std::optional<std::string>(stored.column_text(6)), row.explain);
    EXPECT_EQ(stored.column_is_null(7) ? std::nullopt : std::optional<double>(stored.column_double(7)),
              row.probability);
    EXPECT_TRUE(stored.column_is_null(8));
    EXPECT_TRUE(stored.column_is_null(9));
    EXPECT_TRUE(stored.column_is_null(10));
  }
  EXPECT_EQ(next, expected.size());

  // Each order table holds every customer once, with its key.
  using Keyed = std::tuple<std::int64_t, std::optional<std::string>, std::optional<double>>;
  const auto read_order = [&db](const std::string& table, const std::string& column) {
    std::vector<Keyed> rows;
    Statement query = db.prepare(
        fmt::format("SELECT customer_id, band, {} FROM {} WHERE run_id = 7 ORDER BY customer_id", column, table));
    while (query.step()) {
      rows.emplace_back(query.column_int64(0),
                        query.column_is_null(1) ? std::nullopt : std::optional<std::string>(query.column_text(1)),
                        query.column_is_null(2) ? std::nullopt : std::optional<double>(query.column_double(2)));
    }
    return rows;
  };
  std::vector<Keyed> by_score;
  std::vector<Keyed> by_change;
  std::vector<Keyed> by_value;
  for (const Expected& row : expected) {
    by_score.emplace_back(row.customer_id, row.band, row.score);
    by_change.emplace_back(row.customer_id, row.band, row.change);
    by_value.emplace_back(row.customer_id, row.band, row.value);
  }
  EXPECT_EQ(read_order("run_list_by_score", "score"), by_score);
  EXPECT_EQ(read_order("run_list_by_change", "score_change"), by_change);
  EXPECT_EQ(read_order("run_list_by_value", "value"), by_value);
}

// Below, at and across the statements' sizes (64 score rows, 128 list-order rows).
INSTANTIATE_TEST_SUITE_P(Counts, ScoreRunWrites, ::testing::Values(1, 63, 64, 65, 128, 129, 300));

}  // namespace
}  // namespace crm::host
