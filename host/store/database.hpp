#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace crm::host {

namespace postgresql {
class Connection;
class Query;
}  // namespace postgresql

// A statement failed, or a database could not be opened; the message names
// the database (never its password) and what the server said.
class DatabaseError : public std::runtime_error {
 public:
  explicit DatabaseError(const std::string& message, std::string sqlstate = {})
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  // PostgreSQL's SQLSTATE ("23505": a unique key exists); "" on SQLite.
  [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};
using SqliteError = DatabaseError;

enum class DatabaseKind { sqlite, postgresql };

// Where a store lives: a SQLite file path (the embedded default), or a
// PostgreSQL connection URL ("postgresql://user@host:port/db", also
// "postgres://"). The password never travels in the locator's display form.
struct DatabaseLocator {
  DatabaseKind kind = DatabaseKind::sqlite;
  std::string target;    // the path, or the URL as given
  std::string password;  // PostgreSQL only; "" lets libpq use PGPASSWORD or ~/.pgpass

  static DatabaseLocator parse(std::string_view text);
  // The path, or the URL without any password: safe for logs and messages.
  [[nodiscard]] std::string display() const;
};

class Database;

// One prepared statement of either backend. Parameters are 1-based and
// written `?1`, `?2`... (or bare `?`) in portable SQL; see host/store/README.md.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  Statement(postgresql::Connection& connection, std::string_view sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  // Bytes that need not be valid UTF-8 text and may hold NUL (a raw record
  // quarantined as read): TEXT on SQLite, BYTEA on PostgreSQL.
  Statement& bind_bytes(int index, std::string_view value);
  Statement& bind_null(int index);

  // Advances; true while a row is available.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  // Makes the statement ready to run again; clears the bindings.
  void reset();

  [[nodiscard]] std::int64_t column_int64(int index) const;
  [[nodiscard]] double column_double(int index) const;
  [[nodiscard]] std::string column_text(int index) const;
  // Valid until the next step or reset.
  [[nodiscard]] std::string_view column_view(int index) const;
  [[nodiscard]] bool column_is_null(int index) const;

 private:
  friend class Database;
  // A statement of `owner`'s cache: given back to it, reset, when destroyed.
  Statement(Database& owner, sqlite3_stmt* statement, std::string sql);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* statement_ = nullptr;
  std::unique_ptr<postgresql::Query> query_;
  Database* cache_owner_ = nullptr;
  std::string cache_key_;
};

// One connection to a store's database, SQLite or PostgreSQL, with one API:
// the repositories under host/store/ write portable SQL and run on both.
// Not thread-safe: one thread at a time (Store serialises host services).
class Database {
 public:
  // Opens `locator` (see DatabaseLocator::parse). SQLite: WAL mode, foreign
  // keys on, extension loading off. `check_before_writing` runs on the fresh
  // connection before anything is written: a database it refuses by throwing
  // is left byte for byte as it was.
  explicit Database(const std::string& locator, const std::function<void(Database&)>& check_before_writing = {});
  Database(const DatabaseLocator& locator, const std::function<void(Database&)>& check_before_writing = {});
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  [[nodiscard]] DatabaseKind kind() const { return locator_.kind; }
  [[nodiscard]] const DatabaseLocator& locator() const { return locator_; }

  // Runs one or more statements without parameters or results.
  void exec(std::string_view sql);
  Statement prepare(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  [[nodiscard]] std::int64_t changes() const;
  // SQLite only, and going away: portable code writes INSERT ... RETURNING id.
  [[nodiscard]] std::int64_t last_insert_rowid() const;
  // The path, or the URL without password: for messages.
  [[nodiscard]] std::string path() const { return locator_.display(); }

  void begin();
  void commit();
  void rollback();
  // Open and outside any transaction: a pool may hand the connection to its next user.
  [[nodiscard]] bool idle() const;

  // The backend's own connection, for backend-specific code under host/store/ only.
  [[nodiscard]] sqlite3* sqlite_handle() const { return db_; }
  [[nodiscard]] postgresql::Connection* postgresql_connection() const { return postgresql_.get(); }

 private:
  friend class Statement;
  void open_sqlite(const std::function<void(Database&)>& check_before_writing);
  // SQLite: prepared statements kept for the next prepare() of the same text
  // (a service's pooled connection runs the same few dozen queries; preparing
  // them cost more than running them). Finalized when the connection closes.
  void return_statement(std::string sql, sqlite3_stmt* statement);
  void close_sqlite() noexcept;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> statement_cache_;
  std::size_t cached_statements_ = 0;

  DatabaseLocator locator_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<postgresql::Connection> postgresql_;
};

// BEGIN (IMMEDIATE on SQLite) on construction, ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

// For a run of many transactions on one connection (a sync's batches): on SQLite the WAL is
// copied back into the database file once it passes 256 MiB instead of 4 MiB, and once more
// when the guard ends. A batch's inserts into an index keyed at random (orders by customer)
// touch pages all over it, so checkpointing after every batch wrote those pages again each
// time (a sync of 1,000,000 orders: 14.5 s, 10 s with this; BENCHMARKS.md). Committed batches
// stay durable as before: a crash replays the WAL. No effect on PostgreSQL.
class DeferredCheckpoints {
 public:
  explicit DeferredCheckpoints(Database& db);
  DeferredCheckpoints(const DeferredCheckpoints&) = delete;
  DeferredCheckpoints& operator=(const DeferredCheckpoints&) = delete;
  ~DeferredCheckpoints();

 private:
  Database& db_;
};

}  // namespace crm::host
