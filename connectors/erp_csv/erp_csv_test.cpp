// erp_csv through the real loader, sync engine and SQLite store, on the real
// data in ../shared/data and on hand-made malformed files. Expected figures
// were computed independently with Python's csv module over the same files.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>

#include "testing/sync_harness.hpp"

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
    return harness.text(
        "SELECT group_concat(external_id || '|' || name || '|' || industry || '|' || tax_id, ';') "
        "FROM (SELECT * FROM customers ORDER BY external_id)");
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
  EXPECT_EQ(entries[5].reason, "orders.csv line 9: a quoted field is not closed before the end of the file");
  EXPECT_EQ(entries[0].raw_record, "erp_csv:v1 3 0 orders.csv\nO2,C1,2026-01-06");
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
