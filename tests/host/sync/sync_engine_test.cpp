// The sync engine's contract with connectors: retries with bounded, jittered
// exponential backoff; one clear error for bad credentials; cancellation at
// a batch boundary; cursor and counts; customers linked across sources.
#include "sync/sync_engine.hpp"

#include <gtest/gtest.h>

#include "support/sync_harness.hpp"

namespace crm::host {
namespace {

using testing::SyncHarness;
using testing::TempDir;

nlohmann::json flaky(const nlohmann::json& config) {
  return {{"flaky_connector", {{"config", config}}}};
}

TEST(SyncEngine, RetriesARetriableSourceWithBoundedJitteredBackoff) {
  TempDir dir("sync-retry");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, flaky({{"fail_times", 3}}), "flaky_connector");
  SyncOptions options;
  options.initial_backoff_ms = 1000;
  options.max_backoff_ms = 3000;
  const std::int64_t start_ms = harness.clock().now_ms();
  const SyncSummary summary = harness.sync(connector, options);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.counts.inserted, 1U);
  // Three waits: within [500, 1000], [1000, 2000], [1500, 3000] (capped), moved on the test clock.
  const std::int64_t waited_ms = harness.clock().now_ms() - start_ms;
  EXPECT_GE(waited_ms, 500 + 1000 + 1500);
  EXPECT_LE(waited_ms, 1000 + 2000 + 3000);
}

TEST(SyncEngine, GivesUpOnARetriableSourceAfterMaxAttempts) {
  TempDir dir("sync-give-up");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, flaky({{"fail_times", 10}}), "flaky_connector");
  SyncOptions options;
  options.max_attempts = 4;
  const SyncSummary summary = harness.sync(connector, options);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message, "retriable error: source returned HTTP 503 (gave up after 4 attempts)");
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 0);
  EXPECT_EQ(harness.text("SELECT status || ': ' || message FROM connector_runs"),
            "failed: retriable error: source returned HTTP 503 (gave up after 4 attempts)");
}

TEST(SyncEngine, BadCredentialsAreOneConfigErrorWithoutRetrying) {
  TempDir dir("sync-config");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector =
      harness.load({CRM_TEST_PLUGIN_DIR}, flaky({{"fail_times", 1}, {"failure", "config"}}), "flaky_connector");
  const std::int64_t start_ms = harness.clock().now_ms();
  const SyncSummary summary = harness.sync(connector);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message,
            "config error: login refused: the API key is wrong (check plugins.flaky_connector.config.api_key)");
  EXPECT_EQ(harness.clock().now_ms(), start_ms) << "a config error is not retried";
}

TEST(SyncEngine, CommitsEachBatchWithItsCursorAndStopsAtABatchBoundaryWhenCancelled) {
  TempDir dir("sync-cancel");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, flaky({{"batches", 10}}), "flaky_connector");
  SyncOptions options;
  options.on_progress = [&](const SyncSummary& progress) {
    if (progress.batches == 3) {
      harness.cancelled() = true;  // as Ctrl-C would
    }
  };
  SyncSummary summary = harness.sync(connector, options);
  EXPECT_EQ(summary.status, "cancelled");
  EXPECT_EQ(summary.batches, 3U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 3);
  EXPECT_EQ(harness.store().read_checkpoint("flaky_connector"), std::optional<std::string>("3"));

  harness.cancelled() = false;
  summary = harness.sync(connector);
  EXPECT_EQ(summary.status, "ok");
  EXPECT_EQ(summary.batches, 7U) << "resumes after the third batch";
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 10);
  const auto run = harness.store().last_connector_run("flaky_connector");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->inserted, 7U);
  EXPECT_EQ(run->cursor, "10");
}

TEST(SyncEngine, CustomersOfTwoSourcesWithOneTaxIdAreOneCustomer) {
  TempDir dir("sync-link");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, flaky({{"batches", 2}}), "flaky_connector");
  ASSERT_EQ(harness.sync(connector).status, "ok");
  // The same companies, seen by another source (an ERP) under other ids.
  Database& db = harness.store().database();
  db.exec("UPDATE customers SET source = 'wecom'");
  db.exec("DELETE FROM plugin_checkpoints");
  ASSERT_EQ(harness.sync(connector).status, "ok");
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 4);
  EXPECT_EQ(harness.count("SELECT count(DISTINCT unified_id) FROM customers"), 2);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers a JOIN customers b ON a.unified_id = b.unified_id "
                          "AND a.source = 'wecom' AND b.source = 'flaky_connector' AND a.tax_id = b.tax_id"),
            2);
}

nlohmann::json bad_ids(const std::string& reprocess) {
  return {{"bad_ids_connector", {{"config", {{"reprocess", reprocess}}}}}};
}

// Every connector's ids pass the host's check, not only erp_csv's: NUL, C0
// and C1 controls, DEL and invalid UTF-8 in external_id or any reference
// quarantine that one record; the rest of the batch is stored.
TEST(SyncEngine, QuarantinesEachRecordWhoseIdsHoldNulControlsOrInvalidUtf8AndStoresTheRest) {
  TempDir dir("sync-bad-ids");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, bad_ids("fatal"), "bad_ids_connector");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.quarantined, 9U);
  EXPECT_EQ(summary.fetched, 4U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 3);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers WHERE external_id IN ('K1', '客户9', 'K😀10')"), 3);
  EXPECT_EQ(harness.joined("SELECT external_id FROM orders ORDER BY external_id"), "O1");
  EXPECT_EQ(harness.count("SELECT count(*) FROM payments"), 0);
  for (const char c : harness.joined("SELECT external_id FROM customers", "")) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "a stored id holds a NUL or C0 control byte";
  }
  const auto entries = harness.store().list_quarantine("bad_ids_connector");
  ASSERT_EQ(entries.size(), 9U);
  const std::string rule =
      "; an id may hold neither NUL, control characters nor invalid UTF-8 (correct the id in the source)";
  EXPECT_EQ(entries[0].reason, "customer record 2 of the batch: external_id holds a NUL byte at byte 2" + rule);
  EXPECT_EQ(entries[0].raw_record, R"(customer external_id="K\x002")");
  EXPECT_EQ(entries[1].reason,
            "customer record 3 of the batch: external_id holds control character U+001B at byte 2" + rule);
  EXPECT_EQ(entries[2].reason,
            "customer record 4 of the batch: external_id holds control character U+007F at byte 2" + rule);
  EXPECT_EQ(entries[3].reason,
            "customer record 5 of the batch: external_id holds control character U+0085 at byte 2" + rule);
  EXPECT_EQ(entries[3].raw_record, R"(customer external_id="K\xC2\x855")");
  EXPECT_EQ(entries[4].reason,
            "customer record 6 of the batch: external_id holds a byte 0xFF that is not UTF-8 at byte 2" + rule);
  EXPECT_EQ(entries[5].reason,
            "customer record 7 of the batch: external_id holds a byte 0xC0 that is not UTF-8 at byte 2" + rule);
  EXPECT_EQ(entries[6].reason,
            "customer record 8 of the batch: external_id holds a byte 0xED that is not UTF-8 at byte 2" + rule);
  EXPECT_EQ(entries[7].reason, "order record 2 of the batch: customer_external_id holds a NUL byte at byte 2" + rule);
  EXPECT_EQ(entries[7].raw_record, R"(order external_id="O2" customer_external_id="K\x001")");
  EXPECT_EQ(entries[8].reason,
            "payment record 1 of the batch: order_external_id holds control character U+0009 at byte 2" + rule);
  for (const QuarantineEntry& entry : entries) {
    for (const char byte : entry.raw_record + entry.reason) {
      EXPECT_GE(static_cast<unsigned char>(byte), 0x20U) << "printed raw: " << entry.raw_record;
    }
  }
}

// abi.h: "the host stops using the plugin after FATAL".
TEST(SyncEngine, QuarantineRetryStopsCallingAConnectorAfterItFailsFatal) {
  TempDir dir("sync-retry-fatal");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, bad_ids("fatal"), "bad_ids_connector");
  ASSERT_EQ(harness.sync(connector).status, "ok");
  const auto before = harness.store().list_quarantine("bad_ids_connector", true);
  ASSERT_EQ(before.size(), 9U);
  const RetrySummary summary = harness.retry(connector);
  EXPECT_EQ(summary.released, 0U);
  EXPECT_EQ(summary.still_bad, 1U);
  EXPECT_EQ(summary.not_tried, 8U);
  EXPECT_EQ(summary.fatal_message, "the source's account was deleted");
  std::size_t calls = 0;
  for (const std::string& line : harness.log_lines()) {
    calls += line.find("reprocess called") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(calls, 1U);
  const auto after = harness.store().list_quarantine("bad_ids_connector", true);
  ASSERT_EQ(after.size(), 9U);
  EXPECT_EQ(after[0].reason, "fatal error: the source's account was deleted");
  for (std::size_t i = 1; i < after.size(); ++i) {
    EXPECT_EQ(after[i].reason, before[i].reason) << "entry " << i << " was not tried";
  }
}

TEST(SyncEngine, QuarantineRetryKeepsARecordWhoseReprocessedIdHoldsANulByte) {
  TempDir dir("sync-retry-bad-id");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_TEST_PLUGIN_DIR}, bad_ids("bad_id"), "bad_ids_connector");
  ASSERT_EQ(harness.sync(connector).status, "ok");
  const RetrySummary summary = harness.retry(connector);
  EXPECT_EQ(summary.released, 0U);
  EXPECT_EQ(summary.still_bad, 9U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 3);
  const auto after = harness.store().list_quarantine("bad_ids_connector", true);
  ASSERT_EQ(after.size(), 9U);
  EXPECT_EQ(after[0].reason,
            "customer record 1 of the batch: external_id holds a NUL byte at byte 2; an id may hold neither NUL, "
            "control characters nor invalid UTF-8 (correct the id in the source)");
}

}  // namespace
}  // namespace crm::host
