#include "store/score_run_repository.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <future>
#include <numeric>
#include <utility>

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
// Each order sorts a packed copy of the keys it needs: sorting indices into the held keys made every
// comparison and every written row a cache miss, which cost more than the sort itself.
void ScoreRunRepository::write_list_orders() {
  constexpr std::size_t kRowsPerInsert = 128;
  const bool nulls_first = db_.kind() == DatabaseKind::sqlite;
  std::vector<std::int32_t> band_rank(held_bands_.size());
  {
    std::vector<std::int32_t> by_name(held_bands_.size());
    std::iota(by_name.begin(), by_name.end(), 0);
    std::sort(by_name.begin(), by_name.end(), [&](std::int32_t left, std::int32_t right) {
      return held_bands_[static_cast<std::size_t>(left)] < held_bands_[static_cast<std::size_t>(right)];
    });
    for (std::size_t rank = 0; rank < by_name.size(); ++rank) {
      band_rank[static_cast<std::size_t>(by_name[rank])] = static_cast<std::int32_t>(rank);
    }
  }
  const std::int32_t no_band_rank = nulls_first ? -1 : static_cast<std::int32_t>(held_bands_.size());
  // One row of a list order, its sort position spelled out: (band_rank, key_class, key, customer_id).
  struct ListEntry {
    std::int32_t band_rank = 0;
    std::int32_t key_class = 0;  // 0: a key; -1 or 1: NULL, before or after every key
    double key = 0;              // 0 when NULL
    std::int64_t customer_id = 0;
    std::int32_t band = -1;  // index into held_bands_; -1: none
  };
  const auto sorted_entries = [&](bool by_band, auto&& key_of) {
    std::vector<ListEntry> entries(held_sort_keys_.size());
    for (std::size_t index = 0; index < held_sort_keys_.size(); ++index) {
      const HeldSortKey& held = held_sort_keys_[index];
      const std::optional<double> key = key_of(held);
      const std::int32_t rank =
          !by_band ? 0 : (held.band < 0 ? no_band_rank : band_rank[static_cast<std::size_t>(held.band)]);
      entries[index] = {rank, key ? 0 : (nulls_first ? -1 : 1), key.value_or(0.0), held.customer_id, held.band};
    }
    std::sort(entries.begin(), entries.end(), [](const ListEntry& left, const ListEntry& right) {
      if (left.band_rank != right.band_rank) {
        return left.band_rank < right.band_rank;
      }
      if (left.key_class != right.key_class) {
        return left.key_class < right.key_class;
      }
      if (left.key != right.key) {
        return left.key < right.key;
      }
      return left.customer_id < right.customer_id;
    });
    return entries;
  };
  const auto write = [&](const char* table, const char* key_column, const std::vector<ListEntry>& entries) {
    const std::optional<std::string_view> no_band;
    const auto band_of = [&](const ListEntry& entry) {
      return entry.band < 0 ? no_band
                            : std::optional<std::string_view>(held_bands_[static_cast<std::size_t>(entry.band)]);
    };
    const auto key_of = [](const ListEntry& entry) {
      return entry.key_class == 0 ? std::optional<double>(entry.key) : std::nullopt;
    };
    if (db_.kind() == DatabaseKind::postgresql) {
      postgresql::CopyIn copy(*db_.postgresql_connection(), table, {"run_id", "customer_id", "band", key_column});
      for (const ListEntry& entry : entries) {
        copy.add_int64(held_sort_keys_run_);
        copy.add_int64(entry.customer_id);
        copy_optional(copy, band_of(entry), [&copy](std::string_view band) { copy.add_text(band); });
        copy_optional(copy, key_of(entry), [&copy](double value) { copy.add_double(value); });
        copy.end_row();
      }
      copy.finish();
      return;
    }
    const std::string columns = fmt::format("run_id, customer_id, band, {}", key_column);
    const auto prepare_rows = [&](std::size_t rows) { return db_.prepare(insert_rows_sql(table, columns, 4, rows)); };
    Statement full = prepare_rows(std::min(entries.size(), kRowsPerInsert));
    for (std::size_t begin = 0; begin < entries.size(); begin += kRowsPerInsert) {
      const std::size_t rows = std::min(kRowsPerInsert, entries.size() - begin);
      std::optional<Statement> last;
      Statement& insert = rows == kRowsPerInsert ? full : last.emplace(prepare_rows(rows));
      for (std::size_t row = 0; row < rows; ++row) {
        const ListEntry& entry = entries[begin + row];
        const int first = static_cast<int>(row * 4);
        insert.bind(first + 1, held_sort_keys_run_).bind(first + 2, entry.customer_id);
        bind_optional(insert, first + 3, band_of(entry));
        bind_optional(insert, first + 4, key_of(entry));
      }
      insert.run();
    }
  };
  // The other two orders are sorted on a second core while the first is written; the held keys
  // are only read until then.
  auto other_orders = std::async(std::launch::async, [&] {
    return std::pair(sorted_entries(true, [](const HeldSortKey& key) { return key.score_change; }),
                     sorted_entries(true, [](const HeldSortKey& key) { return std::optional<double>(key.value); }));
  });
  // The bands split the scores into ranges, so the score order also appends to each band's part of
  // the (band, score) index.
  write("run_list_by_score", "score", sorted_entries(false, [](const HeldSortKey& key) { return key.score; }));
  const auto [by_change, by_value] = other_orders.get();
  write("run_list_by_change", "score_change", by_change);
  write("run_list_by_value", "value", by_value);
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
