// `crmhost sync` killed with SIGKILL in the middle of a large CSV import, then
// run again: the store must equal the result of one clean run, with no
// duplicate and no missing row (orders, customers and quarantine alike).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <sys/wait.h>
#include <thread>

#include "store/database.hpp"
#include "support/sqlite_peek.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

constexpr int kRows = 300'000;
constexpr int kBadEvery = 50'000;  // a malformed row now and then, to be quarantined

void write_orders(const fs::path& file) {
  std::ofstream out(file, std::ios::binary);
  out << "order,customer,date,amount\n";
  for (int i = 1; i <= kRows; ++i) {
    if (i % kBadEvery == 0) {
      out << fmt::format("O{},C{},2026-02-30,1\n", i, i % 997);  // no 30 February
      continue;
    }
    out << fmt::format("O{},C{},2026-{:02}-{:02} 10:{:02}:00,{}.{:02}\n", i, i % 997, 1 + i % 12, 1 + i % 28, i % 60,
                       i % 500, i % 100);
  }
}

void write_config(const fs::path& file) {
  std::ofstream(file) << R"({
  "plugins": {
    "erp_csv": {"config": {
      "path": "exports",
      "record_type": "order",
      "batch_rows": 5000,
      "columns": {"external_id": "order", "customer_external_id": "customer", "ordered_at_ms": "date",
                  "amount": "amount"}
    }}
  }
})";
}

pid_t spawn_sync(const fs::path& config, const fs::path& db) {
  const std::string db_arg = testing::store_locator(db);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string config_arg = config.string();
    ::execl(CRM_HOST_BINARY, CRM_HOST_BINARY, "--config", config_arg.c_str(), "--db", db_arg.c_str(), "sync",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::int64_t scalar(const fs::path& db, const std::string& sql) {
  try {
    Database database(testing::store_locator(db));
    Statement statement = database.prepare(sql);
    return statement.step() ? statement.column_int64(0) : -1;
  } catch (const SqliteError&) {
    return -1;  // not created yet, or busy
  }
}

// Every row of `sql` as one text, sorted: compared between two stores of
// either backend (numbers read as numbers, so 1.5 is 1.5 on both).
std::vector<std::string> rows_of(const fs::path& db, const std::string& sql, int columns) {
  Database database(testing::store_locator(db));
  Statement statement = database.prepare(sql);
  std::vector<std::string> rows;
  while (statement.step()) {
    std::string row;
    for (int i = 0; i < columns; ++i) {
      row += statement.column_is_null(i) ? std::string("NULL") : statement.column_text(i);
      row += '\x1f';
    }
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Rows of `sql` in one store and not in the other, both ways.
std::int64_t differences(const fs::path& db, const fs::path& reference, const std::string& sql, int columns) {
  const std::vector<std::string> ours = rows_of(db, sql, columns);
  const std::vector<std::string> theirs = rows_of(reference, sql, columns);
  std::vector<std::string> different;
  std::set_symmetric_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(), std::back_inserter(different));
  return static_cast<std::int64_t>(different.size());
}

using testing::peek;

TEST(KillResume, ASyncKilledMidImportAndRerunEqualsOneCleanRun) {
  testing::TempDir dir("kill-resume");
  fs::create_directories(dir / "exports");
  write_orders(dir / "exports" / "orders.csv");
  write_config(dir / "crmhost.json");

  const fs::path reference = dir / "reference.db";
  ASSERT_EQ(wait_exit_code(spawn_sync(dir / "crmhost.json", reference)), 0);
  ASSERT_EQ(scalar(reference, "SELECT count(*) FROM orders"), kRows - kRows / kBadEvery);

  const fs::path killed = dir / "killed.db";
  const pid_t pid = spawn_sync(dir / "crmhost.json", killed);
  // Kill it as soon as its first batches are committed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::int64_t committed = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    committed = peek(testing::store_locator(killed), "SELECT count(*) FROM plugin_checkpoints");
    if (committed > 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit_code(pid), -SIGKILL);
  const std::int64_t orders_at_kill = scalar(killed, "SELECT count(*) FROM orders");
  ASSERT_GT(orders_at_kill, 0) << "the kill came before any batch was committed";
  ASSERT_LT(orders_at_kill, kRows - kRows / kBadEvery) << "the sync finished before the kill: nothing was tested";

  // The killed sync held the store's job lock (a file's flock, or a PostgreSQL
  // session's advisory lock); the kernel or the server dropped it with the process.
  EXPECT_TRUE(testing::on_postgresql() || fs::exists(killed.string() + ".lock"));
  ASSERT_EQ(wait_exit_code(spawn_sync(dir / "crmhost.json", killed)), 0);
  EXPECT_EQ(scalar(killed, "SELECT count(*) FROM orders"), kRows - kRows / kBadEvery);
  EXPECT_EQ(scalar(killed, "SELECT count(*) FROM quarantine"), kRows / kBadEvery);
  EXPECT_EQ(differences(killed, reference,
                        "SELECT o.source, o.external_id, c.external_id, o.ordered_at_ms, o.amount FROM orders o "
                        "JOIN customers c ON c.id = o.customer_id",
                        5),
            0);
  EXPECT_EQ(differences(killed, reference, "SELECT source, external_id, is_placeholder FROM customers", 3), 0);
  EXPECT_EQ(differences(killed, reference, "SELECT plugin_id, raw_record, reason FROM quarantine", 3), 0);
  EXPECT_EQ(differences(killed, reference, "SELECT plugin_id, cursor FROM plugin_checkpoints", 2), 0);
}

}  // namespace
}  // namespace crm::host
