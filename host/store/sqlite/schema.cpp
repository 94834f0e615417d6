#include "store/sqlite/schema.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <optional>
#include <vector>

#include "store/sqlite_tuning.hpp"
#include "store/store_error.hpp"

namespace crm::host::sqlite {
namespace {

// 'CRM1': marks a file as a crmhost database, so that another application's
// SQLite file is never migrated by mistake.
constexpr std::int64_t kApplicationId = 0x43524D31;

// Migration N takes the schema from version N-1 to N. Append only.
constexpr std::array<const char*, 18> kMigrations = {
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
)sql",
    // 8: crmhost serve's scheduler keeps each job's last run, so that a job
    // missed while the service was down runs once when it starts again.
    R"sql(
CREATE TABLE service_jobs (
  job_id TEXT PRIMARY KEY,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'skipped', 'running')),
  duration_ms INTEGER,
  counts_json TEXT,
  message TEXT
);
)sql",
    // 9: API tokens of `crmhost serve`. Only a token's SHA-256 is kept; a name
    // is unique among tokens not revoked, and a revoked token stays listed.
    R"sql(
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_used_ms INTEGER,
  revoked_ms INTEGER
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens(name) WHERE revoked_ms IS NULL;
)sql",
    // 10: acknowledge links in notifications. The host's own secrets (the
    // links' HMAC key, made on first use) and one token per (alert,
    // recipient), used at most once.
    R"sql(
CREATE TABLE host_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE ack_tokens (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  recipient TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  used_ms INTEGER
);
CREATE UNIQUE INDEX ack_tokens_by_recipient ON ack_tokens(alert_id, recipient);
)sql",
    // 11: the service's reads. The customer 360 view reads each part of one
    // customer's history by an index (orders, tickets, surveys, interactions,
    // activities, contacts, alerts, scores by customer); customer lists read
    // the latest run's rows in score order per band, so a page of the riskiest
    // customers is an index range, not a sort of the whole run.
    R"sql(
CREATE INDEX customer_scores_by_customer ON customer_scores(customer_id, run_id);
CREATE INDEX customer_scores_by_band ON customer_scores(run_id, band, score, customer_id);
CREATE INDEX customer_scores_by_score ON customer_scores(run_id, score, customer_id);
-- Covering: the order summary and recent orders of a customer read no table row.
CREATE INDEX orders_by_customer ON orders(customer_id, ordered_at_ms, amount, status, currency, product_line);
CREATE INDEX tickets_by_customer ON tickets(customer_id, opened_at_ms);
CREATE INDEX surveys_by_customer ON surveys(customer_id, answered_at_ms);
CREATE INDEX interactions_by_customer ON interactions(customer_id, occurred_at_ms);
CREATE INDEX activities_by_customer ON activities(customer_id, occurred_at_ms);
CREATE INDEX contacts_by_customer ON contacts(customer_id);
CREATE INDEX alerts_by_customer ON alerts(customer_id, opened_ms);
CREATE INDEX runs_by_command ON runs(command, id);
CREATE INDEX connector_runs_by_connector ON connector_runs(connector_id, id);
-- Who made a follow-up recorded through crmhost (source 'crmhost', direction outbound).
ALTER TABLE interactions ADD COLUMN recorded_by TEXT;
)sql",
    // 12: plugin state (crm/host.h state_*, SDK 1.3): one ordered key/value
    // map per plugin instance, e.g. a connector's view of its source's last
    // pass. Keys and values are bound as bytes; TEXT compares them bytewise
    // (BINARY collation), like BYTEA on PostgreSQL.
    R"sql(
CREATE TABLE plugin_state (
  plugin_id TEXT NOT NULL,
  state_key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (plugin_id, state_key)
) WITHOUT ROWID;
)sql",
    // 13: people of the web app and their signed-in sessions. A user's
    // password is kept as a self-describing scrypt string (never the
    // password); owner_ids is a JSON array of the owner labels the person is
    // known by in the data. A session is known by the SHA-256 of its cookie.
    R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('account_manager', 'csm', 'cs_director', 'coo', 'admin')),
  language TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  owner_ids TEXT NOT NULL,
  password_hash TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  failed_sign_ins INTEGER NOT NULL DEFAULT 0,
  locked_until_ms INTEGER,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE web_sessions (
  id INTEGER PRIMARY KEY,
  session_hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id),
  csrf_token TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions(user_id);
)sql",
    // 14: what the overview reads of every scoring run without scanning its
    // rows: customers by (band in the finished run before, band in this run),
    // written when the run finishes ('' : no band, or not scored before); the
    // runs stored before are counted here once. Indexes for the overview's
    // counts of open alerts and of lost customers by reason.
    R"sql(
CREATE TABLE score_run_bands (
  run_id INTEGER NOT NULL REFERENCES score_runs(id),
  from_band TEXT NOT NULL,
  to_band TEXT NOT NULL,
  customer_count INTEGER NOT NULL,
  PRIMARY KEY (run_id, from_band, to_band)
) WITHOUT ROWID;
INSERT INTO score_run_bands (run_id, from_band, to_band, customer_count)
SELECT now.run_id, coalesce(before.band, ''), coalesce(now.band, ''), count(*)
FROM customer_scores now JOIN score_runs r ON r.id = now.run_id AND r.finished_ms IS NOT NULL
LEFT JOIN customer_scores before ON before.customer_id = now.customer_id
  AND before.run_id = (SELECT max(p.id) FROM score_runs p WHERE p.id < now.run_id AND p.finished_ms IS NOT NULL)
GROUP BY now.run_id, coalesce(before.band, ''), coalesce(now.band, '');
CREATE INDEX alerts_by_state_level ON alerts(state, level, deadline_ms);
CREATE INDEX lost_customers_by_churn_date ON lost_customers(churn_date_ms, reason);
)sql",
    // 15: what the at-risk list sorts by besides the score, stored with the
    // run so a page is an index walk (bench/web_bench.sh): each customer's
    // score change since the finished run before (NULL: not scored then) and
    // value, the purchases of the 365 days before the run's date (as
    // store/purchases.hpp defines a purchase). finish_run() writes them for
    // every new run; the newest run stored before is keyed here once (older
    // runs are sorted by joins, as before). And the note given when an alert
    // is acknowledged. Failed sign-ins for names no enabled user has, counted
    // and locked as a user's are, so the answer never tells whether a name
    // exists; a user's count, like a name's, starts again after a day without
    // failures (last_failed_sign_in_ms).
    R"sql(
ALTER TABLE alerts ADD COLUMN ack_note TEXT;
ALTER TABLE users ADD COLUMN last_failed_sign_in_ms INTEGER;
CREATE TABLE sign_in_failures (
  name TEXT PRIMARY KEY,
  failed_sign_ins INTEGER NOT NULL,
  locked_until_ms INTEGER,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE customer_sort_keys (
  run_id INTEGER NOT NULL REFERENCES score_runs(id),
  customer_id INTEGER NOT NULL,
  band TEXT,
  score_change REAL,
  value REAL NOT NULL,
  PRIMARY KEY (run_id, customer_id)
) WITHOUT ROWID;
INSERT INTO customer_sort_keys (run_id, customer_id, band, score_change, value)
SELECT s.run_id, s.customer_id, s.band, s.score - p.score, 0
FROM customer_scores s
LEFT JOIN customer_scores p ON p.customer_id = s.customer_id
  AND p.run_id = (SELECT max(q.id) FROM score_runs q WHERE q.id < s.run_id AND q.finished_ms IS NOT NULL)
WHERE s.run_id = (SELECT max(id) FROM score_runs WHERE finished_ms IS NOT NULL);
UPDATE customer_sort_keys SET value = v.revenue
FROM (
  SELECT r.id AS run_id, coalesce(c.unified_id, c.id) AS customer_id, sum(o.amount) AS revenue
  FROM orders o JOIN customers c ON c.id = o.customer_id
  JOIN score_runs r ON r.id = (SELECT max(id) FROM score_runs WHERE finished_ms IS NOT NULL)
  WHERE o.ordered_at_ms >= r.as_of_ms - 31536000000 AND o.ordered_at_ms < r.as_of_ms
    AND (o.amount IS NULL OR o.amount > 0) AND lower(trim(coalesce(o.status, ''))) NOT IN ('cancelled', 'canceled', 'cancel', 'draft', 'quotation', 'quote', 'void', 'voided', 'rejected', 'declined', 'returned', 'refunded')
  GROUP BY r.id, coalesce(c.unified_id, c.id)) v
WHERE customer_sort_keys.run_id = v.run_id AND customer_sort_keys.customer_id = v.customer_id
  AND v.revenue IS NOT NULL;
CREATE INDEX customer_sort_keys_by_change ON customer_sort_keys(run_id, band, score_change, customer_id);
CREATE INDEX customer_sort_keys_by_value ON customer_sort_keys(run_id, band, value, customer_id);
)sql",
    // 16: the churn probability people read ("38 % likely to stop buying
    // within 90 days"). `crmhost train` fits a map from the band-deciding
    // score to the churned share on its past snapshot (isotonic) and keeps it
    // with the outcome's end, so a run uses only maps whose outcomes were known
    // by its date; each run names the map and horizon it used (NULL: none yet)
    // and stores every customer's probability (NULL in older runs).
    R"sql(
CREATE TABLE calibrations (
  id INTEGER PRIMARY KEY,
  scorer_id TEXT NOT NULL,
  trained_ms INTEGER NOT NULL,
  features_as_of_ms INTEGER NOT NULL,
  outcome_end_ms INTEGER NOT NULL,
  horizon_days INTEGER NOT NULL,
  customer_count INTEGER NOT NULL,
  brier REAL,
  map_json TEXT NOT NULL
);
CREATE INDEX calibrations_by_horizon ON calibrations(scorer_id, horizon_days, outcome_end_ms, id);
ALTER TABLE score_runs ADD COLUMN horizon_days INTEGER;
ALTER TABLE score_runs ADD COLUMN calibration_id INTEGER;
ALTER TABLE customer_scores ADD COLUMN churn_probability REAL;
)sql",
    // 17: the at-risk list's orders move out of customer_scores' indexes into
    // one narrow table per order, which finish_run() writes in that order: a
    // run's million entries then append to the end of each index instead of
    // landing at random places in it (storing a run took 10.5 s with the
    // score indexes on customer_scores, 3.3 s without; BENCHMARKS.md). The
    // tables have no key of their own; the list joins customer_scores by its
    // key. Every stored run gets its score order here; runs whose change and
    // value keys were stored (migration 15) keep them.
    R"sql(
CREATE TABLE run_list_by_score (
  run_id INTEGER NOT NULL REFERENCES score_runs(id),
  customer_id INTEGER NOT NULL,
  band TEXT,
  score REAL
);
INSERT INTO run_list_by_score (run_id, customer_id, band, score)
SELECT run_id, customer_id, band, score FROM customer_scores ORDER BY run_id, score, customer_id;
CREATE INDEX run_list_by_score_all ON run_list_by_score(run_id, score, customer_id);
CREATE INDEX run_list_by_score_in_band ON run_list_by_score(run_id, band, score, customer_id);
CREATE TABLE run_list_by_change (
  run_id INTEGER NOT NULL REFERENCES score_runs(id),
  customer_id INTEGER NOT NULL,
  band TEXT,
  score_change REAL
);
INSERT INTO run_list_by_change (run_id, customer_id, band, score_change)
SELECT run_id, customer_id, band, score_change FROM customer_sort_keys ORDER BY run_id, band, score_change, customer_id;
CREATE INDEX run_list_by_change_in_band ON run_list_by_change(run_id, band, score_change, customer_id);
CREATE TABLE run_list_by_value (
  run_id INTEGER NOT NULL REFERENCES score_runs(id),
  customer_id INTEGER NOT NULL,
  band TEXT,
  value REAL NOT NULL
);
INSERT INTO run_list_by_value (run_id, customer_id, band, value)
SELECT run_id, customer_id, band, value FROM customer_sort_keys ORDER BY run_id, band, value, customer_id;
CREATE INDEX run_list_by_value_in_band ON run_list_by_value(run_id, band, value, customer_id);
DROP TABLE customer_sort_keys;
DROP INDEX customer_scores_by_band;
DROP INDEX customer_scores_by_score;
)sql",
    // 18: a customer's scores are read run by run through the key (run, customer): a
    // few hundred lookups for a store of daily runs. The index by (customer, run) it
    // replaces took every new run's row at a place inside each customer's entries, so
    // storing a run rewrote the whole index, which grew with every run kept.
    R"sql(
DROP INDEX customer_scores_by_customer;
)sql"};

static_assert(kMigrations.size() == kSchemaVersion, "one migration per schema version");

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

TableShape read_table_shape(Database& db, std::string name) {
  TableShape shape{std::move(name), {}, false};
  Statement columns = db.prepare("SELECT name, upper(type), pk FROM pragma_table_info(?1) ORDER BY cid");
  columns.bind(1, shape.name);
  int key_columns = 0;
  while (columns.step()) {
    const std::string type = columns.column_text(1);
    const ColumnType kind = type == "INTEGER" ? ColumnType::integer
                            : type == "REAL"  ? ColumnType::real
                            : type == "BLOB"  ? ColumnType::bytes
                                              : ColumnType::text;
    shape.columns.push_back({columns.column_text(0), kind, static_cast<int>(columns.column_int64(2))});
    key_columns += columns.column_int64(2) > 0 ? 1 : 0;
  }
  shape.has_identity_id =
      key_columns == 1 && std::any_of(shape.columns.begin(), shape.columns.end(), [](const auto& c) {
        return c.name == "id" && c.primary_key_position == 1 && c.type == ColumnType::integer;
      });
  return shape;
}

// The schema as the migrations make it, read from one scratch database once per
// process, so no check can drift from the migrations.
struct MigratedSchema {
  std::map<std::string, std::string> objects;
  std::vector<TableShape> tables;
  // The CREATE INDEX statement of each index of kBulkLoadIndexes, as the migrations wrote it.
  std::map<std::string, std::string> bulk_load_index_sql;
};

const MigratedSchema& migrated_schema() {
  static const MigratedSchema schema = [] {
    Database scratch(":memory:");
    for (const char* migration : kMigrations) {
      scratch.exec(migration);
    }
    MigratedSchema read;
    read.objects = schema_objects(scratch);
    Statement listed = scratch.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid");
    while (listed.step()) {
      read.tables.push_back(read_table_shape(scratch, listed.column_text(0)));
    }
    for (const std::string_view name : kBulkLoadIndexes) {
      Statement sql = scratch.prepare("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1");
      sql.bind(1, name);
      if (sql.step()) {
        read.bulk_load_index_sql.emplace(name, sql.column_text(0));
      }
    }
    return read;
  }();
  return schema;
}

// `object` as schema_objects() names it: "index <name>".
bool is_bulk_load_index(std::string_view object) {
  constexpr std::string_view kIndexPrefix = "index ";
  if (!object.starts_with(kIndexPrefix)) {
    return false;
  }
  object.remove_prefix(kIndexPrefix.size());
  return std::find(std::begin(kBulkLoadIndexes), std::end(kBulkLoadIndexes), object) != std::end(kBulkLoadIndexes);
}

}  // namespace

const std::map<std::string, std::string>& expected_schema_objects() {
  return migrated_schema().objects;
}

const std::vector<TableShape>& schema_tables() {
  return migrated_schema().tables;
}

void restore_bulk_load_indexes(Database& db) {
  std::optional<FastIndexBuilds> fast_index_builds;
  for (const auto& [name, sql] : migrated_schema().bulk_load_index_sql) {
    Statement present = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1");
    present.bind(1, name);
    if (present.step()) {
      continue;
    }
    if (!fast_index_builds) {
      fast_index_builds.emplace(db);
    }
    try {
      db.exec(sql);
    } catch (const DatabaseError&) {
      // The sorted runs need a writable temporary directory; without one, sort in memory as before.
      fast_index_builds.reset();
      db.exec(sql);
    }
  }
}

void require_schema_objects(const Database& db, const std::map<std::string, std::string>& present,
                            std::string_view kind_of_store) {
  std::vector<std::string> missing;
  for (const auto& [object, table] : expected_schema_objects()) {
    if (db.kind() == DatabaseKind::sqlite && is_bulk_load_index(object)) {
      continue;  // restored when the Store opens (migrate)
    }
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
                  "or give --db a new {}",
                  db.path(), named, kSchemaVersion, kind_of_store));
}

namespace {

// A table, column or index the code relies on and the file lacks would fail a
// statement half-way through a job; name it before anything runs.
void require_complete_schema(Database& db) {
  require_schema_objects(db, schema_objects(db), "file");
}

}  // namespace

// Runs before the connection writes anything (see Database): every refusal
// here leaves the file byte for byte as it was.
void refuse_unusable(Database& db) {
  std::int64_t application_id = 0;
  std::int64_t version = 0;
  try {
    application_id = pragma_value(db, "application_id");
    version = pragma_value(db, "user_version");
  } catch (const DatabaseError& e) {
    throw StoreError(fmt::format("{} cannot be read as a database ({}); give --db a crmhost database or a new file",
                                 db.path(), e.what()));
  }
  if (application_id != 0 && application_id != kApplicationId) {
    throw StoreError(
        fmt::format("{} belongs to another application (application_id {}); give --db a crmhost "
                    "database or a new file",
                    db.path(), application_id));
  }
  if (version > kSchemaVersion) {
    throw StoreError(
        fmt::format("{} has schema version {}, newer than this crmhost knows ({}); use a newer crmhost. "
                    "The database was not modified",
                    db.path(), version, kSchemaVersion));
  }
  // crmhost writes user_version 1 to kSchemaVersion only; anything below 0 is damage or a hand edit.
  if (version < 0) {
    throw StoreError(
        fmt::format("{} has schema version {}, which no crmhost writes (0 to {}): the file was changed outside "
                    "crmhost, or is damaged; restore it from a backup. The database was not modified",
                    db.path(), version, kSchemaVersion));
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
  if (version == kSchemaVersion) {
    require_complete_schema(db);
  }
}

int schema_version(Database& db) {
  return static_cast<int>(pragma_value(db, "user_version"));
}

// Versions were checked by refuse_unusable: 0 (a new file) to kSchemaVersion.
void migrate(Database& db) {
  if (schema_version(db) == kSchemaVersion) {
    restore_bulk_load_indexes(db);
    return;
  }
  int version = 0;
  try {
    Transaction transaction(db);
    // Read again under the write lock: another crmhost opening the same new file may have migrated it meanwhile.
    version = schema_version(db);
    if (version == kSchemaVersion) {
      return;
    }
    for (int next = version + 1; next <= kSchemaVersion; ++next) {
      db.exec(kMigrations[static_cast<std::size_t>(next - 1)]);
    }
    restore_bulk_load_indexes(db);
    db.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {};", kApplicationId, kSchemaVersion));
    require_complete_schema(db);
    transaction.commit();
  } catch (const DatabaseError& e) {
    // A migration meets what an earlier one made; a file changed by hand breaks it half-way.
    throw StoreError(fmt::format("{} cannot be migrated from schema version {} to {}: {}; restore it from a backup",
                                 db.path(), version, kSchemaVersion, e.what()));
  }
}

}  // namespace crm::host::sqlite
