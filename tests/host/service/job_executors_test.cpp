#include "service/job_executors.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>

#include "service/scheduler.hpp"
#include "service/service_settings.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// The real jobs through the real loader: erp_csv reads an export, scorer_health
// scores, and each job the scheduler runs is recorded in `runs`.
class JobExecutorsTest : public ::testing::Test {
 protected:
  JobExecutorsTest()
      : dir_(fs::temp_directory_path() / fmt::format("crm-executors-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "plugins");
    testing::start_new_stores_under(dir_);
    for (const char* plugin : {"erp_csv", "scorer_health"}) {
      for (const char* extension : {".so", ".json"}) {
        fs::copy_file(fs::path(CRM_PLUGIN_DIR) / (std::string(plugin) + extension),
                      dir_ / "plugins" / (std::string(plugin) + extension));
      }
    }
    std::ofstream(dir_ / "orders.csv") << "order,customer,date,amount\nO1,C1,2026-01-05,100\nO2,C1,2026-02-05,120\n"
                                          "O3,C2,2026-01-10,80\n";
    std::ofstream(dir_ / "crmhost.json") << R"({"plugins": {"erp_csv": {"every": "5m", "config": {
        "path": "orders.csv", "record_type": "order",
        "columns": {"external_id": "order", "customer_external_id": "customer", "ordered_at_ms": "date",
                    "amount": "amount"}}}},
      "service": {"time_zone": "Europe/Berlin", "jobs": {"winback": {"every": "2h"}}}})";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
    options_.plugin_dirs = {(dir_ / "plugins").string()};
  }
  ~JobExecutorsTest() override { fs::remove_all(dir_); }

  fs::path dir_;
  SessionOptions options_;
};

TEST_F(JobExecutorsTest, EachJobRunsOnTheApplicationCoreAndLandsInRuns) {
  std::atomic<bool> cancelled{false};
  Session session(options_, LogLevel::error, cancelled);
  const ServiceSettings settings = parse_service_settings(session.config(), loaded_connector_ids(session));
  ASSERT_EQ(settings.jobs.size(), 4U);
  EXPECT_EQ(settings.jobs[0].id, "sync:erp_csv");
  EXPECT_EQ(settings.jobs[0].schedule.text(), "every 5m");
  EXPECT_EQ(settings.time_zone.name(), "Europe/Berlin");

  SchedulerOptions scheduler_options;
  scheduler_options.lock_jobs = [&session](std::string_view job) { return session.lock_jobs(job); };
  scheduler_options.cancel_on_stop = &cancelled;
  Scheduler scheduler(settings.jobs, settings.time_zone, make_job_executors(session), scheduler_options,
                      session.clock(), std::make_unique<Store>(session.database_locator()));
  for (const char* id : {"sync:erp_csv", "score", "alerts", "winback"}) {
    ASSERT_TRUE(scheduler.trigger(id));
    ASSERT_GE(scheduler.run_due(), 1U);
  }
  std::map<std::string, JobStatus> by_id;
  for (JobStatus& status : scheduler.status()) {
    ASSERT_TRUE(status.last_run) << status.id;
    EXPECT_EQ(status.last_run->outcome, "ok") << status.id << ": " << status.last_run->message;
    by_id.emplace(status.id, std::move(status));
  }
  const nlohmann::json sync = nlohmann::json::parse(by_id.at("sync:erp_csv").last_run->counts_json);
  EXPECT_EQ(sync["fetched"], 3);
  EXPECT_EQ(sync["status"], "ok");
  const nlohmann::json score = nlohmann::json::parse(by_id.at("score").last_run->counts_json);
  EXPECT_EQ(score["customers"], 2);
  EXPECT_TRUE(score.contains("alerts"));
  EXPECT_TRUE(nlohmann::json::parse(by_id.at("alerts").last_run->counts_json).contains("escalated"));
  EXPECT_TRUE(nlohmann::json::parse(by_id.at("winback").last_run->counts_json).contains("churn"));

  Store store(options_.db_path);
  Statement runs = store.database().prepare("SELECT command, status, summary_json FROM runs ORDER BY id");
  std::vector<std::string> recorded;
  while (runs.step()) {
    recorded.push_back(runs.column_text(0) + " " + runs.column_text(1));
    EXPECT_EQ(nlohmann::json::parse(runs.column_text(2))["job_run_id"].is_number(), true);
  }
  // The first pass ran the triggered sync and the interval jobs that never ran (alerts, winback); then the
  // triggered ones, one each.
  EXPECT_EQ(recorded, (std::vector<std::string>{"sync:erp_csv ok", "alerts ok", "winback ok", "score ok", "alerts ok",
                                                "winback ok"}));
  scheduler.stop();
}

}  // namespace
}  // namespace crm::host
