#include "service/scheduler.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/civil_time.hpp"
#include "core/config.hpp"
#include "service/service_settings.hpp"
#include "store/service_job_repository.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

std::int64_t utc_ms(int year, int month, int day, int hour, int minute) {
  return ((civil::days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60'000;
}

constexpr std::int64_t kMinuteMs = 60'000;

JobDefinition job(const std::string& id, JobKind kind, Schedule schedule) {
  return {id, kind, kind == JobKind::sync ? id.substr(5) : std::string(), std::move(schedule)};
}

// Waits (not a timing assertion: a generous bound that only a hang reaches) until `done` holds.
template <typename Predicate>
bool wait_until(std::mutex& mutex, std::condition_variable& changed, Predicate done) {
  std::unique_lock lock(mutex);
  return changed.wait_for(lock, std::chrono::seconds(60), done);
}

// A real store (SQLite, or PostgreSQL under the ".postgresql" variant), a
// manual clock and a fake executor that records which jobs ran.
class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest()
      : dir_(fs::temp_directory_path() / fmt::format("crm-scheduler-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    testing::start_new_stores_under(dir_);
    locator_ = testing::store_locator(dir_ / "crm.db");
  }
  ~SchedulerTest() override { fs::remove_all(dir_); }

  JobExecutors fake_executors() {
    const JobExecutor executor = [this](const JobDefinition& definition, const JobLock&) {
      const std::lock_guard lock(mutex_);
      ran_.push_back(definition.id);
      if (definition.id == "score" && fail_score_) {
        throw std::runtime_error("no scorer plugin is loaded");
      }
      JobRunResult result;
      result.counts = {{"records", 3}};
      return result;
    };
    return {executor, executor, executor, executor};
  }

  SchedulerOptions options() {
    SchedulerOptions options;
    options.lock_jobs = [this](std::string_view command) {
      return std::make_unique<JobLock>(locator_, command, clock_.now_ms());
    };
    return options;
  }

  std::unique_ptr<Scheduler> make(std::vector<JobDefinition> jobs, SchedulerOptions scheduler_options,
                                  JobExecutors executors) {
    return std::make_unique<Scheduler>(std::move(jobs), TimeZone(), std::move(executors), std::move(scheduler_options),
                                       clock_, std::make_unique<Store>(locator_));
  }
  std::unique_ptr<Scheduler> make(std::vector<JobDefinition> jobs) {
    return make(std::move(jobs), options(), fake_executors());
  }

  std::vector<std::string> take_ran() {
    const std::lock_guard lock(mutex_);
    return std::exchange(ran_, {});
  }

  static JobStatus status_of(const Scheduler& scheduler, const std::string& id) {
    for (JobStatus& status : scheduler.status()) {
      if (status.id == id) {
        return status;
      }
    }
    throw std::runtime_error("no job " + id);
  }

  fs::path dir_;
  std::string locator_;
  ManualClock clock_{utc_ms(2024, 3, 1, 0, 0)};
  std::mutex mutex_;
  std::vector<std::string> ran_;
  bool fail_score_ = false;
};

TEST_F(SchedulerTest, IntervalJobsRunAtStartAndEveryIntervalCronJobsAtTheirSlots) {
  const auto scheduler = make({job("sync:erp_csv", JobKind::sync, Schedule::every("10m")),
                               job("score", JobKind::score, Schedule::cron("0 2 * * *"))});
  EXPECT_EQ(scheduler->run_due(), 1U);
  EXPECT_EQ(take_ran(), std::vector<std::string>{"sync:erp_csv"});
  clock_.advance_ms(5 * kMinuteMs);
  EXPECT_EQ(scheduler->run_due(), 0U);
  clock_.advance_ms(5 * kMinuteMs);
  EXPECT_EQ(scheduler->run_due(), 1U);
  EXPECT_EQ(scheduler->next_due_ms(), utc_ms(2024, 3, 1, 0, 20));

  clock_.set_ms(utc_ms(2024, 3, 1, 2, 0));
  EXPECT_EQ(scheduler->run_due(), 2U);
  EXPECT_EQ(take_ran(), (std::vector<std::string>{"sync:erp_csv", "sync:erp_csv", "score"}));  // earliest due first

  const JobStatus score = status_of(*scheduler, "score");
  EXPECT_EQ(score.schedule, "0 2 * * *");
  ASSERT_TRUE(score.last_run);
  EXPECT_EQ(score.last_run->outcome, "ok");
  EXPECT_EQ(score.last_run->started_ms, utc_ms(2024, 3, 1, 2, 0));
  EXPECT_EQ(score.last_run->duration_ms, 0);
  EXPECT_EQ(score.last_run->counts_json, R"({"records":3})");
  EXPECT_EQ(score.next_run_ms, utc_ms(2024, 3, 2, 2, 0));

  const nlohmann::json json = job_status_json(score);
  EXPECT_EQ(json["id"], "score");
  EXPECT_EQ(json["last_run"]["outcome"], "ok");
  EXPECT_EQ(json["last_run"]["counts"]["records"], 3);
  EXPECT_EQ(json["last_run"]["started_at"], "2024-03-01T02:00:00Z");
  EXPECT_EQ(json["next_run_at"], "2024-03-02T02:00:00Z");
  EXPECT_EQ(job_statuses_json(scheduler->status())["jobs"].size(), 2U);
}

TEST_F(SchedulerTest, AJobMissedWhileTheServiceWasDownRunsOnceAtStartNotOncePerSlot) {
  const std::vector<JobDefinition> jobs = {job("sync:erp_csv", JobKind::sync, Schedule::every("10m")),
                                           job("score", JobKind::score, Schedule::cron("0 2 * * *")),
                                           job("winback", JobKind::winback, Schedule::cron("@hourly"))};
  {
    const auto before = make(jobs);
    clock_.set_ms(utc_ms(2024, 3, 1, 2, 0));
    EXPECT_EQ(before->run_due(), 3U);  // winback's first slot is 01:00, score's 02:00
    EXPECT_EQ(take_ran(), (std::vector<std::string>{"sync:erp_csv", "winback", "score"}));
  }
  // Down for three days: 432 sync slots, 72 winback slots and 3 score slots missed.
  clock_.advance_ms(3 * 24 * 60 * kMinuteMs + 30 * kMinuteMs);
  const auto after = make(jobs);
  EXPECT_EQ(after->run_due(), 3U);
  EXPECT_EQ(take_ran(), (std::vector<std::string>{"sync:erp_csv", "score", "winback"}));
  EXPECT_EQ(after->run_due(), 0U);
  EXPECT_EQ(status_of(*after, "score").next_run_ms, utc_ms(2024, 3, 5, 2, 0));
  EXPECT_EQ(status_of(*after, "winback").next_run_ms, utc_ms(2024, 3, 4, 3, 0));

  // The store kept each job's last run.
  Store store(locator_);
  const std::vector<ServiceJobRow> rows = ServiceJobRepository(store.database()).list();
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0].job_id, "score");
  EXPECT_EQ(rows[0].started_ms, utc_ms(2024, 3, 4, 2, 30));
  EXPECT_EQ(rows[0].outcome, "ok");
  EXPECT_EQ(rows[0].counts_json, R"({"records":3})");

  // Up again before the next slot: nothing to catch up.
  const auto again = make(jobs);
  EXPECT_EQ(again->run_due(), 0U);
  EXPECT_EQ(status_of(*again, "score").last_run->started_ms, utc_ms(2024, 3, 4, 2, 30));
}

TEST_F(SchedulerTest, ARunCutShortByTheServiceDyingIsRecordedFailedAndRunsAgain) {
  {
    Store store(locator_);
    ServiceJobRow row;
    row.job_id = "score";
    row.started_ms = utc_ms(2024, 2, 28, 2, 0);
    row.outcome = "running";
    ServiceJobRepository(store.database()).save(row);
  }
  const auto scheduler = make({job("score", JobKind::score, Schedule::cron("0 2 * * *"))});
  const JobStatus before = status_of(*scheduler, "score");
  EXPECT_EQ(before.last_run->outcome, "failed");
  EXPECT_EQ(before.last_run->message, "cut short: the service stopped during the run");
  EXPECT_EQ(scheduler->run_due(), 1U);  // the slot of 29 February was missed
  EXPECT_EQ(status_of(*scheduler, "score").last_run->outcome, "ok");
}

TEST_F(SchedulerTest, AFailingJobIsRecordedWithItsErrorAndRunsAtItsNextSlot) {
  fail_score_ = true;
  const auto scheduler = make({job("score", JobKind::score, Schedule::every("1h"))});
  EXPECT_EQ(scheduler->run_due(), 1U);
  const JobStatus status = status_of(*scheduler, "score");
  EXPECT_EQ(status.last_run->outcome, "failed");
  EXPECT_EQ(status.last_run->message, "no scorer plugin is loaded");
  EXPECT_EQ(status.next_run_ms, clock_.now_ms() + 60 * kMinuteMs);
}

TEST_F(SchedulerTest, AJobRefusedTheLockByAnotherProcessIsSkippedAsBusyAndRetriedAtItsNextSlot) {
  const auto scheduler = make({job("sync:erp_csv", JobKind::sync, Schedule::every("10m"))});
  {
    const JobLock other(locator_, "run", clock_.now_ms());
    EXPECT_EQ(scheduler->run_due(), 1U);
  }
  EXPECT_TRUE(take_ran().empty());
  const JobStatus skipped = status_of(*scheduler, "sync:erp_csv");
  EXPECT_EQ(skipped.last_run->outcome, "skipped");
  EXPECT_TRUE(skipped.last_run->message.starts_with("busy: ")) << skipped.last_run->message;
  EXPECT_EQ(skipped.next_run_ms, clock_.now_ms() + 10 * kMinuteMs);
  {
    Store store(locator_);
    EXPECT_EQ(ServiceJobRepository(store.database()).list().at(0).outcome, "skipped");
  }
  EXPECT_EQ(scheduler->run_due(), 0U);
  clock_.advance_ms(10 * kMinuteMs);
  EXPECT_EQ(scheduler->run_due(), 1U);
  EXPECT_EQ(take_ran(), std::vector<std::string>{"sync:erp_csv"});
  EXPECT_EQ(status_of(*scheduler, "sync:erp_csv").last_run->outcome, "ok");
}

TEST_F(SchedulerTest, TriggerRunsAJobNowAndRefusesAnUnknownId) {
  const auto scheduler = make({job("score", JobKind::score, Schedule::cron("0 2 * * *"))});
  EXPECT_FALSE(scheduler->trigger("scroe"));
  EXPECT_EQ(scheduler->run_due(), 0U);
  EXPECT_TRUE(scheduler->trigger("score"));
  EXPECT_TRUE(status_of(*scheduler, "score").triggered);
  EXPECT_EQ(scheduler->next_due_ms(), clock_.now_ms());
  EXPECT_EQ(scheduler->run_due(), 1U);
  EXPECT_EQ(take_ran(), std::vector<std::string>{"score"});
  EXPECT_FALSE(status_of(*scheduler, "score").triggered);
  EXPECT_EQ(status_of(*scheduler, "score").next_run_ms, utc_ms(2024, 3, 1, 2, 0));
}

TEST_F(SchedulerTest, OnItsThreadOneJobRunsAtATimeATriggeredJobQueuesBehindAndStopLetsTheRunningJobFinish) {
  std::atomic<bool> cancelled{false};
  std::mutex state_mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int most_in_flight = 0;
  bool sync_started = false;
  std::vector<std::string> order;
  const JobExecutor executor = [&](const JobDefinition& definition, const JobLock&) {
    std::unique_lock lock(state_mutex);
    most_in_flight = std::max(most_in_flight, ++in_flight);
    order.push_back(definition.id);
    if (definition.id == "sync:erp_csv" && !sync_started) {
      sync_started = true;
      changed.notify_all();
      // A long sync: works batch after batch until the service stops it (the session's cancellation flag).
      while (!cancelled.load()) {
        changed.wait_for(lock, std::chrono::milliseconds(10));
      }
    }
    --in_flight;
    changed.notify_all();
    JobRunResult result;
    result.counts = {{"cancelled", cancelled.load()}};
    return result;
  };
  SchedulerOptions scheduler_options = options();
  scheduler_options.cancel_on_stop = &cancelled;
  const auto scheduler = make({job("sync:erp_csv", JobKind::sync, Schedule::every("10m")),
                               job("score", JobKind::score, Schedule::cron("0 2 * * *"))},
                              scheduler_options, {executor, executor, executor, executor});
  scheduler->start();
  ASSERT_TRUE(wait_until(state_mutex, changed, [&] { return sync_started; }));
  EXPECT_EQ(status_of(*scheduler, "sync:erp_csv").last_run->outcome, "running");
  EXPECT_TRUE(scheduler->trigger("score"));
  EXPECT_TRUE(status_of(*scheduler, "score").triggered);
  EXPECT_FALSE(status_of(*scheduler, "score").last_run);  // queued behind the running sync

  // A wake-up (the clock moved) while the sync works starts nothing beside it.
  scheduler->wake();
  {
    const std::lock_guard lock(state_mutex);
    EXPECT_EQ(order, std::vector<std::string>{"sync:erp_csv"});
  }
  scheduler->stop();  // cancels the sync, waits for it, starts nothing more (the triggered score stays queued)
  EXPECT_TRUE(cancelled.load());
  EXPECT_EQ(most_in_flight, 1);
  EXPECT_EQ(order, std::vector<std::string>{"sync:erp_csv"});
  const JobStatus sync = status_of(*scheduler, "sync:erp_csv");
  EXPECT_EQ(sync.last_run->outcome, "ok");
  EXPECT_EQ(sync.last_run->counts_json, R"({"cancelled":true})");
  scheduler->stop();  // idempotent
}

TEST_F(SchedulerTest, OnItsThreadATriggeredJobRunsAfterTheRunningOne) {
  std::mutex state_mutex;
  std::condition_variable changed;
  bool release_sync = false;
  bool sync_started = false;
  int in_flight = 0;
  int most_in_flight = 0;
  std::vector<std::string> order;
  const JobExecutor executor = [&](const JobDefinition& definition, const JobLock&) {
    std::unique_lock lock(state_mutex);
    most_in_flight = std::max(most_in_flight, ++in_flight);
    order.push_back(definition.id);
    if (definition.id == "sync:erp_csv") {
      sync_started = true;
      changed.notify_all();
      changed.wait_for(lock, std::chrono::seconds(60), [&] { return release_sync; });
    }
    --in_flight;
    changed.notify_all();
    return JobRunResult{};
  };
  const auto scheduler = make({job("sync:erp_csv", JobKind::sync, Schedule::every("10m")),
                               job("score", JobKind::score, Schedule::cron("0 2 * * *"))},
                              options(), {executor, executor, executor, executor});
  scheduler->start();
  ASSERT_TRUE(wait_until(state_mutex, changed, [&] { return sync_started; }));
  EXPECT_TRUE(scheduler->trigger("score"));
  {
    const std::lock_guard lock(state_mutex);
    release_sync = true;
  }
  changed.notify_all();
  ASSERT_TRUE(wait_until(state_mutex, changed, [&] { return order.size() == 2 && in_flight == 0; }));
  scheduler->stop();
  EXPECT_EQ(order, (std::vector<std::string>{"sync:erp_csv", "score"}));
  EXPECT_EQ(most_in_flight, 1);
  EXPECT_EQ(status_of(*scheduler, "score").last_run->outcome, "ok");
}

TEST_F(SchedulerTest, JitterDelaysEachRunWithinItsBoundAndIsRepeatableUnderASeed) {
  const auto delays = [this](const std::string& store_name) {
    locator_ = testing::store_locator(dir_ / store_name);
    SchedulerOptions scheduler_options = options();
    scheduler_options.jitter_ms = 30'000;
    scheduler_options.jitter_seed = 42;
    clock_.set_ms(utc_ms(2024, 3, 1, 0, 0));
    const auto scheduler =
        make({job("alerts", JobKind::alerts, Schedule::every("30s"))}, scheduler_options, fake_executors());
    std::vector<std::int64_t> result;
    for (int i = 0; i < 50; ++i) {
      clock_.set_ms(scheduler->next_due_ms().value());
      EXPECT_EQ(scheduler->run_due(), 1U);
      result.push_back(scheduler->next_due_ms().value() - clock_.now_ms() - 30'000);
    }
    return result;
  };
  const std::vector<std::int64_t> first = delays("a.db");
  for (const std::int64_t delay_ms : first) {
    EXPECT_GE(delay_ms, 0);
    EXPECT_LE(delay_ms, 30'000);
  }
  EXPECT_GT(*std::max_element(first.begin(), first.end()) - *std::min_element(first.begin(), first.end()), 1'000);
  EXPECT_EQ(delays("b.db"), first);
}

TEST(ServiceSettings, DefaultsEachConnectorEveryTenMinutesScoreAtTwoAlertsEveryThirtySecondsWinbackHourly) {
  const HostConfig config;
  const ServiceSettings settings = parse_service_settings(config, {"erp_csv", "crm_hubspot"});
  EXPECT_EQ(settings.time_zone.name(), "UTC");
  EXPECT_EQ(settings.jitter_ms, 0);
  std::vector<std::string> jobs;
  for (const JobDefinition& definition : settings.jobs) {
    jobs.push_back(definition.id + " " + definition.schedule.text());
  }
  EXPECT_EQ(jobs, (std::vector<std::string>{"sync:erp_csv every 10m", "sync:crm_hubspot every 10m", "score 0 2 * * *",
                                            "alerts every 30s", "winback @hourly"}));
  EXPECT_EQ(settings.jobs[1].connector_id, "crm_hubspot");
  EXPECT_EQ(settings.jobs[1].kind, JobKind::sync);
}

TEST(ServiceSettings, TheServiceSectionAndAConnectorsOwnKeySetSchedulesZoneAndJitter) {
  HostConfig config;
  config.plugins =
      nlohmann::json::parse(R"({"erp_csv": {"every": "5m", "config": {}}, "crm": {"schedule": "*/15 * * * *"}})");
  config.service = nlohmann::json::parse(R"({"time_zone": "Asia/Shanghai", "jitter_seconds": 30,
      "jobs": {"sync:crm": {"every": "1h"}, "score": {"schedule": "30 3 * * *"}, "winback": {"enabled": false}}})");
  const ServiceSettings settings = parse_service_settings(config, {"erp_csv", "crm"});
  EXPECT_EQ(settings.time_zone.name(), "Asia/Shanghai");
  EXPECT_EQ(settings.jitter_ms, 30'000);
  std::vector<std::string> jobs;
  for (const JobDefinition& definition : settings.jobs) {
    jobs.push_back(definition.id + " " + definition.schedule.text());
  }
  // service.jobs wins over the connector's own key; winback is off.
  EXPECT_EQ(jobs, (std::vector<std::string>{"sync:erp_csv every 5m", "sync:crm every 1h", "score 30 3 * * *",
                                            "alerts every 30s"}));
}

TEST(ServiceSettings, ErrorsNameTheField) {
  const auto error_of = [](const char* plugins, const char* service) {
    HostConfig config;
    config.plugins = nlohmann::json::parse(plugins);
    config.service = nlohmann::json::parse(service);
    try {
      (void)parse_service_settings(config, {"erp_csv"});
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of("{}", R"({"jobs": {"score": {"schedule": "0 25 * * *"}}})"),
            "service.jobs.score.schedule: cron expression \"0 25 * * *\": hour field \"25\": 25 is out of range 0-23");
  EXPECT_TRUE(error_of(R"({"erp_csv": {"every": "5 minutes"}})", "{}")
                  .starts_with("plugins.erp_csv.every: every \"5 minutes\": needs a whole number"));
  EXPECT_EQ(error_of("{}", R"({"jobs": {"sync:erp": {"every": "5m"}}})"),
            "service.jobs.sync:erp: no such job; the jobs are sync:erp_csv, score, alerts, winback (a sync job needs "
            "its connector loaded: see `crmhost plugins`)");
  EXPECT_TRUE(error_of("{}", R"({"time_zone": "Europe/Berln"})")
                  .starts_with("service.time_zone: time zone \"Europe/Berln\" is unknown"));
}

}  // namespace
}  // namespace crm::host
