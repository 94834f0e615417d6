// The conformance kit (`crmhost plugins validate`) on real plugins: every plugin of the repository passes
// it (connectors on the real data of ../shared/data, channels against a real receiver on loopback), and
// each deliberately flawed fixture (tests/fixtures/plugins/validate_*) fails exactly the check it breaks.
#include "app/plugin_validation.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "app/result_json.hpp"
#include "cli/exit_codes.hpp"
#include "support/controlled_server.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kValidateFixtures = fs::path(CRM_TEST_PLUGIN_DIR) / "validate";
const fs::path kSharedData = fs::path(CRM_SOURCE_DIR) / ".." / "shared" / "data";

class PluginValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("crm-validate-{}-{}", ::getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  PluginValidation validate(const fs::path& file, std::optional<json> config = std::nullopt,
                            std::vector<std::size_t> batch_sizes = {1, 10, 1000, 100000, 1000000}) {
    PluginValidationOptions options;
    options.file = file;
    options.config = std::move(config);
    options.config_dir = dir_;
    options.scorer_batch_sizes = std::move(batch_sizes);
    options.environment = testing::environment_of({{"CRM_WEBHOOK_SECRET", "webhook-signing-secret-7f3a"}});
    // A shared build folder may be group-writable; what is checked here is the contract, not the folder.
    options.allow_writable_plugins = true;
    return validate_plugin_file(options, logger_, clock_);
  }

  // A source for the fixture connectors: one order a line, 120 lines.
  fs::path orders_file() {
    const fs::path file = dir_ / "orders.txt";
    std::ofstream out(file);
    for (int line = 0; line < 120; ++line) {
      out << "product-" << line % 4 << '\n';
    }
    return file;
  }

  fs::path dir_;
  SystemClock clock_;
  Logger logger_{clock_, LogLevel::error};
};

std::string listing(const PluginValidation& validation) {
  std::string text;
  for (const CheckResult& check : validation.checks) {
    text += fmt::format("{} {}: {}: {}\n", check_outcome_name(check.outcome), check.plugin, check.check, check.detail);
  }
  return text;
}

std::set<std::string> checks_with(const PluginValidation& validation, CheckOutcome outcome) {
  std::set<std::string> names;
  for (const CheckResult& check : validation.checks) {
    if (check.outcome == outcome) {
      names.insert(check.check);
    }
  }
  return names;
}

const std::set<std::string> kScorerChecks = {"load",
                                             "empty batch",
                                             "NaN features",
                                             "batch size 1",
                                             "batch size 10",
                                             "batch size 1000",
                                             "batch size 100000",
                                             "batch size 1000000",
                                             "same input same output",
                                             "scores in range",
                                             "declared features",
                                             "reason codes",
                                             "output columns"};
const std::set<std::string> kConnectorChecks = {"load", "bad configuration", "cursor round trip", "cancellation",
                                                "records valid"};
const std::set<std::string> kChannelChecks = {"load", "empty recipients", "oversized text", "idempotency key"};

void expect_all_pass(const PluginValidation& validation, std::set<std::string> expected_checks) {
  EXPECT_TRUE(validation.passed()) << listing(validation);
  EXPECT_EQ(validation.count(CheckOutcome::skip), 0U) << listing(validation);
  EXPECT_EQ(checks_with(validation, CheckOutcome::pass), expected_checks) << listing(validation);
}

// Exactly `failing` fails; every other check of the kind passes (none is skipped).
void expect_only_failure(const PluginValidation& validation, const std::string& failing,
                         const std::set<std::string>& kind_checks, const std::string& detail_part) {
  EXPECT_FALSE(validation.passed());
  EXPECT_EQ(checks_with(validation, CheckOutcome::fail), std::set<std::string>{failing}) << listing(validation);
  std::set<std::string> passing = kind_checks;
  passing.erase(failing);
  EXPECT_EQ(checks_with(validation, CheckOutcome::pass), passing) << listing(validation);
  EXPECT_EQ(validation.count(CheckOutcome::skip), 0U) << listing(validation);
  for (const CheckResult& check : validation.checks) {
    if (check.outcome == CheckOutcome::fail) {
      EXPECT_NE(check.detail.find(detail_part), std::string::npos) << check.detail;
    }
  }
}

TEST_F(PluginValidationTest, EveryScorerOfTheRepositoryPasses) {
  for (const char* name : {"scorer_health", "scorer_rfm"}) {
    SCOPED_TRACE(name);
    expect_all_pass(validate(fs::path(CRM_PLUGIN_DIR) / fmt::format("{}.so", name)), kScorerChecks);
  }
  // Learning scorers are trained on synthetic customers first, and their model must load back.
  std::set<std::string> trainable = kScorerChecks;
  trainable.insert("train and model round trip");
  for (const char* name : {"scorer_bgnbd", "scorer_logit"}) {
    SCOPED_TRACE(name);
    expect_all_pass(validate(fs::path(CRM_PLUGIN_DIR) / fmt::format("{}.so", name)), trainable);
  }
  for (const char* name : {"scorer_example_c", "scorer_example_cpp"}) {
    SCOPED_TRACE(name);
    expect_all_pass(validate(fs::path(CRM_PLUGIN_DIR) / fmt::format("{}.so", name)), kScorerChecks);
  }
}

TEST_F(PluginValidationTest, ErpCsvPassesOnCdnowWithTheBacktestConfiguration) {
  // A whole crmhost configuration as --config: the kit takes plugins.erp_csv.config from it.
  const fs::path config_file = fs::path(CRM_SOURCE_DIR) / "examples" / "backtest" / "cdnow.json";
  std::ifstream input(config_file);
  PluginValidationOptions options;
  options.file = fs::path(CRM_PLUGIN_DIR) / "erp_csv.so";
  options.config = json::parse(input);
  options.config_dir = config_file.parent_path();
  options.allow_writable_plugins = true;
  const PluginValidation validation = validate_plugin_file(options, logger_, clock_);
  expect_all_pass(validation, kConnectorChecks);
  for (const CheckResult& check : validation.checks) {
    if (check.check == "bad configuration") {
      EXPECT_NE(check.detail.find("path naming a path that does not exist: CONFIG at create"), std::string::npos)
          << check.detail;
      EXPECT_NE(check.detail.find("without the required field record_type: refused by its schema"), std::string::npos)
          << check.detail;
      EXPECT_NE(check.detail.find(R"(batch_rows of the wrong type ("not a number"): refused by its schema)"),
                std::string::npos)
          << check.detail;
    }
  }
}

TEST_F(PluginValidationTest, TheExampleVendorPackPassesOnCdnow) {
  // A library holding a connector and a channel, configured as crmhost's "plugins" section does.
  const json config = {
      {"plugins",
       {{"pack_purchase_log", {{"config", {{"path", (kSharedData / "cdnow" / "CDNOW_master.txt").string()}}}}},
        {"pack_file_channel", {{"config", {{"path", "alerts.txt"}}}}}}}};
  const PluginValidation validation = validate(fs::path(CRM_EXAMPLE_PLUGIN_DIR) / "example_pack.so", config);
  EXPECT_TRUE(validation.passed()) << listing(validation);
  EXPECT_EQ(validation.count(CheckOutcome::skip), 0U) << listing(validation);
  std::set<std::string> expected = kConnectorChecks;
  expected.insert(kChannelChecks.begin(), kChannelChecks.end());
  EXPECT_EQ(checks_with(validation, CheckOutcome::pass), expected) << listing(validation);
  EXPECT_EQ(validation.checks.size(), kConnectorChecks.size() + kChannelChecks.size()) << listing(validation);
  EXPECT_TRUE(fs::exists(dir_ / "alerts.txt"));
}

TEST_F(PluginValidationTest, AConnectorWithoutConfigSaysWhichChecksItSkipped) {
  const PluginValidation validation = validate(fs::path(CRM_PLUGIN_DIR) / "erp_csv.so");
  EXPECT_TRUE(validation.passed()) << listing(validation);
  EXPECT_EQ(checks_with(validation, CheckOutcome::skip),
            (std::set<std::string>{"cursor round trip", "cancellation", "records valid"}));
  for (const CheckResult& check : validation.checks) {
    if (check.outcome == CheckOutcome::skip) {
      EXPECT_EQ(check.detail, "needs --config (a configuration pointing at a real source)");
    }
  }
  // What needs no source still runs: its schema's required fields are refused as configuration errors.
  EXPECT_EQ(checks_with(validation, CheckOutcome::pass), (std::set<std::string>{"load", "bad configuration"}));
}

TEST_F(PluginValidationTest, EveryChannelOfTheRepositoryPasses) {
  expect_all_pass(
      validate(fs::path(CRM_PLUGIN_DIR) / "alert_console.so", json{{"path", (dir_ / "alerts.log").string()}}),
      kChannelChecks);
  testing::ControlledServer receiver("tests/servers/webhook_receiver.py");
  expect_all_pass(
      validate(fs::path(CRM_PLUGIN_DIR) / "alert_webhook.so",
               json{{"url", receiver.base_url() + "/hooks/crm"}, {"secret", {{"env", "CRM_WEBHOOK_SECRET"}}}}),
      kChannelChecks);
}

TEST_F(PluginValidationTest, AScorerGoingPast100OnExtremeInputsFailsScoresInRange) {
  expect_only_failure(validate(kValidateFixtures / "validate_scorer_out_of_range.so"), "scores in range", kScorerChecks,
                      "returned 150 for customer");
}

TEST_F(PluginValidationTest, ANondeterministicScorerFailsSameInputSameOutput) {
  const PluginValidation validation = validate(kValidateFixtures / "validate_scorer_nondeterministic.so");
  expect_only_failure(validation, "same input same output", kScorerChecks,
                      "customer c1 scored 31.452923003743635 then 31.442923003743633");
}

TEST_F(PluginValidationTest, AScorerFailingAnEmptyBatchFailsEmptyBatch) {
  expect_only_failure(validate(kValidateFixtures / "validate_scorer_empty_batch_fails.so"), "empty batch",
                      kScorerChecks, "no customers to score");
}

TEST_F(PluginValidationTest, AConnectorReturningFatalOnABadPathFailsBadConfiguration) {
  expect_only_failure(
      validate(kValidateFixtures / "validate_connector_fatal_config.so", json{{"path", orders_file().string()}}),
      "bad configuration", kConnectorChecks,
      "path naming a path that does not exist: the first fetch must return CONFIG, but it returned "
      "fatal error: cannot open /nonexistent/crmhost-validate/path");
}

TEST_F(PluginValidationTest, AConnectorIgnoringCancellationFailsCancellation) {
  expect_only_failure(
      validate(kValidateFixtures / "validate_connector_ignores_cancel.so", json{{"path", orders_file().string()}}),
      "cancellation", kConnectorChecks, "ignores cancellation: with is_cancelled() true");
}

TEST_F(PluginValidationTest, AConnectorEmittingEmptyIdsFailsRecordsValid) {
  expect_only_failure(
      validate(kValidateFixtures / "validate_connector_empty_ids.so", json{{"path", orders_file().string()}}),
      "records valid", kConnectorChecks, "14 of 100 records bad: order record 3 (no id): external_id");
}

TEST_F(PluginValidationTest, AChannelRefusingARepeatedKeyFailsIdempotencyKey) {
  expect_only_failure(validate(kValidateFixtures / "validate_channel_rejects_repeat.so"), "idempotency key",
                      kChannelChecks, "then permanent: data error: duplicate message");
}

TEST_F(PluginValidationTest, TheJsonFormListsEveryCheck) {
  const PluginValidation validation =
      validate(kValidateFixtures / "validate_scorer_empty_batch_fails.so", std::nullopt, {1});
  const json document = plugin_validation_json(validation);
  EXPECT_EQ(document["passed"], false);
  EXPECT_EQ(document["failures"], 1);
  EXPECT_EQ(document["checks"].size(), validation.checks.size());
  EXPECT_EQ(document["checks"][1], (json{{"plugin", "validate_scorer_empty_batch_fails"},
                                         {"kind", "scorer"},
                                         {"check", "empty batch"},
                                         {"outcome", "fail"},
                                         {"detail",
                                          "a batch of 0 customers failed: scorer 'validate_scorer_empty_batch_fails' "
                                          "failed to score (data error): no customers to score (data status)"}}));
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult run_crmhost(const std::string& arguments) {
  const std::string command = fmt::format("'{}' {} 2>&1", CRM_HOST_BINARY, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {};
  }
  CommandResult result;
  std::array<char, 4096> chunk{};
  std::size_t read = 0;
  while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    result.output.append(chunk.data(), read);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST_F(PluginValidationTest, TheCommandPrintsALinePerCheckAndExits9OnAFailure) {
  const CommandResult failing = run_crmhost(
      fmt::format("plugins validate '{}'", (kValidateFixtures / "validate_scorer_nondeterministic.so").string()));
  EXPECT_EQ(failing.exit_code, kExitValidationFailed) << failing.output;
  EXPECT_NE(failing.output.find("PASS validate_scorer_nondeterministic: empty batch\n"), std::string::npos)
      << failing.output;
  EXPECT_NE(failing.output.find("FAIL validate_scorer_nondeterministic: same input same output: customer c1 scored "),
            std::string::npos)
      << failing.output;
  EXPECT_NE(
      failing.output.find("validate_scorer_nondeterministic.so: 13 checks, 12 passed, 1 failed, 0 skipped: FAILED"),
      std::string::npos)
      << failing.output;

  const fs::path config = dir_ / "orders.json";
  std::ofstream(config) << json{{"path", "orders.txt"}}.dump();
  orders_file();
  const CommandResult passing =
      run_crmhost(fmt::format("plugins validate '{}' --config '{}'",
                              (kValidateFixtures / "validate_connector_fatal_config.so").string(), config.string()));
  EXPECT_EQ(passing.exit_code, kExitValidationFailed) << passing.output;
  EXPECT_NE(passing.output.find("PASS validate_connector_fatal_config: cursor round trip"), std::string::npos)
      << passing.output;

  const CommandResult skipping =
      run_crmhost(fmt::format("plugins validate '{}' --json", (fs::path(CRM_PLUGIN_DIR) / "erp_csv.so").string()));
  EXPECT_EQ(skipping.exit_code, kExitOk) << skipping.output;
  const json document = json::parse(skipping.output);
  EXPECT_EQ(document["skips"], 3);
  EXPECT_EQ(document["passed"], true);
}

}  // namespace
}  // namespace crm::host
