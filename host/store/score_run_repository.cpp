#include "store/score_run_repository.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>

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

// "INSERT INTO table (a, b) VALUES (?, ?), (?, ?)...": on SQLite one statement step per row costs
// more than the B-tree append it makes, so bulk writes insert many rows per step.
std::string insert_rows_sql(std::string_view table, std::string_view columns, int column_count, std::size_t rows) {
  std::string one_row = "(?";
  for (int column = 1; column < column_count; ++column) {
    one_row += ", ?";
  }
  one_row += ")";
  std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ", table, columns);
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "" : ", ";
    sql += one_row;
  }
  return sql;
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
  PendingScore& pending = pending_scores_[pending_score_count_];
  pending.run_id = row.run_id;
  pending.customer_id = row.customer_id;
  pending.score = row.score;
  pending.purchases_per_year = row.purchases_per_year;
  pending.churn_probability = row.churn_probability;
  const std::array<std::optional<std::string_view>, PendingScore::kTexts> texts{
      row.band, row.tier, row.stage, row.abc_class, row.reasons, row.scores_json, row.explain_json};
  for (std::size_t text = 0; text < texts.size(); ++text) {
    pending.present[text] = texts[text].has_value();
    pending.texts[text].assign(texts[text].value_or(std::string_view()));
  }
  if (++pending_score_count_ == pending_scores_.size()) {
    insert_pending_scores();
  }
}

void ScoreRunRepository::insert_pending_scores() {
  if (pending_score_count_ == 0) {
    return;
  }
  static constexpr std::string_view kColumns =
      "run_id, customer_id, score, band, tier, stage, abc_class, reasons, scores_json, explain_json, "
      "purchases_per_year, churn_probability";
  constexpr int kColumnCount = 12;
  std::optional<Statement> remainder;
  if (pending_score_count_ == pending_scores_.size() && !insert_scores_) {
    insert_scores_.emplace(
        db_.prepare(insert_rows_sql("customer_scores", kColumns, kColumnCount, pending_scores_.size())));
  }
  Statement& insert = pending_score_count_ == pending_scores_.size()
                          ? *insert_scores_
                          : remainder.emplace(db_.prepare(
                                insert_rows_sql("customer_scores", kColumns, kColumnCount, pending_score_count_)));
  for (std::size_t row = 0; row < pending_score_count_; ++row) {
    const PendingScore& pending = pending_scores_[row];
    const int first = static_cast<int>(row) * kColumnCount;
    insert.bind(first + 1, pending.run_id).bind(first + 2, pending.customer_id);
    bind_optional(insert, first + 3, pending.score);
    for (std::size_t text = 0; text < PendingScore::kTexts; ++text) {
      bind_optional(insert, first + 4 + static_cast<int>(text),
                    pending.present[text] ? std::optional<std::string_view>(pending.texts[text]) : std::nullopt);
    }
    bind_optional(insert, first + 11, pending.purchases_per_year);
    bind_optional(insert, first + 12, pending.churn_probability);
  }
  insert.run();
  pending_score_count_ = 0;
}

void ScoreRunRepository::add_sort_key(const CustomerSortKeyRow& row) {
  if (held_sort_keys_.empty()) {
    held_bands_.clear();
  }
  held_sort_keys_run_ = row.run_id;
  std::int32_t band = -1;
  if (row.band) {
    const auto found = std::find(held_bands_.begin(), held_bands_.end(), *row.band);
    band = static_cast<std::int32_t>(found - held_bands_.begin());
    if (found == held_bands_.end()) {
      held_bands_.emplace_back(*row.band);
    }
  }
  // A NaN would break the sort's ordering (it compares equal to everything): no key, as SQL reads it.
  const auto finite = [](std::optional<double> key) { return key && std::isfinite(*key) ? key : std::nullopt; };
  held_sort_keys_.push_back(
      {row.customer_id, band, finite(row.score), finite(row.score_change), std::isfinite(row.value) ? row.value : 0.0});
}

// Each table is written in the order of its index, so every insert lands at the index's end. SQLite
// sorts NULL before any number and PostgreSQL after. Bands are compared byte by byte, as SQLite does;
// a PostgreSQL collation that orders configured band names otherwise only costs speed, not results.
void ScoreRunRepository::write_list_orders() {
  constexpr std::size_t kRowsPerInsert = 128;
  const bool nulls_first = db_.kind() == DatabaseKind::sqlite;
  std::vector<int> band_rank(held_bands_.size());
  {
    std::vector<int> by_name(held_bands_.size());
    std::iota(by_name.begin(), by_name.end(), 0);
    std::sort(by_name.begin(), by_name.end(), [&](int left, int right) {
      return held_bands_[static_cast<std::size_t>(left)] < held_bands_[static_cast<std::size_t>(right)];
    });
    for (std::size_t rank = 0; rank < by_name.size(); ++rank) {
      band_rank[static_cast<std::size_t>(by_name[rank])] = static_cast<int>(rank);
    }
  }
  const int no_band_rank = nulls_first ? -1 : static_cast<int>(held_bands_.size());
  const auto rank_of_band = [&](const HeldSortKey& key) {
    return key.band < 0 ? no_band_rank : band_rank[static_cast<std::size_t>(key.band)];
  };
  // -1, 0, 1 as `left` sorts before, with or after `right`.
  const auto compare_optional = [nulls_first](const std::optional<double>& left, const std::optional<double>& right) {
    if (!left || !right) {
      if (!left && !right) {
        return 0;
      }
      return (!left) == nulls_first ? -1 : 1;
    }
    return *left < *right ? -1 : (*left > *right ? 1 : 0);
  };
  std::vector<std::uint32_t> order(held_sort_keys_.size());
  const auto sort_by = [&](auto&& before) {
    std::iota(order.begin(), order.end(), 0U);
    std::sort(order.begin(), order.end(), [&](std::uint32_t left, std::uint32_t right) {
      return before(held_sort_keys_[left], held_sort_keys_[right]);
    });
  };
  const auto write = [&](const char* table, const char* key_column, auto&& key_of) {
    const std::optional<std::string_view> no_band;
    if (db_.kind() == DatabaseKind::postgresql) {
      postgresql::CopyIn copy(*db_.postgresql_connection(), table, {"run_id", "customer_id", "band", key_column});
      for (const std::uint32_t index : order) {
        const HeldSortKey& key = held_sort_keys_[index];
        copy.add_int64(held_sort_keys_run_);
        copy.add_int64(key.customer_id);
        if (key.band < 0) {
          copy.add_null();
        } else {
          copy.add_text(held_bands_[static_cast<std::size_t>(key.band)]);
        }
        copy_optional(copy, key_of(key), [&copy](double value) { copy.add_double(value); });
        copy.end_row();
      }
      copy.finish();
      return;
    }
    const std::string columns = fmt::format("run_id, customer_id, band, {}", key_column);
    const auto prepare_rows = [&](std::size_t rows) { return db_.prepare(insert_rows_sql(table, columns, 4, rows)); };
    Statement full = prepare_rows(std::min(order.size(), kRowsPerInsert));
    for (std::size_t begin = 0; begin < order.size(); begin += kRowsPerInsert) {
      const std::size_t rows = std::min(kRowsPerInsert, order.size() - begin);
      std::optional<Statement> last;
      Statement& insert = rows == kRowsPerInsert ? full : last.emplace(prepare_rows(rows));
      for (std::size_t row = 0; row < rows; ++row) {
        const HeldSortKey& key = held_sort_keys_[order[begin + row]];
        const int first = static_cast<int>(row * 4);
        insert.bind(first + 1, held_sort_keys_run_).bind(first + 2, key.customer_id);
        bind_optional(
            insert, first + 3,
            key.band < 0 ? no_band : std::optional<std::string_view>(held_bands_[static_cast<std::size_t>(key.band)]));
        bind_optional(insert, first + 4, key_of(key));
      }
      insert.run();
    }
  };
  // The bands split the scores into ranges, so the score order also appends to each band's part of
  // the (band, score) index.
  sort_by([&](const HeldSortKey& left, const HeldSortKey& right) {
    const int by_score = compare_optional(left.score, right.score);
    return by_score != 0 ? by_score < 0 : left.customer_id < right.customer_id;
  });
  write("run_list_by_score", "score", [](const HeldSortKey& key) { return key.score; });
  const auto by_band_then = [&](auto&& key_of) {
    return [&, key_of](const HeldSortKey& left, const HeldSortKey& right) {
      const int left_band = rank_of_band(left);
      const int right_band = rank_of_band(right);
      if (left_band != right_band) {
        return left_band < right_band;
      }
      const int by_key = compare_optional(key_of(left), key_of(right));
      return by_key != 0 ? by_key < 0 : left.customer_id < right.customer_id;
    };
  };
  const auto change_of = [](const HeldSortKey& key) { return key.score_change; };
  sort_by(by_band_then(change_of));
  write("run_list_by_change", "score_change", change_of);
  const auto value_of = [](const HeldSortKey& key) { return std::optional<double>(key.value); };
  sort_by(by_band_then(value_of));
  write("run_list_by_value", "value", value_of);
  held_sort_keys_ = {};
  held_bands_.clear();
}

void ScoreRunRepository::finish_run(std::int64_t run_id, std::int64_t finished_ms,
                                    const std::map<std::string, std::int64_t>& band_totals,
                                    const std::vector<BandChange>& changes) {
  if (copy_scores_) {
    copy_scores_->finish();
    copy_scores_.reset();
  }
  insert_pending_scores();
  // PostgreSQL: after the scores' COPY, as one connection carries one COPY at a time.
  if (!held_sort_keys_.empty()) {
    write_list_orders();
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
