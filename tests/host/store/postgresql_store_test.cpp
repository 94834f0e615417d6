// The PostgreSQL backend's own behaviour: what the SQLite-file tests in
// store_test.cpp check for a file, checked here for a database. These tests
// run in the ".postgresql" variant of the suite (the suite's server); the
// rest of the suite runs there too, against the same repositories.
#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <string>

#include "store/job_lock.hpp"
#include "store/postgresql/connection.hpp"
#include "store/store.hpp"
#include "store/store_copy.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

TEST(PostgresqlPlaceholders, NumberedAndBareBecomeDollarsOutsideLiteralsAndComments) {
  int count = 0;
  EXPECT_EQ(postgresql::translate_placeholders("SELECT ?1, ?2 WHERE a = ?1", count), "SELECT $1, $2 WHERE a = $1");
  EXPECT_EQ(count, 2);
  EXPECT_EQ(postgresql::translate_placeholders("INSERT INTO t VALUES (?, ?, ?)", count),
            "INSERT INTO t VALUES ($1, $2, $3)");
  EXPECT_EQ(count, 3);
  EXPECT_EQ(postgresql::translate_placeholders("SELECT '?', \"a?\" -- why?\n, ?10", count),
            "SELECT '?', \"a?\" -- why?\n, $10");
  EXPECT_EQ(count, 10);
}

TEST(DatabaseLocators, PasswordsNeverShowInTheDisplayForm) {
  EXPECT_EQ(DatabaseLocator::parse("crm.db").kind, DatabaseKind::sqlite);
  const DatabaseLocator url =
      DatabaseLocator::parse("postgresql://crm:s3cret@db.example:5433/crm?password=x&sslmode=require");
  EXPECT_EQ(url.kind, DatabaseKind::postgresql);
  EXPECT_EQ(url.display(), "postgresql://crm@db.example:5433/crm?sslmode=require");
  EXPECT_EQ(DatabaseLocator::parse("postgres://h/db").display(), "postgres://h/db");
}

class PostgresqlStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::on_postgresql())
        << "needs the suite's PostgreSQL server: run the .postgresql variant through ctest (it starts one)";
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    locator_ = testing::store_locator(dir_ / fmt::format("pg-{}-{}.db", test->name(), ::getpid()));
  }
  fs::path dir_ = fs::temp_directory_path();
  std::string locator_;
};

TEST_F(PostgresqlStore, CreatesTheSchemaOnceAndKeepsRowsAcrossOpens) {
  {
    Store store(locator_);
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    store.write_checkpoint("erp_csv", "cursor-1", 10);
    // Bytes that are not text (NUL, invalid UTF-8) are quarantined as they were read.
    store.quarantine("erp_csv", std::string("a\0b\xff\xfe", 5), "bad bytes", 11);
    EXPECT_GT(store.begin_run("run", 12), 0);
  }
  Store again(locator_);
  EXPECT_EQ(again.read_checkpoint("erp_csv"), "cursor-1");
  const auto entries = again.list_quarantine("erp_csv");
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].raw_record, std::string("a\0b\xff\xfe", 5));
  EXPECT_EQ(entries[0].reason, "bad bytes");
}

TEST_F(PostgresqlStore, AnotherApplicationsTablesAreRefusedAndLeftAlone) {
  {
    Database raw(locator_);
    raw.exec("CREATE TABLE invoices (id BIGINT)");
  }
  try {
    const Store store(locator_);
    FAIL() << "opened a database holding another application's tables";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("already holds tables of another application"), std::string::npos) << e.what();
  }
  Database raw(locator_);
  Statement tables = raw.prepare("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'");
  ASSERT_TRUE(tables.step());
  EXPECT_EQ(tables.column_int64(0), 1);
}

TEST_F(PostgresqlStore, ANewerSchemaIsRefusedNamingBothVersions) {
  { const Store store(locator_); }
  {
    Database raw(locator_);
    raw.exec("UPDATE crm_schema SET version = 99");
  }
  try {
    const Store store(locator_);
    FAIL() << "opened a newer schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99, newer than this crmhost knows"), std::string::npos)
        << e.what();
  }
}

TEST_F(PostgresqlStore, AMissingColumnIsNamedAtOpen) {
  { const Store store(locator_); }
  {
    Database raw(locator_);
    raw.exec("ALTER TABLE alerts DROP COLUMN labels");
  }
  try {
    const Store store(locator_);
    FAIL() << "opened a damaged schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("lacks column alerts.labels"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresqlStore, TheJobLockIsAnAdvisoryLockNamingItsHolder) {
  { const Store store(locator_); }
  const JobLock held(locator_, "run", 1'700'000'000'000);
  try {
    const JobLock second(locator_, "sync", 1'700'000'000'000);
    FAIL() << "two jobs held the lock";
  } catch (const JobLockBusy& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("crmhost run pid"), std::string::npos) << message;
    EXPECT_NE(message.find("2023-11-14 22:13:20 UTC"), std::string::npos) << message;
  }
}

TEST_F(PostgresqlStore, AStoreCopiedFromSqliteHoldsTheSameRowsAndNewIdsFollowTheCopiedOnes) {
  const fs::path file = dir_ / fmt::format("crm-copy-{}.db", ::getpid());
  fs::remove(file);
  std::int64_t last_run = 0;
  {
    Store sqlite_store(file.string());
    sqlite_store.write_checkpoint("erp_csv", "c", 1);
    sqlite_store.quarantine("erp_csv", std::string("x\0y", 3), "tab\tand\nnewline \\ backslash", 2);
    for (int i = 0; i < 5; ++i) {
      last_run = sqlite_store.begin_run("run", 3 + i);
    }
    Database& db = sqlite_store.database();
    db.exec(
        "INSERT INTO customers(source, external_id, name) VALUES ('erp', 'C1', '北京客户'), ('erp', 'C2', NULL);"
        "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount) VALUES "
        "('erp', 'O1', 1, 1700000000000, 12.25), ('erp', 'O2', 2, NULL, 0.1)");
  }
  Store from(file.string());
  Store to(locator_);
  const StoreCopyResult copied = copy_store(from, to);
  EXPECT_TRUE(copied.verified);
  EXPECT_EQ(copied.rows, 1 + 1 + 5 + 2 + 2);
  EXPECT_GT(to.begin_run("run", 100), last_run);
  EXPECT_EQ(to.list_quarantine("erp_csv").at(0).raw_record, std::string("x\0y", 3));
  // Copying again into a store that holds rows is refused, naming it.
  try {
    copy_store(from, to);
    FAIL() << "copied into a store holding rows";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("is not empty"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

}  // namespace
}  // namespace crm::host
