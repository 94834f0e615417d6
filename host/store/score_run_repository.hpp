#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"
#include "store/row_scan.hpp"

namespace crm::host {

namespace postgresql {
class CopyIn;
}  // namespace postgresql

struct BandChange {
  std::int64_t customer_id = 0;
  std::string from_band;  // empty: not scored in the run before
  std::string to_band;
  double score = 0;
};

// The newest trained model of a scorer.
struct StoredModel {
  std::int64_t id = 0;
  std::string model;
  std::int64_t as_of_ms = 0;
};

struct NewModel {
  std::string scorer_id;
  std::string scorer_version;
  std::int64_t trained_ms = 0;
  std::int64_t as_of_ms = 0;
  std::int64_t horizon_days = 0;
  std::int64_t customer_count = 0;
  std::string model;
};

struct NewScoreRun {
  std::int64_t as_of_ms = 0;
  std::int64_t started_ms = 0;
  std::string primary_scorer;
  std::string scorers_json;
  std::int64_t customer_count = 0;
};

// The calibration a run's churn probabilities come from (a calibrations row), and its horizon.
struct ScoreRunCalibration {
  std::int64_t calibration_id = 0;
  std::int64_t horizon_days = 0;
};

// A map from the band-deciding score to the probability of churning within
// the horizon, fitted by `crmhost train` on its past snapshot: features as of
// features_as_of_ms, outcomes up to outcome_end_ms (so it may serve runs as of
// that date or later, never earlier).
struct NewCalibration {
  std::string scorer_id;  // whose score it maps
  std::int64_t trained_ms = 0;
  std::int64_t features_as_of_ms = 0;
  std::int64_t outcome_end_ms = 0;
  std::int64_t horizon_days = 0;
  std::int64_t customer_count = 0;
  std::optional<double> brier;  // of the map on the customers it was fitted on
  std::string map_json;         // scoring/calibration.hpp's calibration_to_json
};

struct StoredCalibration {
  std::int64_t id = 0;
  NewCalibration calibration;
};

// One customer's row of a run. Absent optionals are stored as NULL; views are
// read only during add_score().
struct CustomerScoreRow {
  std::int64_t run_id = 0;
  std::int64_t customer_id = 0;
  std::optional<double> score;
  std::optional<std::string_view> band;
  std::optional<std::string_view> tier;
  std::optional<std::string_view> stage;
  std::optional<std::string_view> abc_class;
  std::string_view reasons;  // "a,b,c"
  std::string_view scores_json;
  std::optional<std::string_view> explain_json;
  std::optional<double> purchases_per_year;
  std::optional<double> churn_probability;  // within the run's horizon_days; nullopt: no calibration
};

// A customer's keys of the at-risk list's sorts in a run (the run_list_by_*
// tables, migration 17). Views are read only during add_sort_key().
struct CustomerSortKeyRow {
  std::int64_t run_id = 0;
  std::int64_t customer_id = 0;
  std::optional<std::string_view> band;
  std::optional<double> score;         // the band-deciding score, as in customer_scores
  std::optional<double> score_change;  // against the finished run before; absent without a score in both
  double value = 0;                    // purchase revenue in the year before the run's date
};

// A customer's row in the finished run before a run.
struct PreviousScoreRow {
  std::int64_t customer_id = 0;
  std::optional<double> score;
  std::optional<std::string_view> band;
};

// A customer's value of the column a scan reads (a tier, purchases per year).
struct CustomerTierRow {
  std::int64_t customer_id = 0;
  std::string_view tier;
};

struct CustomerRateRow {
  std::int64_t customer_id = 0;
  double purchases_per_year = 0;
};

// Scoring history: score runs, each customer's score in a run, and trained
// models. Borrows the connection; prepared statements are kept for the
// repository's lifetime (a run writes one row per customer). The caller owns
// transactions.
class ScoreRunRepository {
 public:
  explicit ScoreRunRepository(Database& db);
  ScoreRunRepository(const ScoreRunRepository&) = delete;
  ScoreRunRepository& operator=(const ScoreRunRepository&) = delete;
  ~ScoreRunRepository();

  std::optional<StoredModel> newest_model(std::string_view scorer_id);
  // Returns the model's id.
  std::int64_t add_model(const NewModel& model);

  // Returns the calibration's id.
  std::int64_t add_calibration(const NewCalibration& calibration);
  // The calibration of `scorer_id`'s score for `horizon_days` whose outcomes were all known by
  // `as_of_ms` (outcome_end_ms <= as_of_ms), the latest outcome first, then the newest; nullopt when none.
  std::optional<StoredCalibration> calibration_for(std::string_view scorer_id, std::int64_t horizon_days,
                                                   std::int64_t as_of_ms);

  // Starts a run (not finished); returns its id. Without a calibration the run's horizon and
  // calibration are NULL (its customers have no churn probability).
  std::int64_t begin_run(const NewScoreRun& run, std::optional<ScoreRunCalibration> calibration = std::nullopt);
  // The rows are written in bulk: they may not be in customer_scores before
  // finish_run(). On PostgreSQL they stream through one COPY, which holds the
  // connection: from a run's first add_score() until its finish_run(), call
  // nothing else on this connection (nor on this repository).
  void add_score(const CustomerScoreRow& row);
  // A customer's sort keys of the run, held until finish_run() writes each
  // list order in its index's order (appending beats inserting at random).
  void add_sort_key(const CustomerSortKeyRow& row);
  // Marks the run finished and stores its counts in score_run_bands, made
  // from `band_totals` (customers now in each band, "" for unscored) and
  // `changes`, the customers whose band differs from their row in the
  // finished run before (scan_scores_of_run_before()): a row (from, to)
  // with from != to counts the customers who moved; the row (to, to) everyone
  // else now in `to`, customers new to this run included. So the run's bands
  // are the sums by to_band, without a second pass over its scores.
  void finish_run(std::int64_t run_id, std::int64_t finished_ms, const std::map<std::string, std::int64_t>& band_totals,
                  const std::vector<BandChange>& changes);

  // The rows of the finished run before run `run_id`, by customer id: the
  // writer of a run derives band changes and score changes from them in one
  // pass instead of joining the two runs in the database.
  RowScan<PreviousScoreRow> scan_scores_of_run_before(std::int64_t run_id);

  // Customers' tiers in the last finished run as of before the date.
  RowScan<CustomerTierRow> scan_tiers_of_last_run_before(std::int64_t before_ms);
  // Customers' purchases per year while a customer in the latest run.
  RowScan<CustomerRateRow> scan_purchases_per_year_of_latest_run();

 private:
  struct HeldSortKey {
    std::int64_t customer_id = 0;
    std::int32_t band = -1;  // index into held_bands_; -1: none
    std::optional<double> score;
    std::optional<double> score_change;
    double value = 0;
  };
  void write_list_orders();
  Database& db_;
  // SQLite: a run's rows not yet inserted, kept (strings reused) until a full statement's worth.
  struct PendingScore {
    static constexpr std::size_t kTexts = 7;  // band, tier, stage, abc_class, reasons, scores_json, explain_json
    std::int64_t run_id = 0;
    std::int64_t customer_id = 0;
    std::optional<double> score;
    std::optional<double> purchases_per_year;
    std::optional<double> churn_probability;
    std::array<std::string, kTexts> texts;
    std::array<bool, kTexts> present{};  // false: NULL
  };
  static constexpr std::size_t kScoreRowsPerInsert = 64;
  void insert_pending_scores();
  std::optional<Statement> insert_scores_;  // kScoreRowsPerInsert rows
  std::vector<PendingScore> pending_scores_ = std::vector<PendingScore>(kScoreRowsPerInsert);
  std::size_t pending_score_count_ = 0;
  std::unique_ptr<postgresql::CopyIn> copy_scores_;  // PostgreSQL: the run's rows, until finish_run()
  std::int64_t held_sort_keys_run_ = 0;
  std::vector<HeldSortKey> held_sort_keys_;
  std::vector<std::string> held_bands_;  // a run has a handful of band names
};

}  // namespace crm::host
