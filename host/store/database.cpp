#include "store/database.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <sqlite3.h>
#include <thread>
#include <utility>

#include "store/postgresql/connection.hpp"
#include "store/sqlite_tuning.hpp"

namespace crm::host {
namespace {

constexpr int kBusyTimeoutMs = 5000;
// Memory-mapped reads of up to 256 MiB of the file (off during LargeWrites).
constexpr std::int64_t kMemoryMappedBytes = 256LL * 1024 * 1024;
constexpr int kPageCacheKib = 64 * 1024;
// A score run's transaction keeps re-dirtying a working set that outgrows 64 MiB with the run: at
// 2,000,000 customers 100,000 pages went to the WAL and were read back from it before the commit
// (41,000 at 1,000,000), none at 256 MiB (BENCHMARKS.md, "A larger page cache while a run is stored").
constexpr int kLargeWritesPageCacheKib = 256 * 1024;
// The page cache while FastIndexBuilds sorts: the size of each sorted run.
constexpr int kIndexSortRunKib = 4 * 1024;

[[noreturn]] void throw_error(sqlite3* db, std::string_view what) {
  throw DatabaseError(fmt::format("{}: {}", what, db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), statement_(nullptr) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement_, nullptr) != SQLITE_OK) {
    throw_error(db, fmt::format("preparing \"{}\"", sql.substr(0, 60)));
  }
}

Statement::Statement(postgresql::Connection& connection, std::string_view sql)
    : query_(std::make_unique<postgresql::Query>(connection, sql)) {}

Statement::Statement(Database& owner, sqlite3_stmt* statement, std::string sql)
    : db_(owner.db_), statement_(statement), cache_owner_(&owner), cache_key_(std::move(sql)) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      statement_(std::exchange(other.statement_, nullptr)),
      query_(std::move(other.query_)),
      cache_owner_(std::exchange(other.cache_owner_, nullptr)),
      cache_key_(std::move(other.cache_key_)) {}

Statement::~Statement() {
  if (cache_owner_ != nullptr && statement_ != nullptr) {
    // Reset ends any read it holds, as finalizing would.
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
    cache_owner_->return_statement(std::move(cache_key_), statement_);
    return;
  }
  sqlite3_finalize(statement_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (query_) {
    query_->bind(index, std::to_string(value), false);
    return *this;
  }
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) throw_error(db_, "binding");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (query_) {
    query_->bind(index, fmt::format("{}", value), false);
    return *this;
  }
  if (sqlite3_bind_double(statement_, index, value) != SQLITE_OK) throw_error(db_, "binding");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  if (query_) {
    query_->bind(index, std::string(value), false);
    return *this;
  }
  if (sqlite3_bind_text64(statement_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) {
    throw_error(db_, "binding");
  }
  return *this;
}

Statement& Statement::bind_bytes(int index, std::string_view value) {
  if (query_) {
    query_->bind(index, std::string(value), true);
    return *this;
  }
  return bind(index, value);
}

Statement& Statement::bind_null(int index) {
  if (query_) {
    query_->bind_null(index);
    return *this;
  }
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) throw_error(db_, "binding");
  return *this;
}

bool Statement::step() {
  if (query_) {
    return query_->step();
  }
  const int result = sqlite3_step(statement_);
  if (result == SQLITE_ROW) return true;
  if (result == SQLITE_DONE) return false;
  throw_error(db_, "executing a statement");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  if (query_) {
    query_->reset();
    return;
  }
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

std::int64_t Statement::column_int64(int index) const {
  if (query_) {
    return query_->int64(index);
  }
  return sqlite3_column_int64(statement_, index);
}
double Statement::column_double(int index) const {
  if (query_) {
    return query_->real(index);
  }
  return sqlite3_column_double(statement_, index);
}
bool Statement::column_is_null(int index) const {
  if (query_) {
    return query_->is_null(index);
  }
  return sqlite3_column_type(statement_, index) == SQLITE_NULL;
}

std::string Statement::column_text(int index) const {
  return std::string(column_view(index));
}

std::string_view Statement::column_view(int index) const {
  if (query_) {
    return query_->text(index);
  }
  const auto* text = sqlite3_column_text(statement_, index);
  const int size = sqlite3_column_bytes(statement_, index);
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

void Database::open_sqlite(const std::function<void(Database&)>& check_before_writing) {
  // SQLite's memory statistics take one process-wide lock on every allocation:
  // off, before the first connection, so that a service's threads do not queue on it.
  static const int memory_statistics_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  static_cast<void>(memory_statistics_off);
  const std::string& path = locator_.target;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DatabaseError(fmt::format("cannot open database {}: {}", path, message));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  if (check_before_writing) {
    try {
      check_before_writing(*this);
    } catch (...) {
      close_sqlite();
      throw;
    }
  }
  // A 64 MiB page cache and memory-mapped reads keep a bulk import from
  // re-reading index pages through pread; at SQLite's default 2 MiB cache a
  // large sync spent a third of its time in the kernel. A WAL grown large (a
  // sync's DeferredCheckpoints) is cut back to 64 MiB when it starts over.
  const std::string setup = fmt::format(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-{}; "
      "PRAGMA mmap_size={}; PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864;",
      kPageCacheKib, kMemoryMappedBytes);
  // When two connections switch a new file to WAL at the same moment (two
  // commands started on one new store), the one already holding a shared lock
  // gets BUSY at once: SQLite skips the busy handler where waiting could
  // deadlock. Retry for as long as the busy timeout would have waited.
  const auto give_up_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  int result = SQLITE_OK;
  while ((result = sqlite3_exec(db_, setup.c_str(), nullptr, nullptr, nullptr)) != SQLITE_OK &&
         (result & 0xff) == SQLITE_BUSY && std::chrono::steady_clock::now() < give_up_at) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (result != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(db_);
    close_sqlite();
    throw DatabaseError(fmt::format("cannot use {} as a database: {}", path, message));
  }
}

DatabaseLocator DatabaseLocator::parse(std::string_view text) {
  DatabaseLocator locator;
  locator.target = std::string(text);
  if (text.starts_with("postgresql://") || text.starts_with("postgres://")) {
    locator.kind = DatabaseKind::postgresql;
  }
  return locator;
}

std::string DatabaseLocator::display() const {
  if (kind == DatabaseKind::sqlite) {
    return target;
  }
  // postgresql://user:password@host/db?password=...: keep everything but the passwords.
  std::string shown = target;
  const std::size_t scheme_end = shown.find("://") + 3;
  const std::size_t at = shown.find('@', scheme_end);
  const std::size_t slash = shown.find('/', scheme_end);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    const std::size_t colon = shown.find(':', scheme_end);
    if (colon != std::string::npos && colon < at) {
      shown.erase(colon, at - colon);
    }
  }
  const std::size_t query = shown.find('?');
  if (query != std::string::npos) {
    std::string kept;
    std::size_t start = query + 1;
    while (start <= shown.size()) {
      const std::size_t end = std::min(shown.find('&', start), shown.size());
      const std::string_view pair = std::string_view(shown).substr(start, end - start);
      if (!pair.empty() && !pair.starts_with("password=")) {
        kept += fmt::format("{}{}", kept.empty() ? "?" : "&", pair);
      }
      start = end + 1;
    }
    shown = shown.substr(0, query) + kept;
  }
  return shown;
}

Database::Database(const std::string& locator, const std::function<void(Database&)>& check_before_writing)
    : Database(DatabaseLocator::parse(locator), check_before_writing) {}

Database::Database(const DatabaseLocator& locator, const std::function<void(Database&)>& check_before_writing)
    : locator_(locator) {
  if (locator_.kind == DatabaseKind::sqlite) {
    open_sqlite(check_before_writing);
    return;
  }
  postgresql_ = std::make_unique<postgresql::Connection>(locator_.target, locator_.password, locator_.display());
  if (check_before_writing) {
    check_before_writing(*this);
  }
}

Database::~Database() {
  close_sqlite();
}

// sqlite3_close refuses, and leaks the connection, while any statement of it is
// unfinalized: the cached ones go first, also when a check refused the file.
void Database::close_sqlite() noexcept {
  for (auto& [sql, statements] : statement_cache_) {
    for (sqlite3_stmt* statement : statements) {
      sqlite3_finalize(statement);
    }
  }
  statement_cache_.clear();
  cached_statements_ = 0;
  sqlite3_close(db_);
  db_ = nullptr;
}

void Database::return_statement(std::string sql, sqlite3_stmt* statement) {
  constexpr std::size_t kMaxCachedStatements = 256;
  if (cached_statements_ >= kMaxCachedStatements) {
    sqlite3_finalize(statement);
    return;
  }
  statement_cache_[std::move(sql)].push_back(statement);
  ++cached_statements_;
}

void Database::exec(std::string_view sql) {
  if (postgresql_) {
    postgresql_->exec(sql);
    return;
  }
  const std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string detail = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw DatabaseError(detail);
  }
}

Statement Database::prepare(std::string_view sql) {
  if (postgresql_) {
    return {*postgresql_, sql};
  }
  std::string key(sql);
  if (const auto cached = statement_cache_.find(key); cached != statement_cache_.end() && !cached->second.empty()) {
    sqlite3_stmt* statement = cached->second.back();
    cached->second.pop_back();
    --cached_statements_;
    return {*this, statement, std::move(key)};
  }
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr) != SQLITE_OK) {
    throw_error(db_, fmt::format("preparing \"{}\"", sql.substr(0, 60)));
  }
  return {*this, statement, std::move(key)};
}

std::int64_t Database::last_insert_rowid() const {
  if (postgresql_) {
    throw DatabaseError("last_insert_rowid is SQLite's: write INSERT ... RETURNING id");
  }
  return sqlite3_last_insert_rowid(db_);
}

std::int64_t Database::changes() const {
  if (postgresql_) {
    return postgresql_->changes();
  }
  return sqlite3_changes64(db_);
}

// IMMEDIATE: take the write lock now, so two writers wait at BEGIN (under the
// busy timeout) instead of one failing at its first write.
bool Database::idle() const {
  if (postgresql_) {
    return postgresql_->idle();
  }
  return db_ != nullptr && sqlite3_get_autocommit(db_) != 0;
}

void Database::begin() {
  exec(postgresql_ ? "BEGIN" : "BEGIN IMMEDIATE");
}

void Database::commit() {
  exec("COMMIT");
}

void Database::rollback() {
  exec("ROLLBACK");
}

Transaction::Transaction(Database& db) : db_(db) {
  db_.begin();
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.rollback();
    } catch (const DatabaseError&) {  // NOLINT(bugprone-empty-catch): nothing more to do while unwinding
    }
  }
}

void Transaction::commit() {
  db_.commit();
  done_ = true;
}

namespace {
constexpr int kDefaultAutocheckpointPages = 1000;     // SQLite's default
constexpr int kDeferredAutocheckpointPages = 65'536;  // 256 MiB of 4 KiB pages
}  // namespace

DeferredCheckpoints::DeferredCheckpoints(Database& db) : db_(db) {
  if (db_.kind() == DatabaseKind::sqlite) {
    db_.exec(fmt::format("PRAGMA wal_autocheckpoint={}", kDeferredAutocheckpointPages));
  }
}

DeferredCheckpoints::~DeferredCheckpoints() {
  if (db_.kind() != DatabaseKind::sqlite) {
    return;
  }
  try {
    db_.exec(fmt::format("PRAGMA wal_autocheckpoint={}", kDefaultAutocheckpointPages));
    // PASSIVE: copies what no reader still needs and never waits for one.
    db_.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch (const DatabaseError&) {  // NOLINT(bugprone-empty-catch): the next commit checkpoints instead
  }
}

LargeWrites::LargeWrites(Database& db) : db_(db) {
  if (db_.kind() == DatabaseKind::sqlite) {
    db_.exec(fmt::format("PRAGMA mmap_size=0; PRAGMA cache_size=-{}", kLargeWritesPageCacheKib));
  }
}

LargeWrites::~LargeWrites() {
  if (db_.kind() != DatabaseKind::sqlite) {
    return;
  }
  try {
    // A smaller cache_size frees the pages above it at once.
    db_.exec(fmt::format("PRAGMA mmap_size={}; PRAGMA cache_size=-{}", kMemoryMappedBytes, kPageCacheKib));
  } catch (const DatabaseError&) {  // NOLINT(bugprone-empty-catch): reads stay correct, through the page cache
  }
}

FastIndexBuilds::FastIndexBuilds(Database& db) : db_(db) {
  // SQLite refuses to change temp_store inside a transaction (a store migrated in one): there the
  // index is sorted in memory, as without the guard.
  active_ = db_.kind() == DatabaseKind::sqlite && sqlite3_get_autocommit(db_.sqlite_handle()) != 0;
  if (active_) {
    const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
    // The sorter writes its runs to temporary files (the OS's page cache holds them): with
    // temp_store=MEMORY it keeps one run in memory and uses no worker thread.
    db_.exec(fmt::format("PRAGMA cache_size=-{}; PRAGMA threads={}; PRAGMA temp_store=FILE", kIndexSortRunKib, cores));
  }
}

FastIndexBuilds::~FastIndexBuilds() {
  if (!active_) {
    return;
  }
  try {
    db_.exec(fmt::format("PRAGMA cache_size=-{}; PRAGMA threads=0; PRAGMA temp_store=MEMORY", kPageCacheKib));
  } catch (const DatabaseError&) {  // NOLINT(bugprone-empty-catch): only slower, never wrong
  }
}

}  // namespace crm::host
