#include "store/store.hpp"

#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <sqlite3.h>
#include <string>

#include "store/sqlite_tuning.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  StoreTest()
      : path_(fs::temp_directory_path() / fmt::format("crm-store-{}-{}.db",
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                      ::getpid())) {
    remove_files();
  }
  StoreTest(const StoreTest&) = delete;
  StoreTest& operator=(const StoreTest&) = delete;
  ~StoreTest() override { remove_files(); }

  void remove_files() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal", ".lock"}) {
      std::error_code ignored;
      fs::remove(path_.string() + suffix, ignored);
    }
  }

  // Runs `sql` through a plain connection in SQLite's default rollback-journal
  // mode, as another tool (or a hand edit) would.
  void raw_exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int result = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(result, SQLITE_OK) << message;
  }

  [[nodiscard]] std::string file_bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // The message of the StoreError opening the store throws ("" when it opens).
  [[nodiscard]] std::string refusal() const {
    try {
      const Store store(path_.string());
    } catch (const StoreError& e) {
      return e.what();
    }
    return {};
  }

  fs::path path_;
};

TEST_F(StoreTest, CreatesTheSchemaAndKeepsCheckpointsAndQuarantineAcrossOpens) {
  {
    Store store(path_.string());
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    store.write_checkpoint("erp_csv", "2026-11-01", 1000);
    store.write_checkpoint("erp_csv", "2026-11-02", 2000);
    store.quarantine("erp_csv", "a;b;c", "line 3: no customer id", 3000);
    const std::int64_t run = store.begin_run("run", 10);
    store.finish_run(run, "ok", "{}", 20);
  }
  Store reopened(path_.string());
  EXPECT_EQ(reopened.read_checkpoint("erp_csv"), std::optional<std::string>("2026-11-02"));
  EXPECT_EQ(reopened.read_checkpoint("email_imap"), std::nullopt);
  const auto entries = reopened.list_quarantine("erp_csv");
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].raw_record, "a;b;c");
  EXPECT_EQ(entries[0].reason, "line 3: no customer id");
  EXPECT_EQ(entries[0].created_ms, 3000);
  EXPECT_TRUE(reopened.list_quarantine("other").empty());
}

// A sync's batches each commit, but their pages are copied from the WAL into
// the database file once, when the sync ends, not after every 4 MiB.
TEST_F(StoreTest, DeferredCheckpointsCopyTheWalIntoTheFileOnceAtTheEnd) {
  Store store(path_.string());
  Database& db = store.database();
  const auto autocheckpoint_pages = [&db] {
    Statement pragma = db.prepare("PRAGMA wal_autocheckpoint");
    return pragma.step() ? pragma.column_int64(0) : -1;
  };
  const auto file_bytes_of = [this](const char* suffix) {
    std::error_code ignored;
    const auto size = fs::file_size(path_.string() + suffix, ignored);
    return ignored ? std::uintmax_t{0} : size;
  };
  EXPECT_EQ(autocheckpoint_pages(), 1000);
  const std::uintmax_t file_before = file_bytes_of("");
  const std::string record(10'000, 'x');
  {
    const DeferredCheckpoints deferred(db);
    EXPECT_EQ(autocheckpoint_pages(), 65'536);
    for (int batch = 0; batch < 30; ++batch) {  // 30 commits of 200 kB: 6 MB, past the default 4 MiB
      Transaction transaction(db);
      for (int i = 0; i < 20; ++i) {
        store.quarantine("erp_csv", record, fmt::format("batch {} row {}", batch, i), batch);
      }
      transaction.commit();
    }
    EXPECT_GT(file_bytes_of("-wal"), 6'000'000U);
    EXPECT_LT(file_bytes_of(""), file_before + 1'000'000U);
  }
  EXPECT_EQ(autocheckpoint_pages(), 1000);
  EXPECT_GT(file_bytes_of(""), file_before + 6'000'000U);
  EXPECT_EQ(store.list_quarantine("erp_csv").size(), 600U);
}

// A first import fills `orders` without its by-customer index and builds it once at the end;
// a store that already holds orders keeps the index throughout.
TEST_F(StoreTest, AFirstImportBuildsTheOrdersIndexOnceAtTheEnd) {
  Store store(path_.string());
  Database& db = store.database();
  const auto indexed = [&db] {
    Statement index = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = 'orders_by_customer'");
    return index.step() ? index.column_text(0) : std::string();
  };
  const std::string made_by_migration = indexed();
  ASSERT_NE(made_by_migration, "");
  for (int customer = 1; customer <= 7; ++customer) {
    db.exec(fmt::format("INSERT INTO customers(id, source, external_id) VALUES ({0}, 'erp', '{0}')", customer));
  }
  const auto insert_orders = [&db](int first, int count) {
    Transaction transaction(db);
    Statement insert = db.prepare(
        "INSERT INTO orders (source, external_id, customer_id, ordered_at_ms, amount) VALUES ('erp_csv', ?1, ?2, ?3, "
        "?4)");
    for (int i = first; i < first + count; ++i) {
      insert.bind(1, fmt::format("o{}", i)).bind(2, std::int64_t{1 + i % 7}).bind(3, std::int64_t{i}).bind(4, 1.5 * i);
      insert.run();
    }
    transaction.commit();
  };
  {
    BulkLoadIndexes first_import(db);
    EXPECT_EQ(indexed(), "");
    insert_orders(0, 50);
    insert_orders(50, 50);
    first_import.finish();
    EXPECT_EQ(indexed(), made_by_migration);
  }
  {
    const BulkLoadIndexes later_import(db);
    EXPECT_EQ(indexed(), made_by_migration);
    insert_orders(100, 10);
  }
  EXPECT_EQ(indexed(), made_by_migration);
  Statement check = db.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_text(0), "ok");
  // The index answers the by-customer reads: customer 4's orders (i % 7 == 3).
  Statement by_customer =
      db.prepare("SELECT count(*), max(ordered_at_ms) FROM orders INDEXED BY orders_by_customer WHERE customer_id = 4");
  ASSERT_TRUE(by_customer.step());
  EXPECT_EQ(by_customer.column_int64(0), 16);
  EXPECT_EQ(by_customer.column_int64(1), 108);
}

// An import killed before its end leaves the file without the index: the file is still a
// whole store, and the next open builds the index.
TEST_F(StoreTest, AStoreWhoseFirstImportDiedGetsItsOrdersIndexBackWhenOpened) {
  { const Store store(path_.string()); }
  raw_exec("DROP INDEX orders_by_customer");
  EXPECT_EQ(refusal(), "");
  Store store(path_.string());
  Statement index = store.database().prepare(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'orders_by_customer'");
  ASSERT_TRUE(index.step());
  EXPECT_EQ(index.column_int64(0), 1);
  // Any other index missing is still damage, named.
  raw_exec("DROP INDEX tickets_by_customer");
  EXPECT_NE(refusal().find("index tickets_by_customer"), std::string::npos) << refusal();
}

// The guards of large operations change connection settings only while they live.
TEST_F(StoreTest, LargeOperationGuardsRestoreTheConnectionsSettings) {
  Store store(path_.string());
  Database& db = store.database();
  const auto pragma = [&db](const char* name) {
    Statement statement = db.prepare(fmt::format("PRAGMA {}", name));
    return statement.step() ? statement.column_int64(0) : -1;
  };
  const std::int64_t mmap_bytes = pragma("mmap_size");
  const std::int64_t cache_size = pragma("cache_size");
  const std::int64_t temp_store = pragma("temp_store");
  const std::int64_t threads = pragma("threads");
  EXPECT_GT(mmap_bytes, 0);
  EXPECT_EQ(temp_store, 2);  // MEMORY
  {
    const LargeWrites large_writes(db);
    EXPECT_EQ(pragma("mmap_size"), 0);
    EXPECT_LT(pragma("cache_size"), cache_size);  // negative KiB: a larger cache for the transaction's pages
  }
  EXPECT_EQ(pragma("cache_size"), cache_size);
  {
    const FastIndexBuilds fast_index_builds(db);
    EXPECT_EQ(pragma("temp_store"), 1);  // FILE: the sorter's runs, sorted by worker threads
    EXPECT_GE(pragma("threads"), 1);
    EXPECT_GT(pragma("cache_size"), cache_size);  // negative KiB: a smaller cache, the size of a run
  }
  EXPECT_EQ(pragma("mmap_size"), mmap_bytes);
  EXPECT_EQ(pragma("cache_size"), cache_size);
  EXPECT_EQ(pragma("temp_store"), temp_store);
  EXPECT_EQ(pragma("threads"), threads);
  {
    // Inside a transaction SQLite refuses to change temp_store: the guard changes nothing, and throws nothing.
    Transaction transaction(db);
    const FastIndexBuilds fast_index_builds(db);
    EXPECT_EQ(pragma("temp_store"), temp_store);
    EXPECT_EQ(pragma("cache_size"), cache_size);
    transaction.commit();
  }
  EXPECT_EQ(pragma("temp_store"), temp_store);
}

// The by-customer index that a reopened store builds through FastIndexBuilds (200,000 orders:
// several sorted runs of 4 MiB, merged) holds exactly the table's rows.
TEST_F(StoreTest, TheOrdersIndexBuiltInSortedRunsMatchesTheTable) {
  {
    Store store(path_.string());
    Database& db = store.database();
    Transaction transaction(db);
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
        "INSERT INTO customers (source, external_id, name) SELECT 'erp', 'C' || i, 'customer ' || i FROM n");
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999) "
        "INSERT INTO orders (source, external_id, customer_id, ordered_at_ms, amount, currency, product_line, status) "
        "SELECT 'erp', 'SO' || i, 1 + (i * 7919) % 50, (i * 104729) % 1000000, (i % 977) * 1.5, 'CNY', "
        "'product line ' || (i % 13), 'confirmed' FROM n");
    transaction.commit();
  }
  raw_exec("DROP INDEX orders_by_customer");
  Store store(path_.string());
  Database& db = store.database();
  Statement check = db.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_text(0), "ok");
  Statement by_index = db.prepare(
      "SELECT count(*), count(DISTINCT customer_id), sum(amount) FROM orders INDEXED BY orders_by_customer "
      "WHERE customer_id > 0");
  Statement by_table = db.prepare("SELECT count(*), count(DISTINCT customer_id), sum(amount) FROM orders NOT INDEXED");
  ASSERT_TRUE(by_index.step());
  ASSERT_TRUE(by_table.step());
  EXPECT_EQ(by_index.column_int64(0), 200'000);
  EXPECT_EQ(by_index.column_int64(1), 50);
  EXPECT_EQ(by_index.column_int64(0), by_table.column_int64(0));
  EXPECT_DOUBLE_EQ(by_index.column_double(2), by_table.column_double(2));
}

TEST_F(StoreTest, ADatabaseNewerThanTheBinaryIsRefusedAndLeftUntouched) {
  {
    Store store(path_.string());
    store.database().exec(fmt::format("PRAGMA user_version = {}", Store::kSchemaVersion + 1));
  }
  const auto size_before = fs::file_size(path_);
  try {
    Store refused(path_.string());
    FAIL() << "a newer schema must be refused";
  } catch (const StoreError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("{} has schema version {}, newer than this crmhost knows ({}); use a newer crmhost. The "
                          "database was not modified",
                          path_.string(), Store::kSchemaVersion + 1, Store::kSchemaVersion));
  }
  EXPECT_EQ(fs::file_size(path_), size_before);
  Database raw(path_.string());
  Statement version = raw.prepare("PRAGMA user_version");
  ASSERT_TRUE(version.step());
  EXPECT_EQ(version.column_int64(0), Store::kSchemaVersion + 1);
}

TEST_F(StoreTest, AnotherApplicationsDatabaseIsRefused) {
  {
    Database other(path_.string());
    other.exec("CREATE TABLE invoices(id INTEGER PRIMARY KEY)");
  }
  EXPECT_THROW(Store store(path_.string()), StoreError);
}

TEST_F(StoreTest, ANewerDatabaseInRollbackJournalModeIsLeftByteForByteUntouched) {
  // Made by a newer crmhost and copied around without its WAL: switching it to
  // WAL before refusing would rewrite its header.
  raw_exec(fmt::format(
      "PRAGMA journal_mode = DELETE; CREATE TABLE runs(id INTEGER PRIMARY KEY); INSERT INTO runs VALUES (1); "
      "PRAGMA application_id = {}; PRAGMA user_version = {};",
      0x43524D31, Store::kSchemaVersion + 1));
  const std::string before = file_bytes();
  EXPECT_NE(refusal().find("newer than this crmhost knows"), std::string::npos);
  EXPECT_EQ(file_bytes(), before);
  EXPECT_FALSE(fs::exists(path_.string() + "-wal"));
}

TEST_F(StoreTest, ANegativeOrDamagedSchemaVersionIsRefusedNamingItAndLeftUntouched) {
  { const Store store(path_.string()); }
  for (const std::int64_t version : {-1LL, -2147483648LL}) {
    raw_exec(fmt::format("PRAGMA user_version = {}", version));
    const std::string before = file_bytes();
    EXPECT_EQ(refusal(), fmt::format("{} has schema version {}, which no crmhost writes (0 to {}): the file was "
                                     "changed outside crmhost, or is damaged; restore it from a backup. The database "
                                     "was not modified",
                                     path_.string(), version, Store::kSchemaVersion));
    EXPECT_EQ(file_bytes(), before);
  }
}

TEST_F(StoreTest, AFileThatIsNoDatabaseIsRefusedAsSuch) {
  std::ofstream(path_, std::ios::binary) << std::string(4096, 'x');
  const std::string message = refusal();
  EXPECT_NE(message.find(fmt::format("{} cannot be read as a database", path_.string())), std::string::npos) << message;
  EXPECT_EQ(file_bytes(), std::string(4096, 'x'));
}

TEST_F(StoreTest, ATableOrColumnMissingFromACurrentDatabaseIsNamedAtOpen) {
  { const Store store(path_.string()); }
  raw_exec("DROP TABLE quarantine; ALTER TABLE tasks DROP COLUMN outcome; DROP INDEX alerts_active");
  const std::string before = file_bytes();
  EXPECT_EQ(refusal(), fmt::format("{} lacks column tasks.outcome, index alerts_active, table quarantine of schema "
                                   "version {} (changed outside crmhost, or damaged); restore it from a backup, or "
                                   "give --db a new file",
                                   path_.string(), Store::kSchemaVersion));
  EXPECT_EQ(file_bytes(), before);
}

TEST_F(StoreTest, AnOlderDatabaseMissingATableIsRefusedAtOpenAndNotHalfMigrated) {
  { const Store store(path_.string()); }
  // Version 4 as far as the file says, but the outbox that migration 5 alters is gone.
  raw_exec("DROP TABLE outbox; PRAGMA user_version = 4");
  const std::string message = refusal();
  EXPECT_NE(message.find(fmt::format("{} cannot be migrated from schema version 4 to {}", path_.string(),
                                     Store::kSchemaVersion)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("no such table: outbox"), std::string::npos) << message;
  // Rolled back: still version 4, no column of a later migration.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(statement, 0), 4);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

TEST_F(StoreTest, RunsLeftRunningAreMarkedInterruptedByTheNextHolderOfTheJobLock) {
  Store store(path_.string());
  const std::int64_t finished = store.begin_run("run", 1'000);
  store.finish_run(finished, "ok", "{}", 2'000);
  const std::int64_t killed_run = store.begin_run("run", 1'767'225'600'000);  // 2026-01-01 00:00:00 UTC
  const std::int64_t killed_sync = store.begin_connector_run("erp_csv", 1'767'225'601'000);
  {
    const JobLock held(path_.string(), "run", 1'767'229'200'000);
    const std::vector<InterruptedRun> runs = store.close_interrupted_runs(held, 1'767'229'200'000);
    ASSERT_EQ(runs.size(), 2U);
    EXPECT_EQ(describe_interrupted_runs(runs),
              fmt::format("2 runs were left 'running' by a crmhost that ended without finishing (killed or crashed), "
                          "now marked interrupted: run {} (run, started 2026-01-01 00:00:00 UTC), connector run {} "
                          "(erp_csv, started 2026-01-01 00:00:01 UTC)",
                          killed_run, killed_sync));
    EXPECT_TRUE(store.close_interrupted_runs(held, 1'767'229'200'000).empty());
  }
  Statement statuses = store.database().prepare("SELECT group_concat(id || ' ' || status, ', ') FROM runs");
  ASSERT_TRUE(statuses.step());
  EXPECT_EQ(statuses.column_text(0), fmt::format("{} ok, {} interrupted", finished, killed_run));
  const std::optional<ConnectorRun> sync = store.last_connector_run("erp_csv");
  ASSERT_TRUE(sync.has_value());
  EXPECT_EQ(sync->status, "interrupted");
  EXPECT_EQ(sync->message,
            "the process ended before the run finished (killed or crashed); found by the next job at 2026-01-01 "
            "01:00:00 UTC");
}

}  // namespace
}  // namespace crm::host
