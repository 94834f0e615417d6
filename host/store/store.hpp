#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/host_services.hpp"
#include "store/database.hpp"
#include "store/job_lock.hpp"
#include "store/sqlite/schema.hpp"
#include "store/store_error.hpp"

namespace crm::host {

struct QuarantineEntry {
  std::int64_t id = 0;
  std::string plugin_id;
  std::string raw_record;
  std::string reason;
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> reprocessed_ms;
};

// One row of connector_runs: the last run of a connector and what it did.
struct ConnectorRun {
  std::int64_t id = 0;
  std::string connector_id;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> finished_ms;
  std::string status;
  std::uint64_t fetched = 0;
  std::uint64_t inserted = 0;
  std::uint64_t updated = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t quarantined = 0;
  std::string cursor;
  std::string message;
};

// A row of runs or connector_runs that a process left 'running' when it was
// killed or crashed, now marked 'interrupted'.
struct InterruptedRun {
  std::string table;  // "runs" or "connector_runs"
  std::int64_t id = 0;
  std::string name;  // the command ("run") or the connector id
  std::int64_t started_ms = 0;
};

// One log line: how many runs were found interrupted, and which.
std::string describe_interrupted_runs(const std::vector<InterruptedRun>& runs);

// The customer store, in a SQLite file (the embedded default) or a
// PostgreSQL database. Schema versioned and migrated forward at open, each
// backend with its own migrations (host/store/sqlite/, host/store/postgresql/);
// a database newer than this binary is refused and left untouched.
class Store final : public PluginStateStore {
 public:
  static constexpr int kSchemaVersion = sqlite::kSchemaVersion;

  // A path or a "postgresql://" URL (DatabaseLocator::parse).
  explicit Store(const std::string& locator);
  explicit Store(const DatabaseLocator& locator);

  [[nodiscard]] int schema_version();
  [[nodiscard]] Database& database() { return db_; }

  std::int64_t begin_run(std::string_view command, std::int64_t now_ms);
  void finish_run(std::int64_t run_id, std::string_view status, std::string_view summary_json, std::int64_t now_ms);

  std::optional<std::string> read_checkpoint(std::string_view plugin_id) override;
  void write_checkpoint(std::string_view plugin_id, std::string_view cursor, std::int64_t now_ms) override;
  void quarantine(std::string_view plugin_id, std::string_view raw_record, std::string_view reason,
                  std::int64_t now_ms) override;
  std::optional<std::string> read_state(std::string_view plugin_id, std::string_view key) override;
  std::optional<std::string> next_state_key(std::string_view plugin_id, std::string_view after_key) override;
  void write_state(std::string_view plugin_id, std::string_view key, std::optional<std::string_view> value) override;
  // Every quarantined record of `plugin_id` (all plugins when empty); only the
  // ones not yet re-processed when `pending_only`.
  std::vector<QuarantineEntry> list_quarantine(std::string_view plugin_id = {}, bool pending_only = false);
  void mark_reprocessed(std::int64_t quarantine_id, std::int64_t now_ms);
  void set_quarantine_reason(std::int64_t quarantine_id, std::string_view reason);

  std::int64_t begin_connector_run(std::string_view connector_id, std::int64_t now_ms);
  void finish_connector_run(const ConnectorRun& run);
  std::optional<ConnectorRun> last_connector_run(std::string_view connector_id);

  // Marks every run and connector run still 'running' as 'interrupted' and
  // returns them. Only a job holding the store's lock may ask: the lock
  // proves no other process is running, so a row still 'running' belongs to
  // one that ended without finishing. Call it before starting runs of its own.
  std::vector<InterruptedRun> close_interrupted_runs(const JobLock& held, std::int64_t now_ms);

 private:
  // Host services may be called from a plugin's own threads; one connection, one writer at a time.
  std::mutex mutex_;
  Database db_;
};

// For a sync that may be a first import: on SQLite, when `orders` is empty, the
// indexes of sqlite::kBulkLoadIndexes (orders by customer) are dropped, and built
// once by finish() from the loaded rows. Filling them row by row lands each batch
// all over them (a first import of 1,000,000 orders spent most of its time there;
// BENCHMARKS.md). Each batch still commits on its own; if the process dies before
// finish(), the next Store to open the file builds the index again, and until then
// reads that would use it scan the table instead. Any other case (rows already
// there, PostgreSQL) drops nothing. Not thread-safe: use it on the connection
// that loads.
class BulkLoadIndexes {
 public:
  explicit BulkLoadIndexes(Database& db);
  BulkLoadIndexes(const BulkLoadIndexes&) = delete;
  BulkLoadIndexes& operator=(const BulkLoadIndexes&) = delete;
  // Builds what finish() did not; an error is left for the next open to mend.
  ~BulkLoadIndexes();

  // Builds the dropped indexes again (nothing when none was dropped). Throws DatabaseError.
  void finish();

 private:
  Database& db_;
  bool dropped_ = false;
};

}  // namespace crm::host
