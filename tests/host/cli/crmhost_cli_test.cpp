// The crmhost binary as users and scripts see it: exit codes, --json, --help.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sqlite3.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include "cli/exit_codes.hpp"
#include "crm/abi.h"
#include "store/job_lock.hpp"
#include "store/store.hpp"
#include "support/sqlite_peek.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// The fixtures that end the process, in a folder of their own (see tests/fixtures/plugins).
const std::string kProcessEnders = std::string(CRM_TEST_PLUGIN_DIR) + "/process-enders";

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout, and stderr when asked for
};

enum class Stderr { dropped, kept };

CommandResult run_crmhost(const std::string& arguments, Stderr errors = Stderr::dropped) {
  const std::string command =
      fmt::format("'{}' {} {}", CRM_HOST_BINARY, arguments, errors == Stderr::kept ? "2>&1" : "2>/dev/null");
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

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// How the process ended, with stdout and stderr apart.
struct Outcome {
  int exit_code = -1;   // -1 when a signal ended it
  int term_signal = 0;  // the signal that ended it, 0 when it exited
  std::string out;
  std::string err;
};

// Runs `crmhost ARGUMENTS` through sh, after `shell_prefix` (a `cd`, a
// variable); exec, so a signal that kills crmhost is what the test sees. A
// sanitizer build leaves the fatal signals to the default action here, as
// a release build does.
Outcome run_host(const fs::path& scratch, const std::string& arguments, const std::string& shell_prefix = "") {
  const fs::path out = scratch / "stdout.txt";
  const fs::path err = scratch / "stderr.txt";
  const std::string command = fmt::format(
      "{} ASAN_OPTIONS=\"${{ASAN_OPTIONS:-}}:handle_segv=0:handle_sigbus=0:handle_sigfpe=0\" exec '{}' {} >'{}' "
      "2>'{}'",
      shell_prefix, CRM_HOST_BINARY, arguments, out.string(), err.string());
  const int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
  Outcome outcome;
  if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.term_signal = WTERMSIG(status);
  }
  outcome.out = read_text(out);
  outcome.err = read_text(err);
  return outcome;
}

class CrmhostCli : public ::testing::Test {
 protected:
  CrmhostCli()
      : dir_(fs::temp_directory_path() / fmt::format("crm-cli-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  CrmhostCli(const CrmhostCli&) = delete;
  CrmhostCli& operator=(const CrmhostCli&) = delete;
  ~CrmhostCli() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
    return dir_ / name;
  }

  fs::path dir_;
};

using testing::peek;

TEST_F(CrmhostCli, PluginsJsonListsTheBuiltPlugins) {
  const CommandResult result = run_crmhost("plugins --json");
  ASSERT_EQ(result.exit_code, kExitOk);
  const auto listing = nlohmann::json::parse(result.output);
  EXPECT_EQ(listing["host_abi"], fmt::format("{}.{}", CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR));
  std::set<std::string> loaded;
  for (const auto& plugin : listing["plugins"]) {
    if (plugin["state"] == "loaded") {
      loaded.insert(plugin["id"].get<std::string>());
      EXPECT_TRUE(fs::exists(plugin["file"].get<std::string>()));
    }
  }
  EXPECT_TRUE(loaded.count("scorer_example_c") == 1 && loaded.count("scorer_example_cpp") == 1);
}

TEST_F(CrmhostCli, RunRecordsItselfInTheDatabaseAndReportsRefusalsWithExitCode4) {
  // A second copy of a plugin under another name: its duplicate id is refused.
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.so", dir_ / "copy.so");
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.json", dir_ / "copy.json");
  const fs::path db = dir_ / "crm.db";
  const std::string store = testing::store_locator(db);
  CommandResult result = run_crmhost(fmt::format("run --json --db '{}' --plugin-dir '{}'", store, dir_.string()));
  EXPECT_EQ(result.exit_code, kExitPartial);
  auto summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["status"], "partial");
  EXPECT_EQ(summary["loaded"], 7);  // six scorers and the console channel; connectors wait for configuration
  EXPECT_EQ(summary["refused"], 1);
  EXPECT_TRUE(testing::on_postgresql() || fs::exists(db));

  result = run_crmhost(fmt::format("run --json --db '{}'", store));
  EXPECT_EQ(result.exit_code, kExitOk);
  summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["status"], "ok");
  EXPECT_EQ(summary["run_id"], 2);
}

TEST_F(CrmhostCli, ConfigurationErrorsExitWith3) {
  const fs::path config = write("bad.json", R"({"plugins": {"scorer_example_c": {"enabeld": true}}})");
  EXPECT_EQ(run_crmhost(fmt::format("--config '{}' plugins", config.string())).exit_code, kExitConfig);
  const fs::path broken = write("broken.json", R"({"database": )");
  EXPECT_EQ(run_crmhost(fmt::format("--config '{}' plugins", broken.string())).exit_code, kExitConfig);
}

TEST_F(CrmhostCli, ConfigurationReachesPlugins) {
  const fs::path config =
      write("crmhost.json", R"({"plugins": {"scorer_example_c": {"config": {"max_recency_days": -1}},
                                           "scorer_example_cpp": {"enabled": false}}})");
  const CommandResult result = run_crmhost(fmt::format("--config '{}' plugins --json", config.string()));
  ASSERT_EQ(result.exit_code, kExitOk);
  const auto listing = nlohmann::json::parse(result.output);
  std::map<std::string, std::string> states;
  for (const auto& plugin : listing["plugins"]) {
    states[plugin["id"].get<std::string>()] = plugin["state"].get<std::string>();
  }
  EXPECT_EQ(states["scorer_example_c"], "refused");
  EXPECT_EQ(states["scorer_example_cpp"], "disabled");
}

TEST_F(CrmhostCli, HelpAndUsage) {
  for (const char* command : {"--help", "plugins --help", "run --help", "version --help"}) {
    const CommandResult help = run_crmhost(command);
    EXPECT_EQ(help.exit_code, kExitOk) << command;
    EXPECT_NE(help.output.find("Usage:"), std::string::npos) << command;
  }
  EXPECT_EQ(run_crmhost("").exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost("frobnicate").exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost("plugins --no-such-flag").exit_code, kExitUsage);
}

// A store of 200 customers with a purchase rhythm each; the even ones stop
// buying after 2023-09-08 (day 250), the odd ones keep buying.
std::string scoring_store(const fs::path& dir) {
  const std::string db = testing::store_locator(dir / "crm.db");
  Store store(db);
  Database& database = store.database();
  Transaction transaction(database);
  constexpr std::int64_t kDay = 86'400'000;
  constexpr std::int64_t kStart = 19'358 * kDay;  // 2023-01-01
  for (int customer = 1; customer <= 200; ++customer) {
    database.exec(fmt::format(
        "INSERT INTO customers(id, source, external_id, unified_id) VALUES ({0}, 'erp', 'C{0}', {0})", customer));
    const int every = 5 + customer % 20;
    const int stop = customer % 2 == 0 ? 250 : 600;
    for (int day = customer % 7; day < stop; day += every) {
      database.exec(
          fmt::format("INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) "
                      "VALUES ('erp', 'O{}-{}', {}, {}, {}, 'confirmed')",
                      customer, day, customer, kStart + day * kDay, 10 * (customer % 13 + 1)));
    }
  }
  transaction.commit();
  testing::continue_ids_after_largest(database);
  return db;
}

TEST_F(CrmhostCli, TrainScoreExplainAndBacktestOnOneStore) {
  const std::string db = scoring_store(dir_);
  const std::string base = fmt::format("--db '{}'", db);

  // Without a model the learning scorers are skipped, the others score.
  CommandResult result = run_crmhost(fmt::format("{} score --as-of 2023-06-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  auto report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["customers"], 200);
  EXPECT_EQ(report["primary_scorer"], "scorer_health");
  EXPECT_EQ(report["skipped"].size(), 2U);
  EXPECT_TRUE(report["band_changes"].empty());

  result = run_crmhost(fmt::format("{} train --as-of 2023-12-01 --horizon 60 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["features_as_of"], "2023-10-02");
  EXPECT_EQ(report["customers"], 200);
  EXPECT_EQ(report["churned"], 100);
  ASSERT_EQ(report["scorers"].size(), 2U);
  for (const auto& scorer : report["scorers"]) {
    EXPECT_EQ(scorer["status"], "trained") << scorer.dump();
  }

  // Four months after the even customers stopped, they have fallen out of green. The learned churn
  // probability decides the business dimension now (issue 17); trained on 200 synthetic customers it
  // misjudges a few of those still buying.
  result = run_crmhost(fmt::format("{} score --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_TRUE(report["skipped"].empty()) << report["skipped"].dump();
  std::size_t stopped = 0;
  std::size_t buying = 0;
  for (const auto& change : report["band_changes"]) {
    (change["customer_id"].get<int>() % 2 == 0 ? stopped : buying) += 1;
    EXPECT_EQ(change["from"], "green");
  }
  EXPECT_GE(stopped, 90U);
  EXPECT_LE(buying, 12U);

  result = run_crmhost(fmt::format("{} explain 2 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["previous_band"], "green");
  EXPECT_EQ(report["owner"], report["band"] == "red" ? "coo" : report["band"] == "orange" ? "cs_director" : "csm");
  EXPECT_FALSE(report["tier"].get<std::string>().empty());
  EXPECT_FALSE(report["abc_class"].get<std::string>().empty());
  EXPECT_EQ(report["scores"].size(), 6U);  // every loaded scorer, the examples included
  ASSERT_FALSE(report["reasons"].empty());
  std::set<std::string> codes;
  for (const auto& reason : report["reasons"]) {
    codes.insert(reason["code"].get<std::string>());
  }
  EXPECT_EQ(codes.count("order_trend_break"), 1U) << report["reasons"].dump();
  ASSERT_FALSE(report["top_contributions"].empty());
  EXPECT_LT(report["top_contributions"][0]["points"].get<double>(), 0);
  result = run_crmhost(fmt::format("{} explain 2", base));
  EXPECT_NE(result.output.find("order rhythm broken"), std::string::npos) << result.output;
  // The connector's own id finds the same customer.
  result = run_crmhost(fmt::format("{} explain erp:C2 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  EXPECT_EQ(nlohmann::json::parse(result.output)["customer_id"], 2);
  EXPECT_EQ(nlohmann::json::parse(result.output)["known_as"], nlohmann::json({"erp:C2"}));

  result = run_crmhost(fmt::format("{} backtest --as-of 2023-10-01 --horizon 60 --lead-step 30 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  std::set<std::string> scorers;
  for (const auto& row : report["scorers"]) {
    scorers.insert(row["scorer"].get<std::string>());
    for (const char* field :
         {"roc_auc", "precision_top10", "recall_top10", "median_lead_time_days", "customers", "churned"}) {
      EXPECT_TRUE(row.contains(field)) << field;
    }
  }
  EXPECT_EQ(scorers.count("scorer_logit"), 1U);
  EXPECT_EQ(scorers.count("baseline_recency"), 1U);
}

// Issue 17: `train` calibrates the churn probability for the configured horizon (scoring.horizon_days, also
// its default --horizon), `score` stores it, `explain` says it in words.
TEST_F(CrmhostCli, TrainCalibratesTheChurnProbabilityThatScoreStoresAndExplainShows) {
  const std::string db = scoring_store(dir_);
  const fs::path config = dir_ / "horizon.json";
  std::ofstream(config) << R"({"scoring": {"horizon_days": 60}})";
  const std::string base = fmt::format("--db '{}' --config '{}'", db, config.string());

  CommandResult result = run_crmhost(fmt::format("{} score --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  auto report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["calibration"], nullptr);
  EXPECT_EQ(report["calibration_note"], "no calibration yet: run `crmhost train`");
  result = run_crmhost(fmt::format("{} explain 2", base));
  EXPECT_NE(result.output.find("churn: no calibration yet: run `crmhost train`"), std::string::npos) << result.output;

  result = run_crmhost(fmt::format("{} train --as-of 2023-12-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["horizon_days"], 60);
  EXPECT_EQ(report["features_as_of"], "2023-10-02");
  ASSERT_TRUE(report["calibration"]["id"].is_number()) << report.dump();
  EXPECT_EQ(report["calibration"]["scorer"], "scorer_health");
  EXPECT_EQ(report["calibration"]["customers"], 200);
  const auto calibration_id = report["calibration"]["id"].get<std::int64_t>();

  result = run_crmhost(fmt::format("{} score --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["calibration"]["id"], calibration_id);
  EXPECT_EQ(report["calibration"]["outcome_until"], "2023-12-01");
  EXPECT_EQ(report["churn_horizon_days"], 60);

  // Customer 2 stopped buying in September: more likely to stop than customer 1, who keeps buying.
  result = run_crmhost(fmt::format("{} explain 2 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["churn_horizon_days"], 60);
  const double stopped = report["churn_probability"].get<double>();
  EXPECT_GE(stopped, 0.0);
  EXPECT_LE(stopped, 1.0);
  EXPECT_FALSE(report.contains("churn_probability_note"));
  result = run_crmhost(fmt::format("{} explain 1 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  EXPECT_LT(nlohmann::json::parse(result.output)["churn_probability"].get<double>(), stopped);
  result = run_crmhost(fmt::format("{} explain 2", base));
  EXPECT_NE(result.output.find(fmt::format("churn: {:.0f} % likely to stop buying within 60 days", stopped * 100)),
            std::string::npos)
      << result.output;
}

TEST_F(CrmhostCli, ScoreAsOfAPastDateLeavesOutCustomersFirstSeenAfterIt) {
  // Customer c's first order is on day c % 7 of 2023: by 2023-01-04 only those with c % 7 < 3 had bought.
  // Before issue 17 all 200 were stored (tier "general", no score) and counted as unscored.
  const std::string db = scoring_store(dir_);
  const CommandResult result = run_crmhost(fmt::format("--db '{}' score --as-of 2023-01-04 --json", db));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  const auto report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["customers"], 86);
  EXPECT_EQ(report["unscored"], 0);
  Store store(db);
  Statement count = store.database().prepare("SELECT COUNT(*) FROM customer_scores");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int64(0), 86);
}

TEST_F(CrmhostCli, ScoringCommandsExplainBadInput) {
  const std::string db = scoring_store(dir_);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' score --as-of 2024-13-01", db)).exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' explain 99999", db)).exit_code, kExitNotFound);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' explain erp:nobody", db)).exit_code, kExitNotFound);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' explain twelve", db)).exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' backtest --horizon 90", db)).exit_code, kExitUsage);
  const CommandResult features = run_crmhost("features --json");
  EXPECT_EQ(features.exit_code, kExitOk);
  EXPECT_NE(features.output.find("\"recency_days\""), std::string::npos);
}

TEST_F(CrmhostCli, RunSyncsScoresAlertsOnceAndAlertsCanBeAcknowledgedAndResolved) {
  const std::string db = scoring_store(dir_);
  const fs::path alerts_file = dir_ / "alerts.txt";
  const fs::path config =
      write("crmhost.json",
            nlohmann::json{{"database", db},
                           {"plugins", {{"alert_console", {{"config", {{"path", alerts_file.string()}}}}}}},
                           {"alerts", {{"roles", {{"csm", {"csm@example.test"}}, {"coo", {"coo@example.test"}}}}}}}
                .dump());
  const std::string base = fmt::format("--config '{}'", config.string());
  CommandResult result = run_crmhost(fmt::format("{} run --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  auto summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["scoring"]["customers"], 200);
  const auto opened = summary["alerts"]["opened"].get<std::size_t>();
  EXPECT_GE(opened, 100U);  // the 100 customers who stopped buying, and their signals
  EXPECT_EQ(summary["alerts"]["delivered"], opened);
  // The same 100 are lost for one unexplained reason, most in one period: one strategic alert
  // instead of their campaigns; the few lost in other periods are worked one by one.
  EXPECT_EQ(summary["churn"]["newly_lost"], 100);
  EXPECT_EQ(summary["churn"]["mass_churn_events"], 1);
  EXPECT_EQ(summary["churn"]["strategic_alerts_raised"], 1);
  EXPECT_LT(summary["churn"]["eligible"].get<int>(), 10);
  EXPECT_EQ(summary["campaigns"]["enrolled"].get<int>() + summary["campaigns"]["holdout"].get<int>(),
            summary["churn"]["eligible"].get<int>());

  // Twice in a row sends nothing new.
  result = run_crmhost(fmt::format("{} run --as-of 2024-01-01 --json", base));
  summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["alerts"]["opened"], 0);
  EXPECT_EQ(summary["alerts"]["delivered"], 0);

  result = run_crmhost(fmt::format("{} alerts list --state open --json", base));
  ASSERT_EQ(result.exit_code, kExitOk);
  const auto listing = nlohmann::json::parse(result.output);
  EXPECT_EQ(listing["alerts"].size(), opened);
  EXPECT_TRUE(listing["median_time_to_acknowledge_minutes"].is_null());
  const auto first = listing["alerts"][0]["id"].get<std::int64_t>();
  EXPECT_EQ(run_crmhost(fmt::format("{} alerts ack {} --by li.wei", base, first)).exit_code, kExitOk);
  EXPECT_EQ(run_crmhost(fmt::format("{} alerts ack {} --by li.wei", base, first)).exit_code, kExitNotFound);
  EXPECT_EQ(run_crmhost(fmt::format("{} alerts resolve {} --note 'called them' --by li.wei", base, first)).exit_code,
            kExitOk);
  result = run_crmhost(fmt::format("{} alerts list --state resolved --json", base));
  const auto resolved = nlohmann::json::parse(result.output)["alerts"];
  ASSERT_EQ(resolved.size(), 1U);
  EXPECT_EQ(resolved[0]["resolved_by"], "li.wei");
  EXPECT_EQ(resolved[0]["resolution_note"], "called them");
  EXPECT_FALSE(nlohmann::json::parse(result.output)["median_time_to_acknowledge_minutes"].is_null());
  result = run_crmhost(fmt::format("{} alerts outbox --state sent --json", base));
  EXPECT_EQ(nlohmann::json::parse(result.output).size(), opened);
  EXPECT_EQ(run_crmhost(fmt::format("{} alerts resend 1", base)).exit_code, kExitNotFound);  // not dead
}

TEST_F(CrmhostCli, OneJobAtATimePerStoreReadersAreNotHeldBack) {
  const fs::path db = dir_ / "crm.db";
  const std::string base = fmt::format("--db '{}'", db.string());
  ASSERT_EQ(run_crmhost(base + " sync").exit_code, kExitOk);
  {
    const JobLock held(db.string(), "run", 1'790'000'000'000);
    for (const char* command : {"run", "sync", "campaigns run"}) {
      const CommandResult refused = run_crmhost(fmt::format("{} {}", base, command), Stderr::kept);
      EXPECT_EQ(refused.exit_code, kExitBusy) << command;
      EXPECT_NE(refused.output.find(fmt::format("another job is working on {} (crmhost run, pid {}, since 2026-09-21 "
                                                "14:13:20 UTC)",
                                                db.string(), ::getpid())),
                std::string::npos)
          << refused.output;
    }
    EXPECT_EQ(run_crmhost(base + " alerts list").exit_code, kExitOk);  // reading is not a job
    EXPECT_EQ(run_crmhost(base + " campaigns list").exit_code, kExitOk);
  }
  EXPECT_EQ(run_crmhost(base + " sync").exit_code, kExitOk);  // released
}

TEST_F(CrmhostCli, ChurnDncAndCampaignCommandsWorkTheLostCustomersThroughAPlaybook) {
  const std::string db = scoring_store(dir_);
  const fs::path messages = dir_ / "messages.txt";
  const fs::path config = write(
      "crmhost.json", nlohmann::json{{"database", db},
                                     {"plugins", {{"alert_console", {{"config", {{"path", messages.string()}}}}}}},
                                     {"winback",
                                      {{"mass_churn_count", 1000},
                                       {"mass_churn_min_count", 1000},
                                       {"holdout_percent", 10},
                                       {"playbooks",
                                        {{{"id", "call_them"},
                                          {"reasons", {"attracted_away", "other"}},
                                          {"steps",
                                           {{{"kind", "task"}, {"text", "Call {name}"}},
                                            {{"kind", "message"},
                                             {"channel", "alert_console"},
                                             {"recipients", {"am@example.test"}},
                                             {"text", "Win-back: {name}"}},
                                            {{"kind", "end"}}}}}}}}}}
                          .dump());
  const std::string base = fmt::format("--config '{}'", config.string());
  CommandResult result = run_crmhost(fmt::format("{} churn detect --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  const auto detected = nlohmann::json::parse(result.output);
  EXPECT_EQ(detected["newly_lost"], 100);
  EXPECT_EQ(detected["eligible"], 100);
  // A person changes one reason to one not pursued, records a why, and blocks another customer.
  EXPECT_EQ(
      run_crmhost(fmt::format("{} churn reason 2 forced_to_leave --note 'plant closed' --by li.na", base)).exit_code,
      kExitOk);
  EXPECT_EQ(run_crmhost(fmt::format("{} churn reason 2 bored --note x", base)).exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost(fmt::format("{} churn why 2 'Their plant closed'", base)).exit_code, kExitOk);
  result = run_crmhost(fmt::format("{} churn causes --json", base));
  ASSERT_EQ(result.exit_code, kExitOk);
  EXPECT_EQ(nlohmann::json::parse(result.output)["root_causes"][0]["cause"], "Their plant closed");
  EXPECT_EQ(nlohmann::json::parse(result.output)["root_causes"][0]["customers"], nlohmann::json({2}));
  EXPECT_EQ(run_crmhost(fmt::format("{} dnc add erp:C4 --reason 'asked us to stop'", base)).exit_code, kExitOk);
  EXPECT_EQ(run_crmhost(fmt::format("{} churn show 99999", base)).exit_code, kExitNotFound);
  // A customer the store does not have is refused with one message, by id or by source key.
  for (const char* command : {"dnc add 99999 --reason x", "dnc add erp:NOPE --reason x", "explain 99999"}) {
    const CommandResult refused = run_crmhost(fmt::format("{} {}", base, command), Stderr::kept);
    EXPECT_EQ(refused.exit_code, kExitNotFound) << command;
    EXPECT_NE(refused.output.find("no customer '"), std::string::npos) << refused.output;
  }
  result = run_crmhost(fmt::format("{} churn show 2 --json", base));
  const auto shown = nlohmann::json::parse(result.output);
  EXPECT_EQ(shown["reason"], "forced_to_leave");
  EXPECT_EQ(shown["reason_source"], "person");
  EXPECT_EQ(shown["why_chain"], nlohmann::json({"Their plant closed"}));
  EXPECT_FALSE(shown["eligible"]);
  result = run_crmhost(fmt::format("{} churn list --eligible --json", base));
  EXPECT_EQ(nlohmann::json::parse(result.output)["lost_customers"].size(), 98U);

  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns run --as-of 2024-02-30", base)).exit_code, kExitUsage);
  // Replaying history: the campaign enrols and works on the date replayed, not today.
  result = run_crmhost(fmt::format("{} campaigns run --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  const auto pass = nlohmann::json::parse(result.output);
  EXPECT_EQ(pass["enrolled"].get<int>() + pass["holdout"].get<int>(), 98);
  EXPECT_EQ(pass["messages"], pass["enrolled"]);
  EXPECT_EQ(pass["delivered"], pass["enrolled"]);
  result = run_crmhost(fmt::format("{} campaigns run --as-of 2024-01-01 --json", base));
  EXPECT_EQ(nlohmann::json::parse(result.output)["messages"], 0) << "nothing twice";
  result = run_crmhost(fmt::format("{} campaigns tasks --state open --json", base));
  const auto tasks = nlohmann::json::parse(result.output)["tasks"];
  EXPECT_EQ(tasks.size(), pass["enrolled"].get<std::size_t>());  // the playbook's first step: a call
  EXPECT_EQ(tasks[0]["title"].get<std::string>().rfind("Call customer ", 0), 0U) << tasks[0];
  EXPECT_EQ(tasks[0]["created"], "2024-01-01");
  // The owner closes the call with what came of it.
  const auto task_id = tasks[0]["id"].get<std::int64_t>();
  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns done {} --outcome 'new buyer; quote sent' --by li.na", base, task_id))
                .exit_code,
            kExitOk);
  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns done 99999 --outcome x", base)).exit_code, kExitNotFound);
  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns done {}", base, task_id)).exit_code, kExitUsage);  // no outcome
  result = run_crmhost(fmt::format("{} campaigns tasks --state done --json", base));
  const auto done = nlohmann::json::parse(result.output)["tasks"];
  ASSERT_EQ(done.size(), 1U);
  EXPECT_EQ(done[0]["id"], task_id);
  EXPECT_EQ(done[0]["done_by"], "li.na");
  EXPECT_EQ(done[0]["outcome"], "new buyer; quote sent");
  result = run_crmhost(fmt::format("{} campaigns list --json", base));
  const auto campaigns = nlohmann::json::parse(result.output)["campaigns"];
  ASSERT_EQ(campaigns.size(), 1U);
  EXPECT_EQ(campaigns[0]["enrolments"]["completed"], pass["enrolled"]);
  EXPECT_EQ(campaigns[0]["enrolments"]["holdout"], pass["holdout"]);
  EXPECT_TRUE(campaigns[0]["recovery_rate"].is_number());  // the results, kept beside each version
  EXPECT_TRUE(campaigns[0]["uplift"].is_number());
  // Today, long after the replayed date, the control group's window has ended: it leaves.
  result = run_crmhost(fmt::format("{} campaigns run --json", base));
  EXPECT_EQ(nlohmann::json::parse(result.output)["control_closed"], pass["holdout"]);
  EXPECT_EQ(nlohmann::json::parse(result.output)["messages"], 0);
  result = run_crmhost(fmt::format("{} campaigns report 1 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk);
  const auto report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["contacted"], pass["enrolled"]);
  EXPECT_EQ(report["holdout"], pass["holdout"]);
  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns report 7", base)).exit_code, kExitNotFound);
  for (const char* command : {"churn --help", "churn detect --help", "campaigns report --help", "dnc add --help"}) {
    EXPECT_EQ(run_crmhost(fmt::format("{} {}", base, command)).exit_code, kExitOk) << command;
  }
}

// Runs `sql` through a plain connection in SQLite's default rollback-journal mode, as another tool would.
void raw_exec(const fs::path& db, const std::string& sql) {
  sqlite3* connection = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &connection), SQLITE_OK);
  char* error = nullptr;
  const int result = sqlite3_exec(connection, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(connection);
  ASSERT_EQ(result, SQLITE_OK) << message;
}

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(CrmhostCli, ADamagedOrNewerDatabaseIsRefusedWithExitCode3ByEveryCommandAndLeftUntouched) {
  const fs::path db = dir_ / "crm.db";
  { const Store store(db.string()); }
  raw_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA user_version = -1");
  const std::string before = file_bytes(db);
  for (const char* command : {"run", "sync", "quarantine list", "alerts list", "campaigns run", "churn list"}) {
    const CommandResult result = run_crmhost(fmt::format("--db '{}' {}", db.string(), command), Stderr::kept);
    EXPECT_EQ(result.exit_code, kExitConfig) << command << ": " << result.output;
    EXPECT_NE(result.output.find(fmt::format("crmhost: database refused: {} has schema version -1, which no crmhost "
                                             "writes (0 to {})",
                                             db.string(), Store::kSchemaVersion)),
              std::string::npos)
        << command << ": " << result.output;
  }
  EXPECT_EQ(file_bytes(db), before);

  raw_exec(db, fmt::format("PRAGMA user_version = {}", Store::kSchemaVersion + 1));
  const std::string newer = file_bytes(db);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' run", db.string())).exit_code, kExitConfig);
  EXPECT_EQ(file_bytes(db), newer);
  EXPECT_FALSE(fs::exists(db.string() + "-wal"));
}

TEST_F(CrmhostCli, ADatabaseMissingATableIsNamedBeforeTheRunStarts) {
  const fs::path db = dir_ / "crm.db";
  { const Store store(db.string()); }
  raw_exec(db, "DROP TABLE customer_scores");
  const CommandResult result = run_crmhost(fmt::format("--db '{}' run --json", db.string()), Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitConfig) << result.output;
  // With --json the error is JSON too: {"error": {"code": 3, "message": "database refused: ..."}}.
  EXPECT_NE(result.output.find(fmt::format("\"message\": \"database refused: {} lacks table customer_scores of schema "
                                           "version {}",
                                           db.string(), Store::kSchemaVersion)),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("\"run_id\""), std::string::npos) << "the run must not have started";
}

TEST_F(CrmhostCli, AnUnknownPluginIdOrARepeatedKeyInTheConfigurationExitsWith3) {
  const fs::path typo = write("typo.json", R"({"plugins": {"scorer_helth": {"enabled": false}}})");
  for (const char* command : {"plugins", "run", "sync"}) {
    const CommandResult result = run_crmhost(
        fmt::format("--config '{}' --db '{}' {}", typo.string(), testing::store_locator(dir_ / "crm.db"), command),
        Stderr::kept);
    EXPECT_EQ(result.exit_code, kExitConfig) << command << ": " << result.output;
    EXPECT_NE(result.output.find("crmhost: configuration error: plugins.scorer_helth: no plugin found has this id; did "
                                 "you mean scorer_health? (fix the id, or remove the entry)"),
              std::string::npos)
        << command << ": " << result.output;
  }
  const fs::path repeated =
      write("repeated.json", R"({"plugins": {"scorer_health": {"enabled": false, "enabled": true}}})");
  const CommandResult result = run_crmhost(fmt::format("--config '{}' plugins", repeated.string()), Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitConfig) << result.output;
  EXPECT_NE(result.output.find(fmt::format("crmhost: configuration error: {}: key \"enabled\" appears twice at "
                                           "/plugins/scorer_health/enabled",
                                           repeated.string())),
            std::string::npos)
      << result.output;
}

TEST_F(CrmhostCli, APluginFileOtherUsersCanWriteIsRefusedUnlessTheConfigurationAllowsIt) {
  const fs::path plugins = dir_ / "plugins";
  fs::create_directories(plugins);
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.so", plugins / "scorer_example_c.so");
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.json", plugins / "scorer_example_c.json");
  fs::permissions(plugins / "scorer_example_c.so", fs::perms::others_write, fs::perm_options::add);
  const std::string base = fmt::format("--no-default-plugin-dir --plugin-dir '{}' --db '{}'", plugins.string(),
                                       testing::store_locator(dir_ / "crm.db"));
  CommandResult result = run_crmhost(base + " plugins --json");
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  auto listing = nlohmann::json::parse(result.output);
  ASSERT_EQ(listing["plugins"].size(), 1U);
  EXPECT_EQ(listing["plugins"][0]["state"], "refused");
  EXPECT_EQ(listing["plugins"][0]["reason"],
            fmt::format("plugin file {} is writable by other users (mode 0757), so they could change the code crmhost "
                        "runs; chmod go-w it, or set allow_writable_plugins in the configuration",
                        (plugins / "scorer_example_c.so").string()));
  EXPECT_EQ(run_crmhost(base + " run").exit_code, kExitPartial);

  const fs::path config = write("crmhost.json", R"({"allow_writable_plugins": true})");
  result = run_crmhost(fmt::format("--config '{}' {} plugins --json", config.string(), base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  listing = nlohmann::json::parse(result.output);
  EXPECT_EQ(listing["plugins"][0]["state"], "loaded");
}

TEST_F(CrmhostCli, RunsOfAKilledCrmhostAreMarkedInterruptedByTheNextJob) {
  fs::create_directories(dir_ / "exports");
  {
    std::ofstream out(dir_ / "exports" / "orders.csv", std::ios::binary);
    out << "order,customer,date,amount\n";
    for (int i = 1; i <= 300'000; ++i) {
      out << fmt::format("O{},C{},2026-{:02}-{:02},{}\n", i, i % 997, 1 + i % 12, 1 + i % 28, i % 500);
    }
  }
  const fs::path config = write("crmhost.json", R"({"plugins": {"erp_csv": {"config": {
      "path": "exports", "record_type": "order", "batch_rows": 5000,
      "columns": {"external_id": "order", "customer_external_id": "customer", "ordered_at_ms": "date",
                  "amount": "amount"}}}}})");
  const fs::path db = dir_ / "crm.db";
  const std::string config_arg = config.string();
  const std::string db_arg = db.string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    ::execl(CRM_HOST_BINARY, CRM_HOST_BINARY, "--config", config_arg.c_str(), "--db", db_arg.c_str(), "run",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  // Killed as soon as its connector run is recorded and its first batch committed: mid-sync.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline &&
         peek(db, "SELECT count(*) FROM connector_runs c, plugin_checkpoints p WHERE c.status = 'running'") <= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the run ended before it was killed";
  ASSERT_EQ(peek(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
  ASSERT_EQ(peek(db, "SELECT count(*) FROM connector_runs WHERE status = 'running'"), 1);

  const std::string base = fmt::format("--config '{}' --db '{}'", config_arg, db_arg);
  CommandResult result = run_crmhost(base + " sync", Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitOk) << result.output;
  EXPECT_NE(result.output.find("[host] 2 runs were left 'running' by a crmhost that ended without finishing (killed "
                               "or crashed), now marked interrupted: run 1 (run, started "),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("connector run 1 (erp_csv, started "), std::string::npos) << result.output;
  EXPECT_EQ(peek(db, "SELECT count(*) FROM runs WHERE id = 1 AND status = 'interrupted'"), 1);
  EXPECT_EQ(peek(db, "SELECT count(*) FROM connector_runs WHERE id = 1 AND status = 'interrupted'"), 1);
  EXPECT_EQ(peek(db, "SELECT count(*) FROM connector_runs WHERE id = 2 AND status = 'ok'"), 1);
  EXPECT_EQ(peek(db, "SELECT count(*) FROM orders"), 300'000);

  // Reported once: the next job finds nothing left running.
  result = run_crmhost(base + " sync", Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitOk) << result.output;
  EXPECT_EQ(result.output.find("left 'running'"), std::string::npos) << result.output;
}

// A folder holding only the given plugins (from the built plugins or the fixtures).
fs::path plugin_folder(const fs::path& dir, std::initializer_list<std::pair<std::string, std::string>> plugins) {
  const fs::path folder = dir / "plugins";
  fs::create_directories(folder);
  for (const auto& [from, name] : plugins) {
    for (const char* extension : {".so", ".json"}) {
      fs::copy_file(fs::path(from) / (name + extension), folder / (name + extension),
                    fs::copy_options::overwrite_existing);
    }
  }
  return folder;
}

TEST_F(CrmhostCli, SyncWhoseOnlyConnectorIsRefusedExits4InsteadOfSayingNoneIsConfigured) {
  const fs::path folder = plugin_folder(dir_, {{CRM_PLUGIN_DIR, "erp_csv"}});
  const fs::path config =
      write("crmhost.json", R"({"plugins": {"erp_csv": {"config": {"path": "orders.csv", "no_such_field": 1}}}})");
  const std::string base = fmt::format("--config '{}' --db '{}' --no-default-plugin-dir --plugin-dir '{}'",
                                       config.string(), testing::store_locator(dir_ / "crm.db"), folder.string());
  Outcome outcome = run_host(dir_, base + " sync");
  EXPECT_EQ(outcome.exit_code, kExitPartial) << outcome.out << outcome.err;
  EXPECT_EQ(outcome.out.find("no connector is configured"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("no connector could run: 1 refused"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.err.find("plugin 'erp_csv' refused: configuration breaks the plugin's schema"), std::string::npos)
      << outcome.err;
  EXPECT_EQ(run_host(dir_, base + " sync --json").exit_code, kExitPartial);
  EXPECT_EQ(run_host(dir_, base + " quarantine retry").exit_code, kExitPartial);
  EXPECT_EQ(run_host(dir_, base + " sync --connector erp_csv").exit_code, kExitPartial);
  outcome = run_host(dir_, base + " sync --connector erp_cvs");
  EXPECT_EQ(outcome.exit_code, kExitNotFound);
  EXPECT_NE(outcome.err.find("no plugin 'erp_cvs' was found"), std::string::npos) << outcome.err;
  // Nothing configured at all is not a failure.
  outcome =
      run_host(dir_, fmt::format("--db '{}' --no-default-plugin-dir sync", testing::store_locator(dir_ / "crm.db")));
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_NE(outcome.out.find("no connector is configured"), std::string::npos) << outcome.out;
}

TEST_F(CrmhostCli, ScorerCommandsExit4WhenAScorerTheyNeedIsRefused) {
  const std::string db = scoring_store(dir_);
  // A second copy of a scorer under another file name: its duplicate id is refused.
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.so", dir_ / "copy.so");
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.json", dir_ / "copy.json");
  const std::string base = fmt::format("--db '{}' --plugin-dir '{}'", db, dir_.string());
  for (const char* command : {"train --as-of 2023-12-01 --horizon 60", "score --as-of 2023-12-01",
                              "backtest --as-of 2023-10-01 --horizon 60 --lead-step 0"}) {
    const Outcome outcome = run_host(dir_, fmt::format("{} {}", base, command));
    EXPECT_EQ(outcome.exit_code, kExitPartial) << command << outcome.err;
    EXPECT_NE(outcome.err.find("plugin 'scorer_example_c' refused: duplicate id"), std::string::npos) << outcome.err;
  }
}

// In the host's process (isolation in_process), a plugin that ends the process ends the host, named.
constexpr const char* kInProcess = R"({"plugin_runtime": {"isolation": "in_process"}})";

TEST_F(CrmhostCli, APluginThatExitsWhileBeingCreatedEndsTheHostWithCode7NamingIt) {
  const fs::path folder = plugin_folder(dir_, {{kProcessEnders, "exits_in_create"}});
  const fs::path config = write("in-process.json", kInProcess);
  for (const char* command : {"plugins", "run", "plugins --json"}) {
    const Outcome outcome =
        run_host(dir_, fmt::format("--config '{}' --db '{}' --plugin-dir '{}' {}", config.string(),
                                   testing::store_locator(dir_ / "crm.db"), folder.string(), command));
    EXPECT_EQ(outcome.exit_code, kExitPluginEnded) << command;
    EXPECT_NE(outcome.err.find("crmhost: plugin 'exits_in_create' ended the process during its create call"),
              std::string::npos)
        << command << ": " << outcome.err;
  }
}

TEST_F(CrmhostCli, APluginThatCrashesInACallDiesWithTheSignalAfterNamingThePluginAndTheCall) {
  const std::string db = scoring_store(dir_);
  const fs::path folder =
      plugin_folder(dir_, {{kProcessEnders, "segfaults_in_score"}, {kProcessEnders, "aborts_in_fetch"}});
  const fs::path config = write("in-process.json", kInProcess);
  const std::string base = fmt::format("--config '{}' --db '{}' --no-default-plugin-dir --plugin-dir '{}'",
                                       config.string(), db, folder.string());
  Outcome outcome = run_host(dir_, base + " score --as-of 2023-12-01");
  EXPECT_EQ(outcome.term_signal, SIGSEGV) << outcome.exit_code << outcome.err;
  EXPECT_NE(outcome.err.find("crmhost: plugin 'segfaults_in_score' crashed with SIGSEGV (invalid memory access) during "
                             "its score call"),
            std::string::npos)
      << outcome.err;
  outcome = run_host(dir_, base + " sync");
  EXPECT_EQ(outcome.term_signal, SIGABRT) << outcome.exit_code << outcome.err;
  EXPECT_NE(outcome.err.find("crmhost: plugin 'aborts_in_fetch' crashed with SIGABRT (abort) during its fetch call"),
            std::string::npos)
      << outcome.err;
}

TEST_F(CrmhostCli, InTheHostsProcessALyingBatchOrRunningOutOfMemoryEndsTheHostNamingThePlugin) {
  const fs::path folder = plugin_folder(dir_, {{kProcessEnders, "misbehaving_connector"}});
  const auto run_with = [&](const std::string& does, const std::string& shell_prefix) {
    const fs::path config = write(does + ".json", fmt::format(R"({{"plugins": {{"misbehaving_connector": {{
        "isolation": "in_process", "config": {{"does": "{}"}}}}}}}})",
                                                              does));
    return run_host(dir_,
                    fmt::format("--config '{}' --db '{}' --no-default-plugin-dir --plugin-dir '{}' sync",
                                config.string(), testing::store_locator(dir_ / (does + ".db")), folder.string()),
                    shell_prefix);
  };
  const Outcome lie = run_with("lie_pointer", "");
  EXPECT_EQ(lie.term_signal, SIGSEGV) << lie.exit_code << lie.err;
  EXPECT_NE(lie.err.find("crmhost: plugin 'misbehaving_connector' crashed with SIGSEGV (invalid memory access) "
                         "during its fetch (the host reading the batch it returned) call"),
            std::string::npos)
      << lie.err;
  // Memory runs out in the plugin: its allocation fails and it aborts. An address-space limit does it
  // in a normal build; under AddressSanitizer (which reserves terabytes) its allocator's limit does.
#if defined(__SANITIZE_ADDRESS__)
  const std::string limit =
      "export ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:allocator_may_return_null=1:max_allocation_size_mb=16\";";
#else
  const std::string limit = "ulimit -v 1500000;";
#endif
  const Outcome outcome = run_with("oom", limit);
  EXPECT_EQ(outcome.term_signal, SIGABRT) << outcome.exit_code << outcome.err;
  EXPECT_NE(outcome.err.find("crmhost: plugin 'misbehaving_connector' crashed with SIGABRT (abort) during its fetch "
                             "call"),
            std::string::npos)
      << outcome.err;
}

TEST_F(CrmhostCli, InAWorkerACrashingPluginEndsItsWorkerNotTheHostAndTheCommandExits4NamingIt) {
  const std::string db = scoring_store(dir_);
  const fs::path folder = plugin_folder(
      dir_,
      {{kProcessEnders, "segfaults_in_score"}, {kProcessEnders, "aborts_in_fetch"}, {CRM_PLUGIN_DIR, "scorer_rfm"}});
  // Plugins not built with crmhost run in a worker by default; sync retries quickly here.
  const fs::path config = write("crmhost.json", R"({"sync": {"initial_backoff_ms": 10, "max_backoff_ms": 20}})");
  const std::string base = fmt::format("--config '{}' --db '{}' --no-default-plugin-dir --plugin-dir '{}'",
                                       config.string(), db, folder.string());
  Outcome outcome = run_host(dir_, base + " score --as-of 2023-12-01 --json");
  EXPECT_EQ(outcome.exit_code, kExitPartial) << outcome.err;
  EXPECT_NE(outcome.err.find("plugin 'segfaults_in_score' crashed in score: its worker ended, killed by signal 11 "
                             "(SIGSEGV)"),
            std::string::npos)
      << outcome.err;
  // The run went on: the other scorer's scores are stored.
  const auto scored = nlohmann::json::parse(outcome.out, nullptr, false);
  ASSERT_TRUE(scored.is_object()) << outcome.out;
  EXPECT_NE(outcome.out.find("scorer_rfm"), std::string::npos) << outcome.out;

  outcome = run_host(dir_, base + " sync");
  EXPECT_EQ(outcome.exit_code, kExitPartial) << outcome.err;
  EXPECT_NE(outcome.err.find("plugin 'aborts_in_fetch' crashed in fetch: its worker ended, killed by signal 6 "
                             "(SIGABRT)"),
            std::string::npos)
      << outcome.err;
  EXPECT_NE(outcome.err.find("disabled for the rest of this run after 3 failures"), std::string::npos) << outcome.err;
}

TEST_F(CrmhostCli, AnInProcessPluginPastItsDeadlineEndsTheHostWithCode9NamingIt) {
  const fs::path folder = plugin_folder(dir_, {{kProcessEnders, "misbehaving_connector"}});
  const fs::path config = write("crmhost.json", R"({"plugins": {"misbehaving_connector": {
      "isolation": "in_process", "deadlines_ms": {"fetch": 700}, "config": {"does": "hang"}}}})");
  const Outcome outcome =
      run_host(dir_, fmt::format("--config '{}' --db '{}' --no-default-plugin-dir --plugin-dir '{}' sync",
                                 config.string(), testing::store_locator(dir_ / "crm.db"), folder.string()));
  EXPECT_EQ(outcome.exit_code, kExitPluginHung) << outcome.err;
  EXPECT_NE(outcome.err.find("crmhost: plugin 'misbehaving_connector' did not return from its fetch call within its "
                             "deadline of 700 ms"),
            std::string::npos)
      << outcome.err;
}

TEST_F(CrmhostCli, InAWorkerAHungPluginIsStoppedAtItsDeadlineAndTheCommandFinishes) {
  const fs::path folder = plugin_folder(dir_, {{kProcessEnders, "misbehaving_connector"}});
  const fs::path config = write("crmhost.json", R"({"plugins": {"misbehaving_connector": {
      "deadlines_ms": {"fetch": 300}, "config": {"does": "hang"}}},
      "sync": {"initial_backoff_ms": 10, "max_backoff_ms": 20}})");
  const Outcome outcome =
      run_host(dir_, fmt::format("--config '{}' --db '{}' --no-default-plugin-dir --plugin-dir '{}' sync",
                                 config.string(), testing::store_locator(dir_ / "crm.db"), folder.string()));
  EXPECT_EQ(outcome.exit_code, kExitPartial) << outcome.err;
  EXPECT_NE(outcome.err.find("plugin 'misbehaving_connector' did not finish fetch within its deadline of 300 ms; its "
                             "worker was stopped"),
            std::string::npos)
      << outcome.err;
}

TEST_F(CrmhostCli, BadCommandLineValuesAreUsageErrorsAndWhatIsMissingIsNotFound) {
  const std::string db = scoring_store(dir_);
  const std::string base = fmt::format("--db '{}'", db);
  const fs::path fresh = dir_ / "fresh.db";
  for (const char* command :
       {"score --as-of 2011-13-45", "run --as-of 2011-13-45", "train --horizon -3", "backtest --as-of 2011-02-30",
        "churn detect --as-of yesterday", "campaigns run --as-of 2024-02-30", "churn mark 2 --date 2024-1-32"}) {
    const Outcome outcome = run_host(dir_, fmt::format("--db '{}' {}", fresh.string(), command));
    EXPECT_EQ(outcome.exit_code, kExitUsage) << command << ": " << outcome.err;
    EXPECT_FALSE(fs::exists(fresh)) << command << " opened the store before refusing its command line";
  }
  const Outcome date = run_host(dir_, base + " score --as-of 2011-13-45");
  EXPECT_NE(date.err.find("'2011-13-45' is not a calendar date"), std::string::npos) << date.err;
  EXPECT_EQ(run_host(dir_, base + " explain twelve").exit_code, kExitUsage);
  for (const char* command :
       {"explain 99999", "explain erp:nobody", "churn show 99999", "dnc remove 3", "alerts ack 42", "alerts resend 1",
        "campaigns report 7", "campaigns status 7", "campaigns done 99999 --outcome x"}) {
    const Outcome outcome = run_host(dir_, fmt::format("{} {}", base, command));
    EXPECT_EQ(outcome.exit_code, kExitNotFound) << command << ": " << outcome.err;
  }
}

TEST_F(CrmhostCli, WithJsonErrorsAreJsonToo) {
  const std::string db = scoring_store(dir_);
  const std::string base = fmt::format("--db '{}'", db);
  const auto error_of = [&](const std::string& command) {
    const Outcome outcome = run_host(dir_, fmt::format("{} {}", base, command));
    const auto document = nlohmann::json::parse(outcome.out, nullptr, false);
    EXPECT_TRUE(document.is_object() && document.contains("error")) << command << ": " << outcome.out;
    EXPECT_EQ(document["error"]["code"], outcome.exit_code) << command;
    EXPECT_TRUE(document["error"]["message"].is_string()) << command;
    return document["error"];
  };
  EXPECT_EQ(error_of("explain 99999 --json")["message"], "no customer '99999' in the store");
  EXPECT_EQ(error_of("score --as-of 2011-13-45 --json")["code"], kExitUsage);
  EXPECT_EQ(error_of("plugins --json --no-such-flag")["code"], kExitUsage);
  const fs::path broken = write("broken.json", R"({"database": )");
  EXPECT_EQ(error_of(fmt::format("--config '{}' plugins --json", broken.string()))["code"], kExitConfig);
}

// Starts `crmhost ARGUMENTS`, waits for `marker` on its stderr, sends `signal_number`, and returns its exit code.
int exit_code_after_signal(const std::vector<std::string>& arguments, const std::string& marker, int signal_number) {
  int pipe_ends[2] = {-1, -1};
  if (::pipe(pipe_ends) != 0) {
    return -2;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(pipe_ends[1], STDERR_FILENO);
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(CRM_HOST_BINARY));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    for (const std::string& argument : arguments) {
      argv.push_back(const_cast<char*>(argument.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_ends[1]);
  std::string seen;
  std::array<char, 512> chunk{};
  ssize_t read = 0;
  while (seen.find(marker) == std::string::npos && (read = ::read(pipe_ends[0], chunk.data(), chunk.size())) > 0) {
    seen.append(chunk.data(), static_cast<std::size_t>(read));
  }
  ::kill(child, signal_number);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(pipe_ends[0]);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(CrmhostCli, SigtermEndsWith143AndCtrlCWith130) {
  const fs::path folder = plugin_folder(dir_, {{CRM_TEST_PLUGIN_DIR, "flaky_connector"}});
  // A source that stays down, retried every ten minutes: the sync waits until it is stopped.
  const fs::path config = write("crmhost.json", R"({"plugins": {"flaky_connector": {"config": {"fail_times": 1000}}},
                                "sync": {"max_attempts": 100, "initial_backoff_ms": 600000}})");
  const std::vector<std::string> arguments = {
      "--config",     config.string(), "--db", testing::store_locator(dir_ / "crm.db"), "--no-default-plugin-dir",
      "--plugin-dir", folder.string(), "sync"};
  EXPECT_EQ(exit_code_after_signal(arguments, "retrying in", SIGTERM), kExitTerminated);
  EXPECT_EQ(exit_code_after_signal(arguments, "retrying in", SIGINT), kExitCancelled);
}

TEST_F(CrmhostCli, StopSignalsEndAHungPluginCallAfterTheGraceInBothIsolations) {
  const fs::path folder = plugin_folder(dir_, {{kProcessEnders, "misbehaving_connector"}});
  for (const char* isolation : {"in_process", "process"}) {
    const fs::path config = write(fmt::format("{}.json", isolation), fmt::format(R"({{
        "plugin_runtime": {{"cancel_grace_ms": 300}},
        "plugins": {{"misbehaving_connector": {{"isolation": "{}", "config": {{"does": "hang"}}}}}}}})",
                                                                                 isolation));
    const std::vector<std::string> arguments = {"--config",
                                                config.string(),
                                                "--db",
                                                testing::store_locator(dir_ / fmt::format("{}.db", isolation)),
                                                "--no-default-plugin-dir",
                                                "--plugin-dir",
                                                folder.string(),
                                                "sync"};
    EXPECT_EQ(exit_code_after_signal(arguments, "misbehaving: about to hang", SIGTERM), kExitTerminated) << isolation;
    EXPECT_EQ(exit_code_after_signal(arguments, "misbehaving: about to hang", SIGINT), kExitCancelled) << isolation;
  }
}

TEST_F(CrmhostCli, HelpListsEveryExitCodeAndTheReadmeTheSame) {
  const CommandResult help = run_crmhost("--help");
  ASSERT_EQ(help.exit_code, kExitOk);
  std::set<int> in_code;
  for (const ExitCodeMeaning& entry : kExitCodes) {
    in_code.insert(entry.code);
    EXPECT_NE(help.output.find(fmt::format("{:>3}  {}", entry.code, entry.meaning)), std::string::npos)
        << entry.code << " missing from --help:\n"
        << help.output;
  }
  EXPECT_EQ(in_code.count(kExitBusy), 1U);
  EXPECT_NE(help.output.find("CRMHOST_CONFIG"), std::string::npos);
  // README.md's exit-code table lists the same codes.
  const std::string readme = read_text(fs::path(CRM_SOURCE_DIR) / "README.md");
  const std::size_t table_start = readme.find("| exit code | meaning |");
  ASSERT_NE(table_start, std::string::npos);
  const std::string table = readme.substr(table_start, readme.find("\n\n", table_start) - table_start);
  const std::regex row(R"(\n\| (\d+) \| )");
  std::set<int> in_readme;
  for (auto match = std::sregex_iterator(table.begin(), table.end(), row); match != std::sregex_iterator(); ++match) {
    in_readme.insert(std::stoi((*match)[1].str()));
  }
  EXPECT_EQ(in_readme, in_code);
}

TEST_F(CrmhostCli, ConfigurationIsFoundWithoutConfigInTheEnvironmentThenTheWorkingDirectory) {
  const auto state_of = [](const Outcome& outcome, const std::string& id) {
    const auto listing = nlohmann::json::parse(outcome.out, nullptr, false);
    for (const auto& plugin : listing.value("plugins", nlohmann::json::array())) {
      if (plugin["id"] == id) {
        return plugin["state"].get<std::string>();
      }
    }
    return std::string("absent");
  };
  const fs::path elsewhere = dir_ / "elsewhere";
  fs::create_directories(elsewhere);
  std::ofstream(elsewhere / "env.json") << R"({"plugins": {"scorer_example_c": {"enabled": false}}})";
  write("crmhost.json", R"({"plugins": {"scorer_example_cpp": {"enabled": false}}})");
  const std::string in_dir = fmt::format("cd '{}' &&", dir_.string());
  Outcome outcome = run_host(dir_, "plugins --json", in_dir);
  ASSERT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_EQ(state_of(outcome, "scorer_example_cpp"), "disabled");
  EXPECT_EQ(state_of(outcome, "scorer_example_c"), "loaded");
  // CRMHOST_CONFIG comes before ./crmhost.json.
  outcome = run_host(dir_, "plugins --json",
                     fmt::format("{} CRMHOST_CONFIG='{}'", in_dir, (elsewhere / "env.json").string()));
  ASSERT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_EQ(state_of(outcome, "scorer_example_c"), "disabled");
  EXPECT_EQ(state_of(outcome, "scorer_example_cpp"), "loaded");
  // A variable naming no file is an error, not a silent fallback.
  outcome = run_host(dir_, "plugins", fmt::format("CRMHOST_CONFIG='{}'", (elsewhere / "nope.json").string()));
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_NE(outcome.err.find("CRMHOST_CONFIG names"), std::string::npos) << outcome.err;
}

TEST_F(CrmhostCli, ConfigCheckListsEveryProblemWithoutTouchingTheStore) {
  const fs::path db = dir_ / "never.db";
  const fs::path good = write(
      "good.json",
      nlohmann::json{{"database", db.string()}, {"plugins", {{"scorer_example_cpp", {{"enabled", false}}}}}}.dump());
  Outcome outcome = run_host(dir_, fmt::format("--config '{}' config check", good.string()));
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("valid"), std::string::npos) << outcome.out;

  const fs::path bad = write(
      "bad.json",
      nlohmann::json{
          {"database", db.string()},
          {"plugins",
           {{"erp_csv", {{"config", {{"path", "orders.csv"}, {"no_such_field", 1}}}}},
            {"scorer_example_c", {{"config", {{"max_recency_days", -1}}}}},
            {"alert_webhook", {{"config", {{"url", "https://example.test/hook"}, {"secret", "inline-secret"}}}}}}}}
          .dump());
  outcome = run_host(dir_, fmt::format("--config '{}' config check --json", bad.string()));
  EXPECT_EQ(outcome.exit_code, kExitConfig) << outcome.out << outcome.err;
  const auto report = nlohmann::json::parse(outcome.out);
  EXPECT_FALSE(report["valid"]);
  const std::string problems = report["problems"].dump();
  for (const char* plugin : {"erp_csv", "scorer_example_c", "alert_webhook"}) {
    EXPECT_NE(problems.find(fmt::format("plugin '{}'", plugin)), std::string::npos) << plugin << ": " << problems;
  }
  EXPECT_EQ(problems.find("inline-secret"), std::string::npos) << "a secret in a message: " << problems;

  // A file the host itself refuses is listed too, with what its plugins' sections break.
  const fs::path invalid = write(
      "invalid.json", R"({"database": 7, "plugins": {"scorer_example_c": {"config": {"max_recency_days": -1}}}})");
  outcome = run_host(dir_, fmt::format("--config '{}' config check", invalid.string()));
  EXPECT_EQ(outcome.exit_code, kExitConfig);
  EXPECT_NE(outcome.out.find("2 problem(s)"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("plugin 'scorer_example_c'"), std::string::npos) << outcome.out;
  EXPECT_FALSE(fs::exists(db)) << "config check opened the store";
  EXPECT_FALSE(fs::exists(dir_ / "crm.db")) << "config check opened the store";
}

TEST_F(CrmhostCli, CompletionScriptsCompleteSubcommandsAndTheirOptions) {
  const auto complete = [&](const std::string& words, int current) {
    const fs::path script = dir_ / "complete.sh";
    std::ofstream(script) << fmt::format(
        "source <('{}' completion bash) || exit 9\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_crmhost\necho "
        "\"${{COMPREPLY[@]}}\"\n",
        CRM_HOST_BINARY, words, current);
    FILE* pipe = popen(fmt::format("bash '{}'", script.string()).c_str(), "r");
    std::string output;
    std::array<char, 1024> chunk{};
    std::size_t read = 0;
    while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
      output.append(chunk.data(), read);
    }
    EXPECT_EQ(pclose(pipe), 0) << output;
    return output;
  };
  EXPECT_EQ(complete("crmhost al", 1), "alerts\n");
  EXPECT_EQ(complete("crmhost alerts a", 2), "ack\n");
  EXPECT_EQ(complete("crmhost --db x.db alerts list --st", 5), "--state\n");
  EXPECT_EQ(complete("crmhost config ch", 2), "check\n");
  EXPECT_EQ(complete("crmhost run --as", 2), "--as-of\n");
  const CommandResult zsh = run_crmhost("completion zsh");
  EXPECT_EQ(zsh.exit_code, kExitOk);
  EXPECT_EQ(zsh.output.rfind("#compdef crmhost\n", 0), 0U) << zsh.output;
  EXPECT_EQ(run_crmhost("completion fish").exit_code, kExitUsage);
}

TEST_F(CrmhostCli, RunIsQuietUnlessSomethingIsRefusedOrVerboseIsAsked) {
  const std::string base = fmt::format("--db '{}'", testing::store_locator(dir_ / "crm.db"));
  // The connectors are installed but not configured: that is on purpose, and not worth a line.
  Outcome outcome = run_host(dir_, base + " run");
  ASSERT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_EQ(outcome.out.find("STATE"), std::string::npos) << outcome.out;
  EXPECT_EQ(outcome.err.find("is not configured"), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("is disabled"), std::string::npos) << outcome.err;
  outcome = run_host(dir_, base + " run --verbose");
  EXPECT_NE(outcome.out.find("STATE"), std::string::npos) << outcome.out;
  outcome = run_host(dir_, base + " --log-level debug sync");
  EXPECT_NE(outcome.err.find("is not configured"), std::string::npos) << outcome.err;
  // A refusal brings the table back.
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.so", dir_ / "copy.so");
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.json", dir_ / "copy.json");
  outcome = run_host(dir_, fmt::format("{} --plugin-dir '{}' run", base, dir_.string()));
  EXPECT_EQ(outcome.exit_code, kExitPartial);
  EXPECT_NE(outcome.out.find("STATE"), std::string::npos) << outcome.out;
}

TEST_F(CrmhostCli, TokensAreCreatedOnceListedWithoutTheSecretAndRevoked) {
  const std::string base = fmt::format("--db '{}'", testing::store_locator(dir_ / "crm.db"));
  for (const char* command : {"tokens --help", "tokens create --help", "tokens list --help", "tokens revoke --help"}) {
    const CommandResult help = run_crmhost(command);
    EXPECT_EQ(help.exit_code, kExitOk) << command;
    EXPECT_NE(help.output.find("Usage:"), std::string::npos) << command;
  }
  // The token alone on stdout (for scripts), the warning to keep it on stderr.
  Outcome created = run_host(dir_, base + " tokens create ci --scopes read,write");
  ASSERT_EQ(created.exit_code, kExitOk) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  EXPECT_TRUE(std::regex_match(token, std::regex("crm_[A-Za-z0-9_-]{43}"))) << created.out;
  EXPECT_EQ(created.out, token + "\n");
  EXPECT_NE(created.err.find("shown only this once"), std::string::npos) << created.err;

  const CommandResult as_json = run_crmhost(base + " tokens create bi --scopes admin --json");
  ASSERT_EQ(as_json.exit_code, kExitOk) << as_json.output;
  const nlohmann::json made = nlohmann::json::parse(as_json.output);
  EXPECT_EQ(made["name"], "bi");
  EXPECT_EQ(made["scopes"], nlohmann::json({"read", "write", "admin"}));
  EXPECT_TRUE(made["token"].get<std::string>().starts_with("crm_"));

  EXPECT_EQ(run_crmhost(base + " tokens create ci --scopes read").exit_code, kExitUsage);  // name taken
  EXPECT_EQ(run_crmhost(base + " tokens create other --scopes owner").exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost(base + " tokens create 'bad name' --scopes read").exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost(base + " tokens create nameless").exit_code, kExitUsage);  // --scopes is required

  const CommandResult listed = run_crmhost(base + " tokens list");
  ASSERT_EQ(listed.exit_code, kExitOk);
  EXPECT_NE(listed.output.find("ci "), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("read,write,admin"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find(token), std::string::npos) << listed.output;
  const CommandResult listed_json = run_crmhost(base + " tokens list --json");
  ASSERT_EQ(listed_json.exit_code, kExitOk);
  EXPECT_EQ(listed_json.output.find(token), std::string::npos);
  const nlohmann::json rows = nlohmann::json::parse(listed_json.output);
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[1]["name"], "ci");
  EXPECT_EQ(rows[1]["scopes"], nlohmann::json({"read", "write"}));
  EXPECT_TRUE(rows[1]["last_used_ms"].is_null());
  EXPECT_TRUE(rows[1]["revoked_ms"].is_null());

  EXPECT_EQ(run_crmhost(base + " tokens revoke ci").exit_code, kExitOk);
  EXPECT_EQ(run_crmhost(base + " tokens revoke ci").exit_code, kExitNotFound);
  const nlohmann::json after = nlohmann::json::parse(run_crmhost(base + " tokens list --json").output);
  EXPECT_FALSE(after[1]["revoked_ms"].is_null());
}

// The Telco file as customer attributes, cross-validated in 5 folds exported for a peer (issue 17).
TEST_F(CrmhostCli, BacktestFoldsCrossValidatesTheTelcoAttributesAndExportsTheFolds) {
  const fs::path telco = fs::path(CRM_SOURCE_DIR) / ".." / "shared" / "data" / "telco" / "Telco-Customer-Churn.csv";
  nlohmann::json config = nlohmann::json::parse(read_text(fs::path(CRM_SOURCE_DIR) / "examples/telco/telco.json"));
  config["database"] = (dir_ / "telco.db").string();
  config["plugins"]["erp_csv"]["config"]["path"] = telco.string();
  const fs::path file = write("telco.json", config.dump());
  const std::string base = fmt::format("--config '{}'", file.string());
  CommandResult result = run_crmhost(fmt::format("{} sync --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  const fs::path folds = dir_ / "folds.csv";
  result =
      run_crmhost(fmt::format("{} backtest --folds 5 --label churned --folds-out '{}' --json", base, folds.string()));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  const auto report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["customers"], 7043);
  EXPECT_EQ(report["churned"], 1869);
  bool logit_seen = false;
  for (const auto& row : report["scorers"]) {
    if (row["scorer"] == "scorer_logit") {
      logit_seen = true;
      EXPECT_EQ(row["fold_roc_auc"].size(), 5U);
      EXPECT_GE(row["pooled_roc_auc"].get<double>(), 0.8446);  // JSON has 4 decimals; the peer: 0.84469
    }
  }
  EXPECT_TRUE(logit_seen) << result.output;
  const std::string csv = read_text(folds);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "external_id,churned,fold");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7044);
  result = run_crmhost(fmt::format("{} backtest --folds 5", base));
  EXPECT_EQ(result.exit_code, kExitOk);
  EXPECT_NE(result.output.find("cross-validation, 5 stratified folds on the attribute 'churned': 7043 customers"),
            std::string::npos)
      << result.output;
  // Bad requests: one fold, no date and no folds, a label nobody has.
  EXPECT_EQ(run_crmhost(fmt::format("{} backtest --folds 1", base)).exit_code, kExitUsage);
  result = run_crmhost(fmt::format("{} backtest", base), Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_NE(result.output.find("--as-of is required"), std::string::npos) << result.output;
  result = run_crmhost(fmt::format("{} backtest --folds 5 --label nobody_has_it", base), Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_NE(result.output.find("no customer has the attribute 'nobody_has_it'"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace crm::host
