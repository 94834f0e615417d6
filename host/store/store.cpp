#include "store/store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <map>
#include <vector>

#include "store/postgresql/schema.hpp"

namespace crm::host {
namespace {

void refuse_unusable(Database& db) {
  if (db.kind() == DatabaseKind::postgresql) {
    postgresql::refuse_unusable(db);
  } else {
    sqlite::refuse_unusable(db);
  }
}

}  // namespace

Store::Store(const std::string& locator) : Store(DatabaseLocator::parse(locator)) {}

Store::Store(const DatabaseLocator& locator) : db_(locator, refuse_unusable) {
  if (db_.kind() == DatabaseKind::postgresql) {
    postgresql::migrate(db_);
  } else {
    sqlite::migrate(db_);
  }
}

int Store::schema_version() {
  return db_.kind() == DatabaseKind::postgresql ? postgresql::schema_version(db_) : sqlite::schema_version(db_);
}

std::int64_t Store::begin_run(std::string_view command, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  Statement insert = db_.prepare("INSERT INTO runs(command, started_ms) VALUES (?1, ?2) RETURNING id");
  insert.bind(1, command).bind(2, now_ms).step();
  return insert.column_int64(0);
}

void Store::finish_run(std::int64_t run_id, std::string_view status, std::string_view summary_json,
                       std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  db_.prepare("UPDATE runs SET finished_ms = ?, status = ?, summary_json = ? WHERE id = ?")
      .bind(1, now_ms)
      .bind(2, status)
      .bind(3, summary_json)
      .bind(4, run_id)
      .run();
}

std::optional<std::string> Store::read_checkpoint(std::string_view plugin_id) {
  const std::lock_guard lock(mutex_);
  Statement statement = db_.prepare("SELECT cursor FROM plugin_checkpoints WHERE plugin_id = ?");
  statement.bind(1, plugin_id);
  if (!statement.step()) {
    return std::nullopt;
  }
  return statement.column_text(0);
}

void Store::write_checkpoint(std::string_view plugin_id, std::string_view cursor, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  db_.prepare(
         "INSERT INTO plugin_checkpoints(plugin_id, cursor, updated_ms) VALUES (?, ?, ?) "
         "ON CONFLICT(plugin_id) DO UPDATE SET cursor = excluded.cursor, updated_ms = excluded.updated_ms")
      .bind(1, plugin_id)
      .bind(2, cursor)
      .bind(3, now_ms)
      .run();
}

void Store::quarantine(std::string_view plugin_id, std::string_view raw_record, std::string_view reason,
                       std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  db_.prepare("INSERT INTO quarantine(plugin_id, raw_record, reason, created_ms) VALUES (?, ?, ?, ?)")
      .bind(1, plugin_id)
      .bind_bytes(2, raw_record)
      .bind(3, reason)
      .bind(4, now_ms)
      .run();
}

std::optional<std::string> Store::read_state(std::string_view plugin_id, std::string_view key) {
  const std::lock_guard lock(mutex_);
  Statement statement = db_.prepare("SELECT value FROM plugin_state WHERE plugin_id = ?1 AND state_key = ?2");
  statement.bind(1, plugin_id).bind_bytes(2, key);
  if (!statement.step()) {
    return std::nullopt;
  }
  return statement.column_text(0);
}

std::optional<std::string> Store::next_state_key(std::string_view plugin_id, std::string_view after_key) {
  const std::lock_guard lock(mutex_);
  Statement statement = db_.prepare(
      "SELECT state_key FROM plugin_state WHERE plugin_id = ?1 AND state_key > ?2 ORDER BY state_key LIMIT 1");
  statement.bind(1, plugin_id).bind_bytes(2, after_key);
  if (!statement.step()) {
    return std::nullopt;
  }
  return statement.column_text(0);
}

void Store::write_state(std::string_view plugin_id, std::string_view key, std::optional<std::string_view> value) {
  const std::lock_guard lock(mutex_);
  if (!value) {
    db_.prepare("DELETE FROM plugin_state WHERE plugin_id = ?1 AND state_key = ?2")
        .bind(1, plugin_id)
        .bind_bytes(2, key)
        .run();
    return;
  }
  db_.prepare(
         "INSERT INTO plugin_state(plugin_id, state_key, value) VALUES (?1, ?2, ?3) "
         "ON CONFLICT(plugin_id, state_key) DO UPDATE SET value = excluded.value")
      .bind(1, plugin_id)
      .bind_bytes(2, key)
      .bind_bytes(3, *value)
      .run();
}

std::vector<QuarantineEntry> Store::list_quarantine(std::string_view plugin_id, bool pending_only) {
  const std::lock_guard lock(mutex_);
  Statement statement = db_.prepare(
      "SELECT id, plugin_id, raw_record, reason, created_ms, reprocessed_ms FROM quarantine "
      "WHERE (?1 = '' OR plugin_id = ?1) AND (?2 = 0 OR reprocessed_ms IS NULL) ORDER BY id");
  statement.bind(1, plugin_id).bind(2, static_cast<std::int64_t>(pending_only ? 1 : 0));
  std::vector<QuarantineEntry> entries;
  while (statement.step()) {
    QuarantineEntry entry{statement.column_int64(0), statement.column_text(1),  statement.column_text(2),
                          statement.column_text(3),  statement.column_int64(4), std::nullopt};
    if (!statement.column_is_null(5)) {
      entry.reprocessed_ms = statement.column_int64(5);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

void Store::mark_reprocessed(std::int64_t quarantine_id, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  db_.prepare("UPDATE quarantine SET reprocessed_ms = ?2 WHERE id = ?1").bind(1, quarantine_id).bind(2, now_ms).run();
}

void Store::set_quarantine_reason(std::int64_t quarantine_id, std::string_view reason) {
  const std::lock_guard lock(mutex_);
  db_.prepare("UPDATE quarantine SET reason = ?2 WHERE id = ?1").bind(1, quarantine_id).bind(2, reason).run();
}

std::int64_t Store::begin_connector_run(std::string_view connector_id, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  Statement insert = db_.prepare(
      "INSERT INTO connector_runs (connector_id, started_ms, status) VALUES (?1, ?2, 'running') RETURNING id");
  insert.bind(1, connector_id).bind(2, now_ms).step();
  return insert.column_int64(0);
}

void Store::finish_connector_run(const ConnectorRun& run) {
  const std::lock_guard lock(mutex_);
  db_.prepare(
         "UPDATE connector_runs SET finished_ms = ?2, status = ?3, fetched = ?4, inserted = ?5, updated = ?6, "
         "unchanged = ?7, quarantined = ?8, cursor = ?9, message = ?10 WHERE id = ?1")
      .bind(1, run.id)
      .bind(2, run.finished_ms.value_or(0))
      .bind(3, run.status)
      .bind(4, static_cast<std::int64_t>(run.fetched))
      .bind(5, static_cast<std::int64_t>(run.inserted))
      .bind(6, static_cast<std::int64_t>(run.updated))
      .bind(7, static_cast<std::int64_t>(run.unchanged))
      .bind(8, static_cast<std::int64_t>(run.quarantined))
      .bind(9, run.cursor)
      .bind(10, run.message)
      .run();
}

std::optional<ConnectorRun> Store::last_connector_run(std::string_view connector_id) {
  const std::lock_guard lock(mutex_);
  Statement statement = db_.prepare(
      "SELECT id, connector_id, started_ms, finished_ms, status, fetched, inserted, updated, unchanged, quarantined, "
      "coalesce(cursor, ''), coalesce(message, '') FROM connector_runs WHERE connector_id = ?1 ORDER BY id DESC "
      "LIMIT 1");
  statement.bind(1, connector_id);
  if (!statement.step()) {
    return std::nullopt;
  }
  ConnectorRun run;
  run.id = statement.column_int64(0);
  run.connector_id = statement.column_text(1);
  run.started_ms = statement.column_int64(2);
  if (!statement.column_is_null(3)) {
    run.finished_ms = statement.column_int64(3);
  }
  run.status = statement.column_text(4);
  run.fetched = static_cast<std::uint64_t>(statement.column_int64(5));
  run.inserted = static_cast<std::uint64_t>(statement.column_int64(6));
  run.updated = static_cast<std::uint64_t>(statement.column_int64(7));
  run.unchanged = static_cast<std::uint64_t>(statement.column_int64(8));
  run.quarantined = static_cast<std::uint64_t>(statement.column_int64(9));
  run.cursor = statement.column_text(10);
  run.message = statement.column_text(11);
  return run;
}

std::vector<InterruptedRun> Store::close_interrupted_runs(const JobLock& /*held*/, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  std::vector<InterruptedRun> runs;
  Transaction transaction(db_);
  Statement found = db_.prepare(
      "SELECT 'runs', id, command, started_ms FROM runs WHERE status = 'running' UNION ALL "
      "SELECT 'connector_runs', id, connector_id, started_ms FROM connector_runs WHERE status = 'running' "
      "ORDER BY 4, 1 DESC, 2");
  while (found.step()) {
    runs.push_back({found.column_text(0), found.column_int64(1), found.column_text(2), found.column_int64(3)});
  }
  // finished_ms stays empty: when the process died is unknown.
  db_.prepare("UPDATE runs SET status = 'interrupted' WHERE status = 'running'").run();
  const std::chrono::sys_seconds now{std::chrono::seconds{now_ms / 1000}};
  db_.prepare("UPDATE connector_runs SET status = 'interrupted', message = ?1 WHERE status = 'running'")
      .bind(1, fmt::format("the process ended before the run finished (killed or crashed); found by the next job at "
                           "{:%Y-%m-%d %H:%M:%S} UTC",
                           now))
      .run();
  transaction.commit();
  return runs;
}

std::string describe_interrupted_runs(const std::vector<InterruptedRun>& runs) {
  std::string listed;
  for (const InterruptedRun& run : runs) {
    const std::chrono::sys_seconds started{std::chrono::seconds{run.started_ms / 1000}};
    listed += fmt::format("{}{} {} ({}, started {:%Y-%m-%d %H:%M:%S} UTC)", listed.empty() ? "" : ", ",
                          run.table == "runs" ? "run" : "connector run", run.id, run.name, started);
  }
  return fmt::format(
      "{} {} left 'running' by a crmhost that ended without finishing (killed or crashed), now marked "
      "interrupted: {}",
      runs.size(), runs.size() == 1 ? "run was" : "runs were", listed);
}

BulkLoadIndexes::BulkLoadIndexes(Database& db) : db_(db) {
  if (db_.kind() != DatabaseKind::sqlite || db_.prepare("SELECT 1 FROM orders LIMIT 1").step()) {
    return;
  }
  Transaction transaction(db_);
  for (const std::string_view name : sqlite::kBulkLoadIndexes) {
    db_.exec(fmt::format("DROP INDEX IF EXISTS {}", name));
  }
  transaction.commit();
  dropped_ = true;
}

BulkLoadIndexes::~BulkLoadIndexes() {
  try {
    finish();
  } catch (const DatabaseError&) {  // NOLINT(bugprone-empty-catch): the next Store to open the file builds it
  }
}

void BulkLoadIndexes::finish() {
  if (!dropped_) {
    return;
  }
  sqlite::restore_bulk_load_indexes(db_);
  dropped_ = false;
}

}  // namespace crm::host
