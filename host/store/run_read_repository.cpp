#include "store/run_read_repository.hpp"

namespace crm::host {

namespace {

std::string text_or_empty(const Statement& row, int column) {
  return row.column_is_null(column) ? std::string() : row.column_text(column);
}

std::optional<std::int64_t> optional_int64(const Statement& row, int column) {
  return row.column_is_null(column) ? std::nullopt : std::optional<std::int64_t>(row.column_int64(column));
}

RunRow run_row(const Statement& query) {
  return {query.column_int64(0), query.column_text(1),     query.column_text(2),
          query.column_int64(3), optional_int64(query, 4), text_or_empty(query, 5)};
}

constexpr const char* kRunColumns = "SELECT id, command, status, started_ms, finished_ms, summary_json FROM runs ";

}  // namespace

std::vector<RunRow> RunReadRepository::runs(std::string_view kind, std::size_t limit) {
  // Two statements rather than "(?1 = '' OR command = ?1)": each is one index range (runs_by_command or the key).
  Statement query = kind.empty()
                        ? db_.prepare(std::string(kRunColumns) + "ORDER BY id DESC LIMIT ?1")
                        : db_.prepare(std::string(kRunColumns) + "WHERE command = ?2 ORDER BY id DESC LIMIT ?1");
  query.bind(1, static_cast<std::int64_t>(limit));
  if (!kind.empty()) {
    query.bind(2, kind);
  }
  std::vector<RunRow> rows;
  while (query.step()) {
    rows.push_back(run_row(query));
  }
  return rows;
}

std::optional<RunRow> RunReadRepository::run(std::int64_t id) {
  Statement query = db_.prepare(std::string(kRunColumns) + "WHERE id = ?1");
  query.bind(1, id);
  return query.step() ? std::optional<RunRow>(run_row(query)) : std::nullopt;
}

std::vector<ScoreRunRow> RunReadRepository::score_runs(std::size_t limit) {
  Statement query = db_.prepare(
      "SELECT id, as_of_ms, started_ms, finished_ms, primary_scorer, scorers_json, customer_count FROM score_runs "
      "ORDER BY id DESC LIMIT ?1");
  query.bind(1, static_cast<std::int64_t>(limit));
  std::vector<ScoreRunRow> rows;
  while (query.step()) {
    ScoreRunRow& row = rows.emplace_back();
    row.id = query.column_int64(0);
    row.as_of_ms = query.column_int64(1);
    row.started_ms = query.column_int64(2);
    row.finished_ms = optional_int64(query, 3);
    row.primary_scorer = text_or_empty(query, 4);
    row.scorers_json = text_or_empty(query, 5);
    row.customer_count = query.column_int64(6);
  }
  // Counted on the narrow score order (migration 17); a run written without it, on its rows.
  Statement bands = db_.prepare(
      "SELECT band, count(*) FROM run_list_by_score WHERE run_id = ?1 AND band IS NOT NULL GROUP BY band UNION ALL "
      "SELECT band, count(*) FROM customer_scores WHERE run_id = ?1 AND band IS NOT NULL AND NOT EXISTS (SELECT 1 "
      "FROM run_list_by_score WHERE run_id = ?1) GROUP BY band ORDER BY 1");
  for (ScoreRunRow& row : rows) {
    bands.bind(1, row.id);
    while (bands.step()) {
      row.bands[bands.column_text(0)] = bands.column_int64(1);
    }
    bands.reset();
  }
  return rows;
}

std::int64_t RunReadRepository::pending_quarantine(std::string_view plugin_id) {
  Statement query = db_.prepare("SELECT count(*) FROM quarantine WHERE plugin_id = ?1 AND reprocessed_ms IS NULL");
  query.bind(1, plugin_id);
  return query.step() ? query.column_int64(0) : 0;
}

}  // namespace crm::host
