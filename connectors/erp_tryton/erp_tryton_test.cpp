// erp_tryton against a REAL tryton-server (Tryton 6.0 on SQLite) started by
// the test on loopback; parties and sales are created and edited through
// Tryton's own JSON-RPC API (tests/servers/tryton_api.py).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include "support/child_process.hpp"
#include "support/loopback.hpp"
#include "support/required_program.hpp"
#include "support/sync_harness.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::SyncHarness;
using testing::TempDir;

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  char chunk[4096];
  std::size_t read = 0;
  while (pipe != nullptr && (read = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) {
    output.append(chunk, read);
  }
  const int status = pipe == nullptr ? -1 : ::pclose(pipe);
  if (status != 0) {
    throw std::runtime_error("command failed: " + command + "\n" + output);
  }
  return output;
}

// One Tryton server for the whole suite: building its database takes ~15 s.
class Tryton {
 public:
  Tryton() : dir_("tryton"), port_(testing::free_loopback_port()) {
    testing::require(testing::kTrytond);
    testing::require(testing::kTrytondAdmin);
    fs::create_directories(dir_ / "db");
    std::ofstream(dir_ / "trytond.conf") << "[database]\nuri = sqlite://\npath = " << (dir_ / "db").string()
                                         << "\n[web]\nlisten = 127.0.0.1:" << port_ << "\n";
    std::ofstream(dir_ / "db" / "crm.sqlite");
    std::ofstream(dir_ / "pass") << "adminpw\n";
    const std::string config = (dir_ / "trytond.conf").string();
    run("TRYTONPASSFILE='" + (dir_ / "pass").string() + "' trytond-admin -c '" + config +
        "' -d crm --all --email admin@example.test 2>&1");
    run("trytond-admin -c '" + config + "' -d crm -u party sale --activate-dependencies 2>&1");
    server_ = std::make_unique<testing::ChildProcess>(std::vector<std::string>{"/usr/bin/trytond", "-c", config});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!testing::loopback_port_accepts(port_)) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(
            testing::did_not_start(testing::kTrytond, "no answer on port " + std::to_string(port_)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    api("setup");
  }

  json api(const std::string& arguments) {
    return json::parse(run("/usr/bin/python3 '" + std::string(CRM_SOURCE_DIR) + "/tests/servers/tryton_api.py' '" +
                           url() + "' crm " + arguments));
  }

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<testing::ChildProcess> server_;
};

class ErpTryton : public ::testing::Test {
 protected:
  // A server that cannot start fails every test of the suite with the reason:
  // an exception here would make GoogleTest skip them, and ctest count that as
  // a pass.
  static void SetUpTestSuite() {
    try {
      tryton_ = new Tryton();  // NOLINT(cppcoreguidelines-owning-memory)
    } catch (const std::exception& error) {
      setup_error_ = new std::string(error.what());  // NOLINT(cppcoreguidelines-owning-memory)
    }
  }
  static void TearDownTestSuite() {
    delete tryton_;  // NOLINT(cppcoreguidelines-owning-memory)
    tryton_ = nullptr;
    delete setup_error_;  // NOLINT(cppcoreguidelines-owning-memory)
    setup_error_ = nullptr;
  }
  void SetUp() override {
    if (setup_error_ != nullptr) {
      FAIL() << *setup_error_;
    }
  }

  ErpTryton() : dir_("erp-tryton-store"), harness_(dir_ / "crm.db") {}

  LoadedPlugin& connector(const std::string& password = "adminpw") {
    const json settings = {{"erp_tryton",
                            {{"config",
                              {{"url", tryton_->url()},
                               {"database", "crm"},
                               {"username", "admin"},
                               {"password", {{"env", "TRYTON_PASSWORD"}}},
                               {"currency", "EUR"},
                               {"page_size", 2}}}}}};
    return harness_.load({CRM_PLUGIN_DIR}, settings, "erp_tryton", {{"TRYTON_PASSWORD", password}});
  }

  static Tryton* tryton_;
  static std::string* setup_error_;
  TempDir dir_;
  SyncHarness harness_;
};

Tryton* ErpTryton::tryton_ = nullptr;
std::string* ErpTryton::setup_error_ = nullptr;

TEST_F(ErpTryton, SyncsPartiesAndSalesThenOnlyWhatChanged) {
  const long acme = tryton_->api("party 'ACME GmbH'")["id"].get<long>();
  const long huadong = tryton_->api("party '上海华东机械有限公司'")["id"].get<long>();
  const long nordic = tryton_->api("party 'Nordic Trading AB'")["id"].get<long>();
  const long first_sale = tryton_->api("sale " + std::to_string(acme) + " 3 10.50")["id"].get<long>();
  tryton_->api("sale " + std::to_string(huadong) + " 2 99.00");
  tryton_->api("sale " + std::to_string(acme) + " 1 5.25");

  LoadedPlugin& plugin = connector();
  SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  // 5 parties (ours, the admin's company party, and three customers) in pages of 2, then 3 sales.
  EXPECT_EQ(harness_.count("SELECT count(*) FROM orders"), 3);
  EXPECT_EQ(harness_.text("SELECT name FROM customers WHERE external_id = '" + std::to_string(huadong) + "'"),
            "上海华东机械有限公司");
  EXPECT_NEAR(harness_.number("SELECT amount FROM orders WHERE external_id = '" + std::to_string(first_sale) + "'"),
              31.5, 1e-9);
  EXPECT_EQ(harness_.text("SELECT product_line || '|' || status || '|' || currency FROM orders WHERE external_id = '" +
                          std::to_string(first_sale) + "'"),
            "Widget|draft|EUR");
  EXPECT_EQ(harness_.number("SELECT quantity FROM orders WHERE external_id = '" + std::to_string(first_sale) + "'"),
            3.0);
  EXPECT_EQ(harness_.count("SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
                           "WHERE c.external_id = '" +
                           std::to_string(acme) + "'"),
            2);
  const std::uint64_t first_read = summary.source_records;

  // Edit one party, add one sale: the next sync reads little and changes exactly that.
  tryton_->api("rename-party " + std::to_string(nordic) + " 'Nordic Trading Group AB'");
  tryton_->api("sale " + std::to_string(nordic) + " 4 20");
  summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_LT(summary.source_records, first_read);
  EXPECT_EQ(summary.counts.inserted, 1U);
  EXPECT_EQ(harness_.text("SELECT name FROM customers WHERE external_id = '" + std::to_string(nordic) + "'"),
            "Nordic Trading Group AB");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM orders"), 4);
}

TEST_F(ErpTryton, AWrongPasswordIsOneConfigError) {
  LoadedPlugin& plugin = connector("not-the-password");
  const SyncSummary summary = harness_.sync(plugin);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message, "config error: Tryton refused the login of admin; check username and password");
}

// A "JSON-RPC server" that answers with an HTML error page: the WeCom double's
// not_json fault, on the path erp_tryton posts to.
TEST(ErpTrytonGarbage, AReplyThatIsNotJsonIsRetriedThenReportedClearly) {
  testing::ChildProcess double_server(
      {"/usr/bin/python3", std::string(CRM_SOURCE_DIR) + "/tests/doubles/wecom_double.py", "--port", "0"});
  const std::string banner = double_server.read_line();
  ASSERT_EQ(banner.rfind("listening ", 0), 0U) << banner;
  const std::string base = "http://127.0.0.1:" + banner.substr(10) + "/";
  run("/usr/bin/python3 -c \"import urllib.request; urllib.request.urlopen(urllib.request.Request('" + base +
      "__control/fault', data=b'{\\\"kind\\\": \\\"not_json\\\", \\\"path\\\": \\\"/crm/\\\", "
      "\\\"count\\\": 100}'))\"");
  TempDir dir("erp-tryton-garbage");
  SyncHarness harness(dir / "crm.db");
  const json settings = {
      {"erp_tryton",
       {{"config",
         {{"url", base}, {"database", "crm"}, {"username", "admin"}, {"password", {{"env", "TRYTON_PASSWORD"}}}}}}}};
  LoadedPlugin& plugin = harness.load({CRM_PLUGIN_DIR}, settings, "erp_tryton", {{"TRYTON_PASSWORD", "adminpw"}});
  SyncOptions options;
  options.max_attempts = 3;
  const SyncSummary summary = harness.sync(plugin, options);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message,
            "retriable error: Tryton common.db.login answered with something that is not JSON (gave up after 3 "
            "attempts)");
  EXPECT_EQ(harness.count("SELECT count(*) FROM customers"), 0);
}

}  // namespace
}  // namespace crm::host
