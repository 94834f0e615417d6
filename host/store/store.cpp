#include "store/store.hpp"

#include <array>
#include <fmt/format.h>

namespace crm::host {
namespace {

// 'CRM1': marks a file as a crmhost database, so that another application's
// SQLite file is never migrated by mistake.
constexpr std::int64_t kApplicationId = 0x43524D31;

// Migration N takes the schema from version N-1 to N. Append only.
constexpr std::array<const char*, 1> kMigrations = {
    R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  command TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  status TEXT NOT NULL DEFAULT 'running',
  summary_json TEXT
);
CREATE TABLE plugin_checkpoints (
  plugin_id TEXT PRIMARY KEY,
  cursor TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY,
  plugin_id TEXT NOT NULL,
  raw_record TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  reprocessed_ms INTEGER
);
CREATE INDEX quarantine_by_plugin ON quarantine(plugin_id, id);
)sql"};

static_assert(kMigrations.size() == Store::kSchemaVersion, "one migration per schema version");

std::int64_t pragma_value(Database& db, std::string_view pragma) {
  Statement statement = db.prepare(fmt::format("PRAGMA {}", pragma));
  return statement.step() ? statement.column_int64(0) : 0;
}

}  // namespace

Store::Store(const std::string& path) : db_(path) {
  migrate();
}

int Store::schema_version() {
  return static_cast<int>(pragma_value(db_, "user_version"));
}

void Store::migrate() {
  const std::int64_t application_id = pragma_value(db_, "application_id");
  const int version = schema_version();
  if (application_id != 0 && application_id != kApplicationId) {
    throw StoreError(
        fmt::format("{} belongs to another application (application_id {}); give --db a crmhost "
                    "database or a new file",
                    db_.path(), application_id));
  }
  if (version > kSchemaVersion) {
    throw StoreError(
        fmt::format("{} has schema version {}, newer than this crmhost knows ({}); use a newer crmhost. "
                    "The database was not modified",
                    db_.path(), version, kSchemaVersion));
  }
  if (version == kSchemaVersion) {
    return;
  }
  if (application_id == 0 && version == 0) {
    Statement tables = db_.prepare("SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'");
    if (tables.step() && tables.column_int64(0) > 0) {
      throw StoreError(
          fmt::format("{} already holds tables of another application; give --db a crmhost database "
                      "or a new file",
                      db_.path()));
    }
  }
  Transaction transaction(db_);
  for (int next = version + 1; next <= kSchemaVersion; ++next) {
    db_.exec(kMigrations[static_cast<std::size_t>(next - 1)]);
  }
  db_.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};", kApplicationId, kSchemaVersion));
  transaction.commit();
}

std::int64_t Store::begin_run(std::string_view command, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  db_.prepare("INSERT INTO runs(command, started_ms) VALUES (?, ?)").bind(1, command).bind(2, now_ms).run();
  return db_.last_insert_rowid();
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
      .bind(2, raw_record)
      .bind(3, reason)
      .bind(4, now_ms)
      .run();
}

std::vector<QuarantineEntry> Store::list_quarantine(std::string_view plugin_id) {
  const std::lock_guard lock(mutex_);
  Statement statement = db_.prepare(
      "SELECT id, plugin_id, raw_record, reason, created_ms FROM quarantine "
      "WHERE ?1 = '' OR plugin_id = ?1 ORDER BY id");
  statement.bind(1, plugin_id);
  std::vector<QuarantineEntry> entries;
  while (statement.step()) {
    entries.push_back({statement.column_int64(0), statement.column_text(1), statement.column_text(2),
                       statement.column_text(3), statement.column_int64(4)});
  }
  return entries;
}

}  // namespace crm::host
