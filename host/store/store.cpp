#include "store/store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <map>
#include <vector>

namespace crm::host {
namespace {

// 'CRM1': marks a file as a crmhost database, so that another application's
// SQLite file is never migrated by mistake.
constexpr std::int64_t kApplicationId = 0x43524D31;

// Migration N takes the schema from version N-1 to N. Append only.
constexpr std::array<const char*, 7> kMigrations = {
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
)sql",
    // 2: the 360-degree customer view. Every row is keyed by (source, external_id),
    // source being the connector id, so that a re-sync updates instead of duplicating.
    // The high-volume tables (orders, activities, interactions) are WITHOUT ROWID,
    // keyed by that pair: one B-tree per insert instead of a table and an index.
    R"sql(
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  unified_id INTEGER,
  name TEXT,
  tax_id TEXT,
  email_domain TEXT,
  country TEXT,
  industry TEXT,
  created_at_ms INTEGER,
  is_placeholder INTEGER NOT NULL DEFAULT 0,
  UNIQUE (source, external_id)
);
CREATE INDEX customers_by_tax_id ON customers(tax_id) WHERE tax_id IS NOT NULL;
CREATE INDEX customers_by_email_domain ON customers(email_domain) WHERE email_domain IS NOT NULL;
CREATE INDEX customers_by_name ON customers(lower(name)) WHERE name IS NOT NULL;
CREATE INDEX customers_by_unified_id ON customers(unified_id);
CREATE TABLE contacts (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  name TEXT, email TEXT, phone TEXT, role TEXT, owner TEXT,
  is_key_contact INTEGER,
  left_at_ms INTEGER,
  UNIQUE (source, external_id)
);
CREATE TABLE orders (
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  ordered_at_ms INTEGER,
  amount REAL,
  currency TEXT,
  product_line TEXT,
  quantity REAL,
  status TEXT,
  PRIMARY KEY (source, external_id)
) WITHOUT ROWID;
CREATE TABLE payments (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  order_external_id TEXT,
  amount REAL,
  due_at_ms INTEGER,
  paid_at_ms INTEGER,
  UNIQUE (source, external_id)
);
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  opened_at_ms INTEGER,
  first_response_at_ms INTEGER,
  resolved_at_ms INTEGER,
  category TEXT,
  subject TEXT,
  is_complaint INTEGER,
  UNIQUE (source, external_id)
);
CREATE TABLE surveys (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  answered_at_ms INTEGER,
  kind TEXT CHECK (kind IN ('csat', 'nps')),
  score REAL,
  UNIQUE (source, external_id)
);
CREATE TABLE activities (
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  contact_external_id TEXT,
  occurred_at_ms INTEGER,
  kind TEXT,
  detail TEXT,
  PRIMARY KEY (source, external_id)
) WITHOUT ROWID;
CREATE TABLE interactions (
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  contact_external_id TEXT,
  occurred_at_ms INTEGER,
  channel TEXT,
  direction TEXT CHECK (direction IN ('inbound', 'outbound')),
  subject TEXT,
  keywords TEXT,
  is_complaint INTEGER,
  PRIMARY KEY (source, external_id)
) WITHOUT ROWID;
CREATE TABLE customer_attributes (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  customer_id INTEGER REFERENCES customers(id),
  name TEXT NOT NULL,
  value TEXT,
  UNIQUE (source, external_id)
);
CREATE TABLE connector_runs (
  id INTEGER PRIMARY KEY,
  connector_id TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  status TEXT NOT NULL,
  fetched INTEGER NOT NULL DEFAULT 0,
  inserted INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0,
  quarantined INTEGER NOT NULL DEFAULT 0,
  cursor TEXT,
  message TEXT
);
)sql",
    // 3: scoring history. One row per customer and run, so "band changed since
    // the last run" and trends are joins on the primary key; models keep every
    // trained version with its training date.
    R"sql(
CREATE TABLE score_runs (
  id INTEGER PRIMARY KEY,
  as_of_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  primary_scorer TEXT,
  scorers_json TEXT,
  customer_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE customer_scores (
  run_id INTEGER NOT NULL REFERENCES score_runs(id),
  customer_id INTEGER NOT NULL,
  score REAL,
  band TEXT,
  tier TEXT,
  stage TEXT,
  abc_class TEXT,
  reasons TEXT,
  scores_json TEXT,
  explain_json TEXT,
  PRIMARY KEY (run_id, customer_id)
) WITHOUT ROWID;
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  scorer_id TEXT NOT NULL,
  scorer_version TEXT NOT NULL,
  trained_ms INTEGER NOT NULL,
  as_of_ms INTEGER NOT NULL,
  horizon_days INTEGER NOT NULL,
  customer_count INTEGER NOT NULL,
  model BLOB NOT NULL
);
CREATE INDEX models_by_scorer ON models(scorer_id, id);
)sql",
    // 4: alerts and their delivery. An alert is identified by (customer, reason)
    // while it is not resolved; every notification goes through the outbox,
    // written before it is sent and marked after.
    R"sql(
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL,
  reason TEXT NOT NULL,
  level TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  title TEXT,
  detail TEXT,
  opened_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  last_notified_ms INTEGER,
  deadline_ms INTEGER,
  escalation_level INTEGER NOT NULL DEFAULT 0,
  escalated_ms INTEGER,
  acked_by TEXT,
  acked_ms INTEGER,
  resolved_by TEXT,
  resolved_ms INTEGER,
  resolution_note TEXT
);
CREATE UNIQUE INDEX alerts_active ON alerts(customer_id, reason) WHERE state != 'resolved';
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER REFERENCES alerts(id),
  channel_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  notification TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT,
  created_ms INTEGER NOT NULL,
  sent_ms INTEGER
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_ms);
CREATE INDEX outbox_sent_by_channel ON outbox(channel_id, sent_ms) WHERE state = 'sent';
)sql",
    // 5: digests. Notifications of one group (a route's digest window, or
    // those held by a recipient cap) share group_key and become due together;
    // digest_key is written before a digest is sent, so a retried digest is
    // the same message with the same members.
    R"sql(
ALTER TABLE outbox ADD COLUMN group_key TEXT;
ALTER TABLE outbox ADD COLUMN digest_key TEXT;
CREATE INDEX outbox_pending_group ON outbox(group_key) WHERE state = 'pending' AND group_key IS NOT NULL;
CREATE INDEX outbox_by_alert ON outbox(alert_id);
-- What routes match on besides level and reason, kept for escalation and resolution:
-- tier, abc_class, stage, industry, account_manager (JSON object of strings).
ALTER TABLE alerts ADD COLUMN labels TEXT;
-- When the one reminder for a missed first response (15 min) or closed loop (24 h) went out.
ALTER TABLE alerts ADD COLUMN first_response_reminded_ms INTEGER;
ALTER TABLE alerts ADD COLUMN close_loop_reminded_ms INTEGER;
)sql",
    // 6: win-back. Lost customers with their churn date, evidence, reason
    // (proposed by rules, confirmed by a person), "5 Why" chain and value;
    // campaigns (one per playbook version) and their enrolments, each with its
    // step, state and what it cost; every executed step (unique per
    // enrolment and sequence, so a re-run cannot execute it twice); tasks for
    // owners; the do-not-contact list; mass-churn events; the revival pool.
    R"sql(
-- A scorer's estimate of a customer's purchases in a year while a customer (BG/NBD), for the win-back value.
ALTER TABLE customer_scores ADD COLUMN purchases_per_year REAL;
CREATE TABLE lost_customers (
  customer_id INTEGER PRIMARY KEY,
  churn_date_ms INTEGER NOT NULL,
  detected_ms INTEGER NOT NULL,
  method TEXT NOT NULL CHECK (method IN ('silence', 'contract_end', 'mark')),
  evidence TEXT NOT NULL,
  reason TEXT,
  reason_source TEXT CHECK (reason_source IN ('rule', 'person')),
  reason_evidence TEXT,
  reason_note TEXT,
  reason_by TEXT,
  why_chain TEXT NOT NULL DEFAULT '[]',
  expected_value REAL,
  abc_class TEXT,
  eligible INTEGER NOT NULL DEFAULT 0,
  exclusion TEXT,
  mass_churn_event INTEGER,
  recovered_ms INTEGER
);
CREATE TABLE do_not_contact (
  customer_id INTEGER PRIMARY KEY,
  reason TEXT NOT NULL,
  added_by TEXT,
  added_ms INTEGER NOT NULL
);
CREATE TABLE mass_churn_events (
  id INTEGER PRIMARY KEY,
  reason TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  lost_count INTEGER NOT NULL,
  rate REAL NOT NULL,
  alert_id INTEGER,
  UNIQUE (reason, period_start_ms)
);
CREATE TABLE campaigns (
  id INTEGER PRIMARY KEY,
  playbook_id TEXT NOT NULL,
  playbook_version INTEGER NOT NULL,
  playbook TEXT NOT NULL,
  holdout_fraction REAL NOT NULL,
  budget REAL,
  spent REAL NOT NULL DEFAULT 0,
  recovery_window_days INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (playbook_id, playbook_version)
);
CREATE TABLE enrolments (
  id INTEGER PRIMARY KEY,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  customer_id INTEGER NOT NULL,
  holdout INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'holdout', 'completed', 'converted', 'exited')),
  step_index INTEGER NOT NULL DEFAULT 0,
  steps_done INTEGER NOT NULL DEFAULT 0,
  next_step_ms INTEGER NOT NULL,
  enrolled_ms INTEGER NOT NULL,
  last_contact_ms INTEGER,
  contacted INTEGER NOT NULL DEFAULT 0,
  cost REAL NOT NULL DEFAULT 0,
  ended_ms INTEGER,
  exit_reason TEXT,
  UNIQUE (campaign_id, customer_id)
);
CREATE INDEX enrolments_due ON enrolments(next_step_ms) WHERE state = 'active';
CREATE INDEX enrolments_by_customer ON enrolments(customer_id);
CREATE TABLE enrolment_steps (
  enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
  sequence INTEGER NOT NULL,
  step_index INTEGER NOT NULL,
  kind TEXT NOT NULL,
  executed_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  PRIMARY KEY (enrolment_id, sequence)
) WITHOUT ROWID;
CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  enrolment_id INTEGER REFERENCES enrolments(id),
  customer_id INTEGER NOT NULL,
  owner TEXT NOT NULL,
  title TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  due_ms INTEGER,
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done'))
);
CREATE TABLE revival_pool (
  customer_id INTEGER PRIMARY KEY,
  joined_ms INTEGER NOT NULL,
  last_touch_ms INTEGER,
  touches INTEGER NOT NULL DEFAULT 0
);
)sql",
    // 7: a task the playbooks created is closed by its owner with what came
    // of it (the senior person's dialogue, the competitor analysis).
    R"sql(
ALTER TABLE tasks ADD COLUMN done_ms INTEGER;
ALTER TABLE tasks ADD COLUMN done_by TEXT;
ALTER TABLE tasks ADD COLUMN outcome TEXT;
)sql"};

static_assert(kMigrations.size() == Store::kSchemaVersion, "one migration per schema version");

std::int64_t pragma_value(Database& db, std::string_view pragma) {
  Statement statement = db.prepare(fmt::format("PRAGMA {}", pragma));
  return statement.step() ? statement.column_int64(0) : 0;
}

// Every table, column and named index of a database ("table runs", "column
// runs.status", "index alerts_active"), each with the table it belongs to.
std::map<std::string, std::string> schema_objects(Database& db) {
  Statement statement = db.prepare(
      "SELECT 'table ' || name, name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
      "UNION ALL SELECT 'column ' || m.name || '.' || p.name, m.name FROM sqlite_schema m, "
      "pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' "
      "UNION ALL SELECT 'index ' || name, tbl_name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL");
  std::map<std::string, std::string> objects;
  while (statement.step()) {
    objects.emplace(statement.column_text(0), statement.column_text(1));
  }
  return objects;
}

// What the migrations make, read from a scratch database once per process, so
// the check can never drift from the migrations.
const std::map<std::string, std::string>& expected_schema_objects() {
  static const std::map<std::string, std::string> expected = [] {
    Database scratch(":memory:");
    for (const char* migration : kMigrations) {
      scratch.exec(migration);
    }
    return schema_objects(scratch);
  }();
  return expected;
}

// A table, column or index the code relies on and the file lacks would fail a
// statement half-way through a job; name it before anything runs.
void require_complete_schema(Database& db) {
  const std::map<std::string, std::string> present = schema_objects(db);
  std::vector<std::string> missing;
  for (const auto& [object, table] : expected_schema_objects()) {
    // A missing table is named once, not once more with each of its columns and indexes.
    const bool table_missing = present.count("table " + table) == 0;
    if (present.count(object) == 0 && (!table_missing || object.starts_with("table "))) {
      missing.push_back(object);
    }
  }
  if (missing.empty()) {
    return;
  }
  constexpr std::size_t kNamed = 5;
  std::string named;
  for (std::size_t i = 0; i < std::min(missing.size(), kNamed); ++i) {
    named += fmt::format("{}{}", i == 0 ? "" : ", ", missing[i]);
  }
  if (missing.size() > kNamed) {
    named += fmt::format(" and {} more", missing.size() - kNamed);
  }
  throw StoreError(
      fmt::format("{} lacks {} of schema version {} (changed outside crmhost, or damaged); restore it from a backup, "
                  "or give --db a new file",
                  db.path(), named, Store::kSchemaVersion));
}

// Runs before the connection writes anything (see Database): every refusal
// here leaves the file byte for byte as it was.
void refuse_unusable(Database& db) {
  std::int64_t application_id = 0;
  std::int64_t version = 0;
  try {
    application_id = pragma_value(db, "application_id");
    version = pragma_value(db, "user_version");
  } catch (const SqliteError& e) {
    throw StoreError(fmt::format("{} cannot be read as a database ({}); give --db a crmhost database or a new file",
                                 db.path(), e.what()));
  }
  if (application_id != 0 && application_id != kApplicationId) {
    throw StoreError(
        fmt::format("{} belongs to another application (application_id {}); give --db a crmhost "
                    "database or a new file",
                    db.path(), application_id));
  }
  if (version > Store::kSchemaVersion) {
    throw StoreError(
        fmt::format("{} has schema version {}, newer than this crmhost knows ({}); use a newer crmhost. "
                    "The database was not modified",
                    db.path(), version, Store::kSchemaVersion));
  }
  // crmhost writes user_version 1 to kSchemaVersion only; anything below 0 is damage or a hand edit.
  if (version < 0) {
    throw StoreError(
        fmt::format("{} has schema version {}, which no crmhost writes (0 to {}): the file was changed outside "
                    "crmhost, or is damaged; restore it from a backup. The database was not modified",
                    db.path(), version, Store::kSchemaVersion));
  }
  if (version == 0) {
    Statement tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'");
    if (tables.step() && tables.column_int64(0) > 0) {
      throw StoreError(
          fmt::format("{} already holds tables of another application; give --db a crmhost database "
                      "or a new file",
                      db.path()));
    }
  }
  if (version == Store::kSchemaVersion) {
    require_complete_schema(db);
  }
}

}  // namespace

Store::Store(const std::string& path) : db_(path, refuse_unusable) {
  migrate();
}

int Store::schema_version() {
  return static_cast<int>(pragma_value(db_, "user_version"));
}

// Versions were checked by refuse_unusable: 0 (a new file) to kSchemaVersion.
void Store::migrate() {
  if (schema_version() == kSchemaVersion) {
    return;
  }
  int version = 0;
  try {
    Transaction transaction(db_);
    // Read again under the write lock: another crmhost opening the same new file may have migrated it meanwhile.
    version = schema_version();
    if (version == kSchemaVersion) {
      return;
    }
    for (int next = version + 1; next <= kSchemaVersion; ++next) {
      db_.exec(kMigrations[static_cast<std::size_t>(next - 1)]);
    }
    db_.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};", kApplicationId, kSchemaVersion));
    require_complete_schema(db_);
    transaction.commit();
  } catch (const SqliteError& e) {
    // A migration meets what an earlier one made; a file changed by hand breaks it half-way.
    throw StoreError(fmt::format("{} cannot be migrated from schema version {} to {}: {}; restore it from a backup",
                                 db_.path(), version, kSchemaVersion, e.what()));
  }
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
  db_.prepare("INSERT INTO connector_runs (connector_id, started_ms, status) VALUES (?1, ?2, 'running')")
      .bind(1, connector_id)
      .bind(2, now_ms)
      .run();
  return db_.last_insert_rowid();
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
  db_.prepare(
         "UPDATE connector_runs SET status = 'interrupted', message = 'the process ended before the run finished "
         "(killed or crashed); found by the next job at ' || strftime('%Y-%m-%d %H:%M:%S', ?1 / 1000, 'unixepoch') "
         "|| ' UTC' WHERE status = 'running'")
      .bind(1, now_ms)
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

}  // namespace crm::host
