// The crmhost binary as users and scripts see it: exit codes, --json, --help.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sqlite3.h>
#include <string>
#include <sys/wait.h>
#include <thread>

#include "cli/exit_codes.hpp"
#include "crm/abi.h"
#include "store/job_lock.hpp"
#include "store/store.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

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
  CommandResult result = run_crmhost(fmt::format("run --json --db '{}' --plugin-dir '{}'", db.string(), dir_.string()));
  EXPECT_EQ(result.exit_code, kExitPartial);
  auto summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["status"], "partial");
  EXPECT_EQ(summary["loaded"], 7);  // six scorers and the console channel; connectors wait for configuration
  EXPECT_EQ(summary["refused"], 1);
  EXPECT_TRUE(fs::exists(db));

  result = run_crmhost(fmt::format("run --json --db '{}'", db.string()));
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
fs::path scoring_store(const fs::path& dir) {
  fs::path db = dir / "crm.db";
  Store store(db.string());
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
  return db;
}

TEST_F(CrmhostCli, TrainScoreExplainAndBacktestOnOneStore) {
  const fs::path db = scoring_store(dir_);
  const std::string base = fmt::format("--db '{}'", db.string());

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

  // Four months after the even customers stopped, they have fallen out of green.
  result = run_crmhost(fmt::format("{} score --as-of 2024-01-01 --json", base));
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  report = nlohmann::json::parse(result.output);
  EXPECT_TRUE(report["skipped"].empty()) << report["skipped"].dump();
  EXPECT_GE(report["band_changes"].size(), 90U);
  for (const auto& change : report["band_changes"]) {
    EXPECT_EQ(change["customer_id"].get<int>() % 2, 0) << change.dump();
    EXPECT_EQ(change["from"], "green");
  }

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

TEST_F(CrmhostCli, ScoringCommandsExplainBadInput) {
  const fs::path db = scoring_store(dir_);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' score --as-of 2024-13-01", db.string())).exit_code, kExitConfig);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' explain 99999", db.string())).exit_code, kExitFailure);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' explain erp:nobody", db.string())).exit_code, kExitFailure);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' explain twelve", db.string())).exit_code, kExitConfig);
  EXPECT_EQ(run_crmhost(fmt::format("--db '{}' backtest --horizon 90", db.string())).exit_code, kExitUsage);
  const CommandResult features = run_crmhost("features --json");
  EXPECT_EQ(features.exit_code, kExitOk);
  EXPECT_NE(features.output.find("\"recency_days\""), std::string::npos);
}

TEST_F(CrmhostCli, RunSyncsScoresAlertsOnceAndAlertsCanBeAcknowledgedAndResolved) {
  const fs::path db = scoring_store(dir_);
  const fs::path alerts_file = dir_ / "alerts.txt";
  const fs::path config =
      write("crmhost.json",
            nlohmann::json{{"database", db.string()},
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
  EXPECT_EQ(run_crmhost(fmt::format("{} alerts ack {} --by li.wei", base, first)).exit_code, kExitFailure);
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
  EXPECT_EQ(run_crmhost(fmt::format("{} alerts resend 1", base)).exit_code, kExitFailure);  // not dead
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
  const fs::path db = scoring_store(dir_);
  const fs::path messages = dir_ / "messages.txt";
  const fs::path config = write(
      "crmhost.json", nlohmann::json{{"database", db.string()},
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
  EXPECT_EQ(run_crmhost(fmt::format("{} churn show 99999", base)).exit_code, kExitFailure);
  // A customer the store does not have is refused with one message, by id or by source key.
  for (const char* command : {"dnc add 99999 --reason x", "dnc add erp:NOPE --reason x", "explain 99999"}) {
    const CommandResult refused = run_crmhost(fmt::format("{} {}", base, command), Stderr::kept);
    EXPECT_EQ(refused.exit_code, kExitFailure) << command;
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

  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns run --as-of 2024-02-30", base)).exit_code, kExitConfig);
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
  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns done 99999 --outcome x", base)).exit_code, kExitFailure);
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
  EXPECT_EQ(run_crmhost(fmt::format("{} campaigns report 7", base)).exit_code, kExitFailure);
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
  EXPECT_NE(result.output.find(fmt::format("crmhost: database refused: {} lacks table customer_scores of schema "
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
        fmt::format("--config '{}' --db '{}' {}", typo.string(), (dir_ / "crm.db").string(), command), Stderr::kept);
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
  const std::string base =
      fmt::format("--no-default-plugin-dir --plugin-dir '{}' --db '{}'", plugins.string(), (dir_ / "crm.db").string());
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

// Reads while a job runs, as a bystander: read-only, so it never takes a lock the job needs.
std::int64_t peek(const fs::path& db, const char* sql) {
  if (!fs::exists(db)) {
    return -1;
  }
  sqlite3* connection = nullptr;
  std::int64_t value = -1;
  if (sqlite3_open_v2(db.c_str(), &connection, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(connection, sql, -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      value = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(connection);
  return value;
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

}  // namespace
}  // namespace crm::host
