// The SDK's plain-C example pack (examples/c_pack: a connector and a channel
// in one library, built with crm_add_plugin KINDS connector channel) through
// the real loader, sync engine and alert engine: the real CDNOW purchase log
// syncs through the C connector, and alerts go out through the C channel.
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>

#include "alerts/alert_engine.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using testing::SyncHarness;
using testing::TempDir;

const fs::path kCdnow = fs::path(CRM_SOURCE_DIR) / ".." / "shared" / "data" / "cdnow" / "CDNOW_master.txt";

TEST(CPackExample, BothPluginsOfThePackLoadFromOneLibraryAtAbi12) {
  testing::TestHost test;
  test.load({CRM_EXAMPLE_PLUGIN_DIR}, {{"pack_purchase_log", {{"config", {{"path", kCdnow.string()}}}}},
                                       {"pack_file_channel", {{"config", {{"path", "/tmp/unused"}}}}}});
  for (const char* id : {"pack_purchase_log", "pack_file_channel"}) {
    const PluginRecord* record = test.record(id);
    ASSERT_NE(record, nullptr) << id;
    EXPECT_EQ(record->state, PluginState::loaded) << id << ": " << record->reason;
    EXPECT_EQ(record->abi, "1.2");
    EXPECT_EQ(record->file.filename(), "example_pack.so");
  }
  EXPECT_EQ(test.record("pack_purchase_log")->kind, "connector");
  EXPECT_EQ(test.record("pack_file_channel")->kind, "channel");
}

TEST(CPackExample, SyncsTheRealCdnowPurchaseLogThroughTheCConnectorAndResumesFromItsCursor) {
  TempDir dir("c-pack-sync");
  SyncHarness harness(dir / "crm.db");
  // CDNOW: 69,659 purchases of 23,570 customers, one header line, CRLF.
  LoadedPlugin& connector = harness.load(
      {CRM_EXAMPLE_PLUGIN_DIR},
      {{"pack_purchase_log", {{"config", {{"path", kCdnow.string()}, {"batch_size", 20000}}}}}}, "pack_purchase_log");
  const SyncSummary first = harness.sync(connector);
  ASSERT_EQ(first.status, "ok") << first.message;
  EXPECT_EQ(first.batches, 4U);  // 20,000 lines per batch
  EXPECT_EQ(first.source_records, 69'659U);
  EXPECT_EQ(first.quarantined, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE source = 'pack_purchase_log'"), 69'659);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers WHERE source = 'pack_purchase_log' AND is_placeholder = 0"),
            23'570);
  // The first line of data: customer 00001 bought one CD for $11.77 on 1997-01-01 (852076800000 ms).
  EXPECT_EQ(harness.text("SELECT c.external_id || ' ' || o.ordered_at_ms || ' ' || o.currency || ' ' || o.status "
                         "FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.external_id = 'L2'"),
            "00001 852076800000 USD confirmed");
  EXPECT_EQ(harness.number("SELECT quantity FROM orders WHERE external_id = 'L2'"), 1.0);
  EXPECT_EQ(harness.number("SELECT amount FROM orders WHERE external_id = 'L2'"), 11.77);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE amount = 0"), 80);

  // A second sync starts from the committed cursor: nothing new, nothing twice.
  const SyncSummary second = harness.sync(connector);
  ASSERT_EQ(second.status, "ok") << second.message;
  EXPECT_EQ(second.source_records, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 69'659);
}

TEST(CPackExample, QuarantinesABadLineWithItsNumberAndKeepsTheRest) {
  TempDir dir("c-pack-bad-line");
  const fs::path log = dir / "purchases.txt";
  std::ofstream(log) << "customer_id date cds value\n"
                        "00007 19970105 2 30.00\n"
                        "00007 19971332 1 5.00\n"
                        "00008 19970106 1 abc\n"
                        "00009 19980630 3 41.5\n";
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load(
      {CRM_EXAMPLE_PLUGIN_DIR}, {{"pack_purchase_log", {{"config", {{"path", log.string()}}}}}}, "pack_purchase_log");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 2);
  EXPECT_EQ(harness.joined("SELECT reason FROM quarantine ORDER BY id", " | "),
            "line 3: the date is not a valid YYYYMMDD | line 4: quantity and amount must be numbers");
}

TEST(CPackExample, ALastLineWithoutItsLineEndIsLeftForTheNextSync) {
  TempDir dir("c-pack-partial-line");
  const fs::path log = dir / "purchases.txt";
  // The writer has flushed half of line 3 so far.
  std::ofstream(log, std::ios::binary) << "customer_id date cds value\n"
                                          "00007 19970105 2 30.00\n"
                                          "00009 19980630 3 4";
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load(
      {CRM_EXAMPLE_PLUGIN_DIR}, {{"pack_purchase_log", {{"config", {{"path", log.string()}}}}}}, "pack_purchase_log");
  SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 1U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 1);

  std::ofstream(log, std::ios::binary | std::ios::app) << "1.5\n";
  summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 1U);
  EXPECT_EQ(summary.quarantined, 0U);
  EXPECT_EQ(harness.number("SELECT amount FROM orders WHERE external_id = 'L3'"), 41.5);
  EXPECT_EQ(harness.count("SELECT count(*) FROM quarantine"), 0);
}

TEST(CPackExample, DeliversAlertsThroughTheCChannelAndARouteWithoutLevelsTakesSignalsToo) {
  TempDir dir("c-pack-channel");
  const fs::path out = dir / "alerts.txt";
  testing::TestHost test;
  test.load({CRM_EXAMPLE_PLUGIN_DIR},
            {{"pack_file_channel",
              {{"config", {{"path", out.string()}, {"cc", {"audit@example.test", "ops@example.test"}}}}}}});
  ASSERT_NE(test.host().find("pack_file_channel"), nullptr) << test.record("pack_file_channel")->reason;
  Store store(testing::store_locator(dir / "crm.db"));
  AlertSettings settings;
  settings.roles = {{"csm", {"csm@example.test"}}};
  // No `levels`: the route matches every alert, bands and rule signals alike.
  settings.routes = {{.channel = "pack_file_channel", .recipients = {"@csm"}}};
  AlertEngine alerts(store, test.host(), test.logger(), test.clock(), settings, {});
  const std::int64_t run =
      testing::insert_scoring_run(store, test.clock().now_ms(), {{1, "red", "", 20}, {2, "green", "volume_drop", 85}});
  AlertCounts counts = alerts.evaluate(run);
  EXPECT_EQ(counts.opened_by_level["red"], 1U);
  EXPECT_EQ(counts.opened_by_level["signal"], 1U);
  EXPECT_EQ(alerts.deliver().delivered, 2U);
  const std::string written = testing::read_text(out);
  EXPECT_EQ(testing::count_occurrences(written, "=== crm-alert-"), 2U);
  EXPECT_EQ(testing::count_occurrences(written, "to: csm@example.test, audit@example.test, ops@example.test\n"), 2U);
  EXPECT_EQ(testing::count_occurrences(written, "[red] customer 1"), 1U);
  EXPECT_EQ(testing::count_occurrences(written, "critical opened"), 1U);
}

}  // namespace
}  // namespace crm::host
