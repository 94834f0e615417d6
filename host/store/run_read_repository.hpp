#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One row of `runs`: a job the host ran (run, sync, score, ...).
struct RunRow {
  std::int64_t id = 0;
  std::string kind;  // the command that ran it
  std::string status;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> finished_ms;
  std::string summary_json;  // "" while running or when none was stored
};

// One scoring run with how many of its customers fell in each band.
struct ScoreRunRow {
  std::int64_t id = 0;
  std::int64_t as_of_ms = 0;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> finished_ms;
  std::string primary_scorer;
  std::string scorers_json;  // {"scorer": "version[+model id]"}
  std::int64_t customer_count = 0;
  std::map<std::string, std::int64_t> bands;  // customers without a band are not counted
};

// Reads of the host's own records: job runs, scoring runs, connector
// quarantine counts. Owns no state beyond the Database, which must outlive it.
class RunReadRepository {
 public:
  explicit RunReadRepository(Database& db) : db_(db) {}

  // Newest first; only runs of `kind` when it is not empty.
  std::vector<RunRow> runs(std::string_view kind, std::size_t limit);
  std::optional<RunRow> run(std::int64_t id);
  // Newest first, each with its band counts (one index range per run).
  std::vector<ScoreRunRow> score_runs(std::size_t limit);
  // Quarantined records of `plugin_id` not re-processed yet.
  std::int64_t pending_quarantine(std::string_view plugin_id);

 private:
  Database& db_;
};

}  // namespace crm::host
