#include "store/store.hpp"

#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>

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
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ignored;
      fs::remove(path_.string() + suffix, ignored);
    }
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

}  // namespace
}  // namespace crm::host
