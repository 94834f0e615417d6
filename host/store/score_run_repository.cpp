#include "store/score_run_repository.hpp"

#include "store/postgresql/connection.hpp"

namespace crm::host {
namespace {

template <typename Value, typename Add>
void copy_optional(postgresql::CopyIn& copy, const std::optional<Value>& value, Add add) {
  if (value) {
    add(*value);
  } else {
    copy.add_null();
  }
}

void bind_optional(Statement& statement, int index, const std::optional<std::string_view>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind_null(index);
  }
}

void bind_optional(Statement& statement, int index, const std::optional<double>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind_null(index);
  }
}

}  // namespace

ScoreRunRepository::ScoreRunRepository(Database& db) : db_(db) {}

// Out of line: CopyIn is complete only here.
ScoreRunRepository::~ScoreRunRepository() = default;

std::optional<StoredModel> ScoreRunRepository::newest_model(std::string_view scorer_id) {
  Statement query = db_.prepare("SELECT id, model, as_of_ms FROM models WHERE scorer_id = ?1 ORDER BY id DESC LIMIT 1");
  query.bind(1, scorer_id);
  if (!query.step()) {
    return std::nullopt;
  }
  return StoredModel{query.column_int64(0), query.column_text(1), query.column_int64(2)};
}

std::int64_t ScoreRunRepository::add_model(const NewModel& model) {
  Statement insert = db_.prepare(
      "INSERT INTO models(scorer_id, scorer_version, trained_ms, as_of_ms, horizon_days, customer_count, model) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
  insert.bind(1, model.scorer_id)
      .bind(2, model.scorer_version)
      .bind(3, model.trained_ms)
      .bind(4, model.as_of_ms)
      .bind(5, model.horizon_days)
      .bind(6, model.customer_count)
      .bind(7, model.model);
  insert.step();
  return insert.column_int64(0);
}

std::int64_t ScoreRunRepository::add_calibration(const NewCalibration& calibration) {
  Statement insert = db_.prepare(
      "INSERT INTO calibrations(scorer_id, trained_ms, features_as_of_ms, outcome_end_ms, horizon_days, "
      "customer_count, brier, map_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
  insert.bind(1, calibration.scorer_id)
      .bind(2, calibration.trained_ms)
      .bind(3, calibration.features_as_of_ms)
      .bind(4, calibration.outcome_end_ms)
      .bind(5, calibration.horizon_days)
      .bind(6, calibration.customer_count);
  bind_optional(insert, 7, calibration.brier);
  insert.bind(8, calibration.map_json);
  insert.step();
  return insert.column_int64(0);
}

std::optional<StoredCalibration> ScoreRunRepository::calibration_for(std::string_view scorer_id,
                                                                     std::int64_t horizon_days, std::int64_t as_of_ms) {
  Statement query = db_.prepare(
      "SELECT id, scorer_id, trained_ms, features_as_of_ms, outcome_end_ms, horizon_days, customer_count, brier, "
      "map_json FROM calibrations WHERE scorer_id = ?1 AND horizon_days = ?2 AND outcome_end_ms <= ?3 "
      "ORDER BY outcome_end_ms DESC, id DESC LIMIT 1");
  query.bind(1, scorer_id).bind(2, horizon_days).bind(3, as_of_ms);
  if (!query.step()) {
    return std::nullopt;
  }
  StoredCalibration stored;
  stored.id = query.column_int64(0);
  NewCalibration& calibration = stored.calibration;
  calibration.scorer_id = query.column_text(1);
  calibration.trained_ms = query.column_int64(2);
  calibration.features_as_of_ms = query.column_int64(3);
  calibration.outcome_end_ms = query.column_int64(4);
  calibration.horizon_days = query.column_int64(5);
  calibration.customer_count = query.column_int64(6);
  if (!query.column_is_null(7)) {
    calibration.brier = query.column_double(7);
  }
  calibration.map_json = query.column_text(8);
  return stored;
}

std::int64_t ScoreRunRepository::begin_run(const NewScoreRun& run, std::optional<ScoreRunCalibration> calibration) {
  Statement insert = db_.prepare(
      "INSERT INTO score_runs(as_of_ms, started_ms, primary_scorer, scorers_json, customer_count, calibration_id, "
      "horizon_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
  insert.bind(1, run.as_of_ms)
      .bind(2, run.started_ms)
      .bind(3, run.primary_scorer)
      .bind(4, run.scorers_json)
      .bind(5, run.customer_count);
  if (calibration) {
    insert.bind(6, calibration->calibration_id).bind(7, calibration->horizon_days);
  } else {
    insert.bind_null(6).bind_null(7);
  }
  insert.step();
  return insert.column_int64(0);
}

void ScoreRunRepository::add_score(const CustomerScoreRow& row) {
  if (db_.kind() == DatabaseKind::postgresql) {
    // One INSERT per customer is one round trip to the server each (about 250 us on loopback,
    // minutes for a million customers); COPY streams the rows in 1 MiB chunks.
    if (!copy_scores_) {
      copy_scores_ = std::make_unique<postgresql::CopyIn>(
          *db_.postgresql_connection(), "customer_scores",
          std::vector<std::string>{"run_id", "customer_id", "score", "band", "tier", "stage", "abc_class", "reasons",
                                   "scores_json", "explain_json", "purchases_per_year", "churn_probability"});
    }
    postgresql::CopyIn& copy = *copy_scores_;
    const auto text = [&copy](std::string_view value) { copy.add_text(value); };
    const auto real = [&copy](double value) { copy.add_double(value); };
    copy.add_int64(row.run_id);
    copy.add_int64(row.customer_id);
    copy_optional(copy, row.score, real);
    copy_optional(copy, row.band, text);
    copy_optional(copy, row.tier, text);
    copy_optional(copy, row.stage, text);
    copy_optional(copy, row.abc_class, text);
    copy.add_text(row.reasons);
    copy.add_text(row.scores_json);
    copy_optional(copy, row.explain_json, text);
    copy_optional(copy, row.purchases_per_year, real);
    copy_optional(copy, row.churn_probability, real);
    copy.end_row();
    return;
  }
  if (!insert_score_) {
    insert_score_.emplace(db_.prepare(
        "INSERT INTO customer_scores(run_id, customer_id, score, band, tier, stage, abc_class, reasons, scores_json, "
        "explain_json, purchases_per_year, churn_probability) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "?12)"));
  }
  Statement& insert = *insert_score_;
  insert.bind(1, row.run_id).bind(2, row.customer_id);
  bind_optional(insert, 3, row.score);
  bind_optional(insert, 4, row.band);
  bind_optional(insert, 5, row.tier);
  bind_optional(insert, 6, row.stage);
  bind_optional(insert, 7, row.abc_class);
  insert.bind(8, row.reasons).bind(9, row.scores_json);
  bind_optional(insert, 10, row.explain_json);
  bind_optional(insert, 11, row.purchases_per_year);
  bind_optional(insert, 12, row.churn_probability);
  insert.run();
}

void ScoreRunRepository::add_sort_key(const CustomerSortKeyRow& row) {
  if (db_.kind() == DatabaseKind::postgresql) {
    held_sort_keys_run_ = row.run_id;
    held_sort_keys_.push_back({row.customer_id, row.band ? std::optional<std::string>(*row.band) : std::nullopt,
                               row.score_change, row.value});
    return;
  }
  if (!insert_sort_key_) {
    insert_sort_key_.emplace(
        db_.prepare("INSERT INTO customer_sort_keys (run_id, customer_id, band, score_change, value) VALUES (?1, ?2, "
                    "?3, ?4, ?5)"));
  }
  Statement& insert = *insert_sort_key_;
  insert.bind(1, row.run_id).bind(2, row.customer_id);
  bind_optional(insert, 3, row.band);
  bind_optional(insert, 4, row.score_change);
  insert.bind(5, row.value);
  insert.run();
}

void ScoreRunRepository::finish_run(std::int64_t run_id, std::int64_t finished_ms,
                                    const std::map<std::string, std::int64_t>& band_totals,
                                    const std::vector<BandChange>& changes) {
  if (copy_scores_) {
    copy_scores_->finish();
    copy_scores_.reset();
  }
  if (!held_sort_keys_.empty()) {
    postgresql::CopyIn copy(*db_.postgresql_connection(), "customer_sort_keys",
                            {"run_id", "customer_id", "band", "score_change", "value"});
    for (const HeldSortKey& key : held_sort_keys_) {
      copy.add_int64(held_sort_keys_run_);
      copy.add_int64(key.customer_id);
      copy_optional(copy, key.band, [&copy](const std::string& band) { copy.add_text(band); });
      copy_optional(copy, key.score_change, [&copy](double change) { copy.add_double(change); });
      copy.add_double(key.value);
      copy.end_row();
    }
    copy.finish();
    held_sort_keys_ = {};
  }
  db_.prepare("UPDATE score_runs SET finished_ms = ?1 WHERE id = ?2").bind(1, finished_ms).bind(2, run_id).run();
  std::map<std::pair<std::string, std::string>, std::int64_t> counts;
  std::map<std::string, std::int64_t> stayed = band_totals;
  for (const BandChange& change : changes) {
    ++counts[{change.from_band, change.to_band}];
    --stayed[change.to_band];
  }
  for (const auto& [band, count] : stayed) {
    if (count > 0) {
      counts[{band, band}] += count;
    }
  }
  Statement insert =
      db_.prepare("INSERT INTO score_run_bands (run_id, from_band, to_band, customer_count) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& [bands, count] : counts) {
    insert.bind(1, run_id).bind(2, bands.first).bind(3, bands.second).bind(4, count).run();
  }
}

RowScan<PreviousScoreRow> ScoreRunRepository::scan_scores_of_run_before(std::int64_t run_id) {
  Statement query = db_.prepare(
      "SELECT customer_id, score, band FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs WHERE id < "
      "?1 AND finished_ms IS NOT NULL) ORDER BY customer_id");
  query.bind(1, run_id);
  return {std::move(query), [](const Statement& row, PreviousScoreRow& out) {
            out.customer_id = row.column_int64(0);
            out.score = row.column_is_null(1) ? std::nullopt : std::optional<double>(row.column_double(1));
            out.band = row.column_is_null(2) ? std::nullopt : std::optional<std::string_view>(row.column_view(2));
          }};
}

RowScan<CustomerTierRow> ScoreRunRepository::scan_tiers_of_last_run_before(std::int64_t before_ms) {
  Statement query = db_.prepare(
      "SELECT customer_id, tier FROM customer_scores WHERE tier IS NOT NULL AND run_id = (SELECT id FROM "
      "score_runs WHERE as_of_ms < ?1 AND finished_ms IS NOT NULL ORDER BY as_of_ms DESC, id DESC LIMIT 1)");
  query.bind(1, before_ms);
  return {std::move(query), [](const Statement& row, CustomerTierRow& out) {
            out.customer_id = row.column_int64(0);
            out.tier = row.column_view(1);
          }};
}

RowScan<CustomerRateRow> ScoreRunRepository::scan_purchases_per_year_of_latest_run() {
  return {db_.prepare("SELECT customer_id, purchases_per_year FROM customer_scores WHERE run_id = (SELECT max(id) "
                      "FROM score_runs) AND purchases_per_year IS NOT NULL"),
          [](const Statement& row, CustomerRateRow& out) {
            out.customer_id = row.column_int64(0);
            out.purchases_per_year = row.column_double(1);
          }};
}

}  // namespace crm::host
