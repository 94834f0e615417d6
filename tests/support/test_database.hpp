#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace crm::host::testing {

// The backend this test process runs against: PostgreSQL when the suite's
// server is up (CRM_TEST_POSTGRESQL_URL_FILE names the file holding its URL,
// set by the ".postgresql" variants of the tests), SQLite otherwise.
inline bool on_postgresql() {
  const char* file = std::getenv("CRM_TEST_POSTGRESQL_URL_FILE");  // NOLINT(concurrency-mt-unsafe)
  return file != nullptr && *file != '\0';
}

// The suite's PostgreSQL server ("postgresql://crm@127.0.0.1:PORT/postgres").
inline std::string postgresql_server_url() {
  const char* name = std::getenv("CRM_TEST_POSTGRESQL_URL_FILE");  // NOLINT(concurrency-mt-unsafe)
  std::ifstream file(name);
  std::string url;
  if (!std::getline(file, url) || url.empty()) {
    throw std::runtime_error(
        fmt::format("CRM_TEST_POSTGRESQL_URL_FILE={} holds no URL: the suite's PostgreSQL server did not start "
                    "(ctest starts it as the test postgresql.server.start)",
                    name));
  }
  return url;
}

// Folders whose stores start afresh: a TempDir made again at the same path
// (one per test of a fixture) must not find the last test's database.
inline std::map<std::string, std::uint64_t>& store_generations() {
  static std::map<std::string, std::uint64_t> generations;
  return generations;
}

inline void start_new_stores_under(const std::filesystem::path& dir) {
  static std::uint64_t next = 0;
  store_generations()[std::filesystem::absolute(dir).lexically_normal().string()] = ++next;
}

// Where the store a test would keep in the file `path` lives: that file on
// SQLite; on PostgreSQL a database of its own on the suite's server, named
// after the path (so every call for one path gives the same store, and the
// unique temporary folders of tests give unique databases), created empty on
// first use. The server is thrown away after the run; nothing is dropped.
inline std::string store_locator(const std::filesystem::path& path) {
  if (!on_postgresql()) {
    return path.string();
  }
  const std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
  std::uint64_t generation = 0;
  for (const auto& [dir, value] : store_generations()) {
    if (absolute.starts_with(dir + "/")) {
      generation = value;
    }
  }
  const std::string key = fmt::format("{}#{}#{}", absolute, ::getpid(), generation);
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a
  for (const char c : key) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  const std::string database = fmt::format("crm_{:016x}", hash);
  const std::string server = postgresql_server_url();
  Database admin(server);
  Statement exists = admin.prepare("SELECT count(*) FROM pg_database WHERE datname = ?1");
  exists.bind(1, database);
  if (exists.step() && exists.column_int64(0) == 0) {
    try {
      admin.exec(fmt::format("CREATE DATABASE {}", database));
    } catch (const DatabaseError& e) {
      if (e.sqlstate() != "42P04") {  // created meanwhile by another process of the test
        throw;
      }
    }
  }
  return server.substr(0, server.rfind('/') + 1) + database;
}

// After a test inserted rows with explicit ids (as SQLite lets an INTEGER
// PRIMARY KEY take any value and continues after the largest), makes
// PostgreSQL's identity sequences continue after the largest id too. Nothing
// to do on SQLite.
inline void continue_ids_after_largest(Database& db) {
  if (db.kind() != DatabaseKind::postgresql) {
    return;
  }
  Statement tables = db.prepare(
      "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND "
      "column_name = 'id' AND is_identity = 'YES'");
  std::vector<std::string> names;
  while (tables.step()) {
    names.push_back(tables.column_text(0));
  }
  for (const std::string& table : names) {
    db.exec(fmt::format("SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce(max(id), 0) + 1, false) FROM {0}",
                        table));
  }
}

// A store for one test: the file `dir / name`, or its PostgreSQL database.
inline std::string test_store_locator(const std::filesystem::path& dir, const std::string& name = "crm.db") {
  return store_locator(dir / name);
}

// Puts a store back as migration 16 left it, as far as the list orders go (for the tests
// of older stores migrating): the change and value keys back in customer_sort_keys, the
// score order back in customer_scores' indexes, migration 17's tables gone, and the
// scores' index by customer that migration 18 drops.
inline void undo_list_order_tables(Database& db) {
  const bool postgresql = db.kind() == DatabaseKind::postgresql;
  db.exec(fmt::format(
      "CREATE TABLE customer_sort_keys (run_id {0} NOT NULL REFERENCES score_runs(id), customer_id {0} NOT NULL, "
      "band TEXT, score_change {1}, value {1} NOT NULL, PRIMARY KEY (run_id, customer_id)){2}",
      postgresql ? "BIGINT" : "INTEGER", postgresql ? "DOUBLE PRECISION" : "REAL", postgresql ? "" : " WITHOUT ROWID"));
  db.exec(
      "INSERT INTO customer_sort_keys (run_id, customer_id, band, score_change, value) SELECT c.run_id, "
      "c.customer_id, c.band, c.score_change, v.value FROM run_list_by_change c JOIN run_list_by_value v ON "
      "v.run_id = c.run_id AND v.customer_id = c.customer_id");
  db.exec("CREATE INDEX customer_sort_keys_by_change ON customer_sort_keys(run_id, band, score_change, customer_id)");
  db.exec("CREATE INDEX customer_sort_keys_by_value ON customer_sort_keys(run_id, band, value, customer_id)");
  db.exec("CREATE INDEX customer_scores_by_band ON customer_scores(run_id, band, score, customer_id)");
  db.exec("CREATE INDEX customer_scores_by_score ON customer_scores(run_id, score, customer_id)");
  db.exec("CREATE INDEX customer_scores_by_customer ON customer_scores(customer_id, run_id)");
  db.exec("DROP TABLE run_list_by_score");
  db.exec("DROP TABLE run_list_by_change");
  db.exec("DROP TABLE run_list_by_value");
  db.exec(postgresql ? "UPDATE crm_schema SET version = 16" : "PRAGMA user_version = 16");
}

}  // namespace crm::host::testing
