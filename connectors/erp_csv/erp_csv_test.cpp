// erp_csv through the real loader, sync engine and SQLite store, on the real
// data in ../shared/data and on hand-made malformed files. Expected figures
// were computed independently with Python's csv module over the same files.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>

#include "support/sync_harness.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using testing::SyncHarness;
using testing::TempDir;

nlohmann::json with_path(nlohmann::json config, const std::string& path) {
  config["path"] = path;
  return config;
}

const fs::path kSharedData = fs::path(CRM_SOURCE_DIR) / ".." / "shared" / "data";

nlohmann::json online_retail_config(const fs::path& path) {
  return with_path(nlohmann::json::parse(R"({
    "record_type": "order",
    "external_id": {"columns": ["InvoiceNo"], "ordinal": true},
    "columns": {
      "customer_external_id": {"column": "CustomerID", "integer": true},
      "ordered_at_ms": "InvoiceDate",
      "amount": {"product": ["Quantity", "UnitPrice"]},
      "quantity": "Quantity",
      "product_line": "StockCode",
      "currency": {"constant": "GBP"},
      "status": {"column": "InvoiceNo", "when_prefix": {"C": "cancelled"}, "otherwise": "confirmed"}
    },
    "skip_rows_where_empty": ["CustomerID"]
  })"),
                   path.string());
}

nlohmann::json settings_for(const nlohmann::json& config) {
  return {{"erp_csv", {{"config", config}}}};
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

TEST(ErpCsv, OnlineRetailImportsEveryLineWithACustomerAndCancellationsAsNegativeOrders) {
  TempDir dir("erp-csv-online-retail");
  const fs::path csv = dir / "online_retail.csv";
  ASSERT_EQ(std::system(fmt::format("gzip -dc '{}' > '{}'",
                                    (kSharedData / "online_retail/online_retail_2010-12_2011-12.csv.gz").string(),
                                    csv.string())
                            .c_str()),
            0);
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(online_retail_config(csv)), "erp_csv");
  const SyncSummary first = harness.sync(connector);
  ASSERT_EQ(first.status, "ok") << first.message;
  EXPECT_EQ(first.source_records, 541'909U);
  EXPECT_EQ(first.fetched, 406'829U);  // 135,080 lines without CustomerID skipped by the explicit rule
  EXPECT_EQ(first.quarantined, 0U);
  EXPECT_EQ(first.counts.inserted, 406'829U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 406'829);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 4'372);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE amount < 0 AND status = 'cancelled'"), 8'905);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE status = 'cancelled'"), 8'905);
  EXPECT_NEAR(harness.number("SELECT sum(amount) FROM orders"), 8'300'065.81, 0.01);
  // The first line: 536365, 6 x 2.55, 2010-12-01 08:26:00 UTC, customer 17850.
  EXPECT_NEAR(harness.number("SELECT amount FROM orders WHERE external_id = '536365/1'"), 15.3, 1e-9);
  EXPECT_EQ(harness.count("SELECT ordered_at_ms FROM orders WHERE external_id = '536365/1'"), 1'291'191'960'000);
  EXPECT_EQ(harness.text("SELECT c.external_id FROM orders o JOIN customers c ON c.id = o.customer_id "
                         "WHERE o.external_id = '536365/1'"),
            "17850");
  // Customers get their ids in the order the file first names them, on either backend
  // (ids decide, among others, the win-back holdout).
  EXPECT_EQ(harness.count("SELECT id FROM customers WHERE external_id = '17850'"),
            harness.count("SELECT min(id) FROM customers"));
  EXPECT_EQ(harness.count("SELECT id FROM customers WHERE external_id = '13047'"),
            harness.count("SELECT min(id) FROM customers") + 1);

  // A second sync starts at the end of the file: nothing is read again.
  const SyncSummary second = harness.sync(connector);
  EXPECT_EQ(second.status, "ok");
  EXPECT_EQ(second.source_records, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 406'829);
}

TEST(ErpCsv, CdnowWhitespaceSeparatedWithCrlf) {
  TempDir dir("erp-csv-cdnow");
  SyncHarness harness(dir / "crm.db");
  const nlohmann::json config = with_path(nlohmann::json::parse(R"({
    "record_type": "order",
    "delimiter": "whitespace",
    "date_formats": ["%Y%m%d"],
    "external_id": {"columns": ["customer_id", "date"], "ordinal": true},
    "columns": {
      "customer_external_id": "customer_id",
      "ordered_at_ms": "date",
      "quantity": "number_of_cds",
      "amount": "dollar_value"
    }
  })"),
                                          (kSharedData / "cdnow/CDNOW_master.txt").string());
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.fetched, 69'659U);
  EXPECT_EQ(summary.quarantined, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 69'659);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 23'570);
  EXPECT_NEAR(harness.number("SELECT sum(amount) FROM orders"), 2'500'315.63, 0.01);
  EXPECT_EQ(harness.count("SELECT min(ordered_at_ms) FROM orders"), 852'076'800'000);  // 1997-01-01
}

// Customers in daily files: BOM, CRLF, Chinese names, quotes with commas, doubled quotes and line breaks.
const char* const kDay1 =
    "\xEF\xBB\xBF"
    "id,name,tax_id,industry,since\r\n"
    "C1,\"上海华东机械有限公司\",91310000X1,制造业,2020-03-01\r\n"
    "C2,\"Acme, Inc.\",US-77,\"Retail \"\"B2B\"\"\",2019-11-15\r\n";
const char* const kDay2 =
    "id,name,tax_id,industry,since\n"
    "C3,\"Nordic\nTrading AB\",SE-1,Wholesale,2021-01-31\n"
    "C1,\"上海华东机械有限公司\",91310000X1,机械制造,2020-03-01\n";

nlohmann::json customers_config(const fs::path& folder) {
  return with_path(nlohmann::json::parse(R"({
    "record_type": "customer",
    "columns": {"external_id": "id", "name": "name", "tax_id": "tax_id", "industry": "industry",
                "created_at_ms": "since"},
    "batch_rows": 2
  })"),
                   folder.string());
}

TEST(ErpCsv, AFolderOfDailyFilesIsReadIncrementallyAndRereadingChangesNothing) {
  TempDir dir("erp-csv-daily");
  const fs::path exports = dir / "exports";
  fs::create_directories(exports);
  write_file(exports / "customers-2026-11-01.csv", kDay1);
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(customers_config(exports)), "erp_csv");

  SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.counts.inserted, 2U);
  EXPECT_EQ(harness.text("SELECT name FROM customers WHERE external_id = 'C1'"), "上海华东机械有限公司");
  EXPECT_EQ(harness.text("SELECT name FROM customers WHERE external_id = 'C2'"), "Acme, Inc.");
  EXPECT_EQ(harness.text("SELECT industry FROM customers WHERE external_id = 'C2'"), "Retail \"B2B\"");

  write_file(exports / "customers-2026-11-02.csv", kDay2);
  summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 2U) << "only the new file is read";
  EXPECT_EQ(summary.counts.inserted, 1U);
  EXPECT_EQ(summary.counts.updated, 1U);
  EXPECT_EQ(harness.text("SELECT name FROM customers WHERE external_id = 'C3'"), "Nordic\nTrading AB");
  EXPECT_EQ(harness.text("SELECT industry FROM customers WHERE external_id = 'C1'"), "机械制造");
  EXPECT_EQ(harness.count("SELECT created_at_ms FROM customers WHERE external_id = 'C3'"), 1'612'051'200'000);

  // Forget the cursor: re-reading every file inserts nothing, and the store ends as it was.
  const auto snapshot = [&] {
    return harness.joined(
        "SELECT external_id || '|' || name || '|' || industry || '|' || tax_id FROM customers ORDER BY external_id",
        ";");
  };
  const std::string before = snapshot();
  harness.store().database().exec("DELETE FROM plugin_checkpoints");
  summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.counts.inserted, 0U);
  EXPECT_EQ(summary.counts.updated, 2U) << "C1 goes back to day 1's industry, then forward to day 2's";
  EXPECT_EQ(summary.counts.unchanged, 2U);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 3);
}

TEST(ErpCsv, MalformedRowsAreQuarantinedWithTheirReasonAndNothingElseIsLost) {
  TempDir dir("erp-csv-malformed");
  const fs::path file = dir / "orders.csv";
  const std::string huge_field(10 * 1024 * 1024, 'x');
  write_file(file,
             "order,customer,date,amount\n"
             "O1,C1,2026-01-05,10.5\n"
             "O2,C1,2026-01-06\n"           // wrong column count
             "O3,C2,2026-13-45,3\n"         // bad date
             "O4,C\xff\xfe,2026-01-07,4\n"  // invalid UTF-8
             "O5,C2," +
                 huge_field + ",5\n" +              // a 10 MB field
                 "O6,C2,2026-01-08,not-a-number\n"  // bad number
                 "O7,C3,2026-01-09,7\n"
                 "O8,\"C4,2026-01-10,8\n");  // unterminated quote, truncated file
  SyncHarness harness(dir / "crm.db");
  const nlohmann::json config = with_path(nlohmann::json::parse(R"({
    "record_type": "order",
    "columns": {"external_id": "order", "customer_external_id": "customer", "ordered_at_ms": "date",
                "amount": "amount"}
  })"),
                                          file.string());
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.fetched, 2U);
  EXPECT_EQ(summary.quarantined, 6U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE external_id IN ('O1', 'O7')"), 2);
  const auto entries = harness.store().list_quarantine("erp_csv");
  ASSERT_EQ(entries.size(), 6U);
  EXPECT_EQ(entries[0].reason, "orders.csv line 3: 3 columns where the file has 4");
  EXPECT_EQ(entries[1].reason, "orders.csv line 4: column date \"2026-13-45\" matches none of the date formats");
  EXPECT_EQ(entries[2].reason, "orders.csv line 5: column customer is not valid UTF-8");
  EXPECT_EQ(entries[3].reason, "orders.csv line 6: field 3 is larger than max_field_bytes");
  EXPECT_EQ(entries[4].reason, "orders.csv line 7: column amount \"not-a-number\" is not a number");
  EXPECT_EQ(entries[5].reason,
            "orders.csv line 9: the quoted field in column 2 is not closed before the end of the file");
  EXPECT_EQ(entries[0].raw_record, "erp_csv:v1 3 0 orders.csv\nO2,C1,2026-01-06");
}

nlohmann::json orders_config(const fs::path& file) {
  return with_path(nlohmann::json::parse(R"({
    "record_type": "order",
    "columns": {"external_id": "order", "customer_external_id": "customer", "ordered_at_ms": "date",
                "amount": "amount"}
  })"),
                   file.string());
}

// 40 orders; row 20 has `broken_row` in place of its good text.
std::string forty_orders(const std::string& broken_row = "") {
  std::string text = "order,customer,date,amount\r\n";
  for (int i = 1; i <= 40; ++i) {
    const std::string customer = i == 30 ? "\"C30, Ltd\"" : "C" + std::to_string(i);
    text += i == 20 && !broken_row.empty() ? broken_row
                                           : "O" + std::to_string(i) + "," + customer + ",2026-01-" +
                                                 std::to_string(10 + i % 20) + "," + std::to_string(i);
    text += "\r\n";
  }
  return text;
}

TEST(ErpCsv, AnUnbalancedQuoteCostsOneRowAndRetryRestoresItOnceTheFileIsFixed) {
  TempDir dir("erp-csv-unbalanced");
  const fs::path file = dir / "orders.csv";
  // The quote opened on line 21 "closes" at the quote of row 30 (line 31), followed by text.
  write_file(file, forty_orders("O20,\"C20,2026-01-10,20"));
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(file)), "erp_csv");
  SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.fetched, 39U);
  EXPECT_EQ(summary.quarantined, 1U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 39);
  EXPECT_EQ(harness.text("SELECT c.external_id FROM orders o JOIN customers c ON c.id = o.customer_id "
                         "WHERE o.external_id = 'O30'"),
            "C30, Ltd");
  auto entries = harness.store().list_quarantine("erp_csv");
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].reason,
            "orders.csv line 21: the quoted field in column 2 closes on line 31 followed by text; a quote is missing "
            "or extra");
  EXPECT_EQ(entries[0].raw_record, "erp_csv:v1 21 0 orders.csv\nO20,\"C20,2026-01-10,20");
  EXPECT_EQ(harness.retry(connector).still_bad, 1U) << "the file is not fixed yet";

  // The file is fixed in place (one byte longer): sync reads nothing new, retry releases row 20.
  write_file(file, forty_orders("O20,\"C20\",2026-01-10,20"));
  summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 0U);
  EXPECT_EQ(summary.quarantined, 0U);
  const auto logged = harness.log_lines();
  EXPECT_TRUE(std::any_of(logged.begin(), logged.end(), [](const std::string& line) {
    return line.find("orders.csv changed before line 42 since the last sync; going on from that line") !=
           std::string::npos;
  }));
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.released, 1U);
  EXPECT_EQ(retried.still_bad, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 40);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                          "WHERE o.external_id = 'O20' AND c.external_id = 'C20' AND o.amount = 20"),
            1);
  EXPECT_TRUE(harness.store().list_quarantine("erp_csv", true).empty());

  // Rows appended after the fix are read from the right line, not from a stale byte offset.
  std::ofstream(file, std::ios::app | std::ios::binary) << "O41,C41,2026-01-11,41\r\n";
  summary = harness.sync(connector);
  EXPECT_EQ(summary.fetched, 1U);
  EXPECT_EQ(summary.quarantined, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 41);
}

TEST(ErpCsv, RetryRestoresEveryRowThatAnOlderReleaseSwallowedBehindAnUnbalancedQuote) {
  TempDir dir("erp-csv-swallowed");
  const fs::path file = dir / "orders.csv";
  const std::string broken = forty_orders("O20,\"C20,2026-01-10,20");
  write_file(file, broken);
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(file)), "erp_csv");
  ASSERT_EQ(harness.sync(connector).fetched, 39U);
  // What erp_csv 0.1 stored: rows 20 to 40 as one record, and only 19 orders.
  harness.store().database().exec("DELETE FROM orders WHERE CAST(substr(external_id, 2) AS INTEGER) > 20");
  for (const auto& entry : harness.store().list_quarantine("erp_csv")) {
    harness.store().mark_reprocessed(entry.id, 1);
  }
  const std::size_t line_21 = broken.find("O20,");
  harness.store().quarantine("erp_csv",
                             "erp_csv:v1 21 0 orders.csv\n" + broken.substr(line_21, broken.size() - line_21 - 2),
                             "orders.csv line 21: a quoted field is not closed before the end of the file", 1);
  ASSERT_EQ(harness.count("SELECT count(*) FROM orders"), 19);

  write_file(file, forty_orders("O20,\"C20\",2026-01-10,20"));
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.released, 1U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 40);
  EXPECT_EQ(harness.number("SELECT sum(amount) FROM orders"), 820.0);
}

// What erp_csv 0.1 left behind for `broken`: the rows from line 21 on swallowed
// into one quarantined record (its text cut at `kept_bytes`), and only rows 1 to 19 imported.
void quarantine_as_release_0_1_did(SyncHarness& harness, const std::string& broken,
                                   std::size_t kept_bytes = std::string::npos) {
  harness.store().database().exec("DELETE FROM orders WHERE CAST(substr(external_id, 2) AS INTEGER) > 19");
  for (const auto& entry : harness.store().list_quarantine("erp_csv")) {
    harness.store().mark_reprocessed(entry.id, 1);
  }
  const std::size_t line_21 = broken.find("O20,");
  const std::string tail = broken.substr(line_21, broken.size() - line_21 - 2);
  harness.store().quarantine("erp_csv", "erp_csv:v1 21 0 orders.csv\n" + tail.substr(0, kept_bytes),
                             "orders.csv line 21: a quoted field is not closed before the end of the file", 1);
  ASSERT_EQ(harness.count("SELECT count(*) FROM orders"), 19);
}

TEST(ErpCsv, RetryRestoresASwallowedTailLongerThanTheOneMebibyteAnOlderReleaseKept) {
  TempDir dir("erp-csv-swallowed-long");
  const fs::path file = dir / "orders.csv";
  const auto orders = [](const std::string& row_20) {
    std::string text = "order,customer,date,amount\r\n";
    for (int i = 1; i <= 60'000; ++i) {
      text += i == 20 ? row_20
                      : "O" + std::to_string(i) + ",C" + std::to_string(i % 100) + ",2026-01-" +
                            std::to_string(10 + i % 20) + "," + std::to_string(i % 7);
      text += "\r\n";
    }
    return text;
  };
  const std::string broken = orders("O20,\"C20,2026-01-10,20");
  ASSERT_GT(broken.size(), (std::size_t{1} << 20U) + 300'000);
  write_file(file, broken);
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(file)), "erp_csv");
  ASSERT_EQ(harness.sync(connector).fetched, 59'999U);
  quarantine_as_release_0_1_did(harness, broken, std::size_t{1} << 20U);

  write_file(file, orders("O20,\"C20\",2026-01-10,20"));
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.released, 1U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 60'000);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE external_id = 'O60000'"), 1);
}

TEST(ErpCsv, OneStillBadRowAmongSwallowedRowsIsQuarantinedAloneAndTheOthersAreRestored) {
  TempDir dir("erp-csv-swallowed-bad-row");
  const fs::path file = dir / "orders.csv";
  const auto with_bad_row_25 = [](std::string text) {
    const std::string good = "O25,C25,2026-01-15,25";
    return text.replace(text.find(good), good.size(), "O25,C25,2026-13-45,25");
  };
  const std::string broken = with_bad_row_25(forty_orders("O20,\"C20,2026-01-10,20"));
  write_file(file, broken);
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(file)), "erp_csv");
  harness.sync(connector);
  quarantine_as_release_0_1_did(harness, broken);

  write_file(file, with_bad_row_25(forty_orders("O20,\"C20\",2026-01-10,20")));
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.released, 1U);
  EXPECT_EQ(retried.still_bad, 0U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 39);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE external_id = 'O25'"), 0);
  const auto entries = harness.store().list_quarantine("erp_csv", true);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].reason, "orders.csv line 26: column date \"2026-13-45\" matches none of the date formats");
  EXPECT_EQ(entries[0].raw_record, "erp_csv:v1 26 0 orders.csv\nO25,C25,2026-13-45,25");
}

TEST(ErpCsv, RetryNeverReleasesAnInvoiceLineUnderTheNumberOfAnotherImportedLine) {
  TempDir dir("erp-csv-retry-ordinal");
  const fs::path file = dir / "lines.csv";
  using namespace std::string_literals;
  // Line 2: the broken quote hides the invoice, so line 3 became INV7/1 and line 4 INV7/2.
  // Line 5: INV8 with a NUL was INV8<NUL>/1, and line 6 became INV8/1.
  write_file(file,
             "description,invoice,customer,date,amount\n"
             "\"gadget,INV7,C1,2026-01-05,20\n"
             "widget,INV7,C1,2026-01-05,10\n"
             "gizmo,INV7,C1,2026-01-05,30\n"
             "bolt,INV8\0,C2,2026-01-06,40\n"s
             "nut,INV8,C2,2026-01-06,50\n");
  SyncHarness harness(dir / "crm.db");
  const nlohmann::json config = with_path(nlohmann::json::parse(R"({
    "record_type": "order",
    "external_id": {"columns": ["invoice"], "ordinal": true},
    "columns": {"customer_external_id": "customer", "ordered_at_ms": "date", "amount": "amount"}
  })"),
                                          file.string());
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.fetched, 3U);
  ASSERT_EQ(summary.quarantined, 2U);

  write_file(file,
             "description,invoice,customer,date,amount\n"
             "gadget,INV7,C1,2026-01-05,20\n"
             "widget,INV7,C1,2026-01-05,10\n"
             "gizmo,INV7,C1,2026-01-05,30\n"
             "bolt,INV8,C2,2026-01-06,40\n"
             "nut,INV8,C2,2026-01-06,50\n");
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.released, 0U);
  EXPECT_EQ(retried.still_bad, 2U);
  EXPECT_EQ(harness.number("SELECT amount FROM orders WHERE external_id = 'INV7/1'"), 10.0) << "widget's order";
  EXPECT_EQ(harness.number("SELECT amount FROM orders WHERE external_id = 'INV7/2'"), 30.0);
  EXPECT_EQ(harness.number("SELECT amount FROM orders WHERE external_id = 'INV8/1'"), 50.0) << "nut's order";
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), 3);
  const auto entries = harness.store().list_quarantine("erp_csv", true);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[0].reason,
            "lines.csv line 2: its id columns (invoice) could not be read when it was quarantined, so the lines "
            "after it took its number; releasing it could replace another line's record; re-import the file from "
            "its start so that every line of it is numbered again");
  EXPECT_EQ(entries[1].reason,
            "lines.csv line 5: the fix changed its id columns from 'INV8\\x00' to 'INV8', whose numbering other "
            "lines already hold; re-import the file from its start so that every line of it is numbered again");
}

TEST(ErpCsv, RetryDoesNotReleaseARowWhenAnotherRecordNowStartsOnItsLine) {
  TempDir dir("erp-csv-retry-shifted");
  const fs::path file = dir / "orders.csv";
  write_file(file,
             "order,customer,date,amount\n"
             "O1,C1,2026-01-05,1\n"
             "O2,C2,2026-01-05,two\n"
             "O3,C3,2026-01-05,3\n");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(file)), "erp_csv");
  ASSERT_EQ(harness.sync(connector).quarantined, 1U);
  // Fixed, but a line was deleted before it: line 3 is O3's now.
  write_file(file,
             "order,customer,date,amount\n"
             "O2,C2,2026-01-05,2\n"
             "O3,C3,2026-01-05,3\n");
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.released, 0U);
  EXPECT_EQ(retried.still_bad, 1U);
  const auto entries = harness.store().list_quarantine("erp_csv", true);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].reason,
            "orders.csv line 3 now holds another record ('O3' where the quarantined row had 'O2'): lines were added "
            "or removed before it; fix the file in place keeping its line numbers, or re-import it");
}

TEST(ErpCsv, RetryAgainstAFileTruncatedToEmptySaysSo) {
  TempDir dir("erp-csv-retry-empty");
  const fs::path exports = dir / "exports";
  fs::create_directories(exports);
  using namespace std::string_literals;
  write_file(exports / "a.csv", "order,customer,date,amount,note\nO1,C1,2026-13-45,1,bad date\n");
  write_file(exports / "b.csv", "order,customer,date,amount,note\nO2,C2,2026-01-05,2,nul \0 in a note\n"s);
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(exports)), "erp_csv");
  ASSERT_EQ(harness.sync(connector).quarantined, 2U);
  write_file(exports / "b.csv", "");
  const RetrySummary retried = harness.retry(connector);
  EXPECT_EQ(retried.still_bad, 2U);
  const auto entries = harness.store().list_quarantine("erp_csv", true);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[1].reason, "b.csv line 2: the file is empty now");
}

TEST(ErpCsv, NulBytesAndControlCharactersInIdsAreQuarantinedWithFileLineAndColumn) {
  TempDir dir("erp-csv-nul");
  const fs::path file = dir / "orders.csv";
  using namespace std::string_literals;
  write_file(file,
             "order,customer,date,amount,note\n"
             "O1,C1,2026-01-05,1,fine\n"
             "O2\0,C1,2026-01-05,2,nul in the id\n"s
             "O3,C\0003,2026-01-05,3,nul in the customer id\n"s
             "O4,C4,2026-01-05,4,nul in an unmapped \0 column\n"s
             "O5\x1b[31m,C5,2026-01-05,5,escape sequence in the id\n"
             "O6,C6\xC2\x85,2026-01-05,6,C1 control in the customer id\n"
             "O7\xE2\x80\xAE,C7,2026-01-05,7,right-to-left override in the id\n"
             "O8,C8,2026-01-05,8,a tab\tin a note is fine\n");
  SyncHarness harness(dir / "crm.db");
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(orders_config(file)), "erp_csv");
  const SyncSummary summary = harness.sync(connector);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.fetched, 2U);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE external_id IN ('O1', 'O8')"), 2);
  EXPECT_EQ(harness.joined("SELECT external_id FROM orders", "").find('\0'), std::string::npos);
  const auto entries = harness.store().list_quarantine("erp_csv");
  ASSERT_EQ(entries.size(), 6U);
  const std::string utf16_hint = " of the field (a UTF-16 or binary file? export it as UTF-8 text)";
  EXPECT_EQ(entries[0].reason, "orders.csv line 3: column order holds a NUL byte at byte 3" + utf16_hint);
  EXPECT_EQ(entries[1].reason, "orders.csv line 4: column customer holds a NUL byte at byte 2" + utf16_hint);
  EXPECT_EQ(entries[2].reason, "orders.csv line 5: column note holds a NUL byte at byte 20" + utf16_hint);
  EXPECT_EQ(entries[3].reason,
            "orders.csv line 6: column order holds control character U+001B at byte 3, which an id may not hold");
  EXPECT_EQ(entries[4].reason,
            "orders.csv line 7: column customer holds control character U+0085 at byte 3, which an id may not hold");
  EXPECT_EQ(entries[5].reason,
            "orders.csv line 8: column order holds invisible character U+202E at byte 3, which an id may not hold");
}

TEST(ErpCsv, QuarantinedRowsAreReprocessedAfterTheConfigurationIsFixed) {
  TempDir dir("erp-csv-retry");
  const fs::path file = dir / "orders.csv";
  write_file(file, "order,customer,date,amount\nO1,C1,2026-01-05,10\nO2,C1,05/01/2026,20\n");
  SyncHarness harness(dir / "crm.db");
  nlohmann::json config = with_path(nlohmann::json::parse(R"({
    "record_type": "order",
    "columns": {"external_id": "order", "customer_external_id": "customer", "ordered_at_ms": "date",
                "amount": "amount"}
  })"),
                                    file.string());
  LoadedPlugin& before = harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
  EXPECT_EQ(harness.sync(before).quarantined, 1U);
  EXPECT_EQ(harness.retry(before).still_bad, 1U) << "nothing changed yet";

  config["date_formats"] = {"%Y-%m-%d", "%d/%m/%Y"};
  LoadedPlugin& fixed = harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
  const RetrySummary retried = harness.retry(fixed);
  EXPECT_EQ(retried.released, 1U);
  EXPECT_EQ(harness.count("SELECT ordered_at_ms FROM orders WHERE external_id = 'O2'"), 1'767'571'200'000);
  EXPECT_TRUE(harness.store().list_quarantine("erp_csv", true).empty());
}

TEST(ErpCsv, ConfigurationMistakesAreOneClearRefusal) {
  TempDir dir("erp-csv-config");
  write_file(dir / "orders.csv", "order,customer\nO1,C1\n");
  SyncHarness harness(dir / "crm.db");
  nlohmann::json config = with_path(nlohmann::json::parse(R"({
    "record_type": "order", "columns": {"external_id": "order", "amout": "amount"}})"),
                                    (dir / "orders.csv").string());
  try {
    harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
    FAIL() << "expected a refusal";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("init failed (config error): columns.amout: a order record has no such field"),
              std::string::npos)
        << e.what();
  }
  config["columns"] = {{"external_id", "order"}, {"amount", "total"}};
  LoadedPlugin& connector = harness.load({CRM_PLUGIN_DIR}, settings_for(config), "erp_csv");
  const SyncSummary summary = harness.sync(connector);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message, "config error: column 'total' is not in orders.csv (columns: customer, order)");
}

}  // namespace
}  // namespace crm::host
