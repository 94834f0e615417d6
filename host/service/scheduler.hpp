#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "service/service_settings.hpp"
#include "store/job_lock.hpp"
#include "store/service_job_repository.hpp"
#include "store/store.hpp"

namespace crm::host {

// What one job did: "ok" or "failed" (an executor that throws failed too),
// its counts (records synced, alerts raised...) and why it failed.
struct JobRunResult {
  std::string outcome = "ok";
  nlohmann::json counts = nlohmann::json::object();
  std::string message;
};

// Runs one job while the scheduler holds the store's job lock (`held`).
using JobExecutor = std::function<JobRunResult(const JobDefinition& job, const JobLock& held)>;

// One executor per job kind (service/job_executors.hpp has the real ones; tests pass fakes).
struct JobExecutors {
  JobExecutor sync;
  JobExecutor score;
  JobExecutor alerts;
  JobExecutor winback;
};

struct SchedulerOptions {
  // Each scheduled run waits a random [0, jitter_ms] after its slot (not a triggered one).
  std::int64_t jitter_ms = 0;
  // Seeds the jitter, so that tests know the delays; nullopt: from std::random_device.
  std::optional<std::uint64_t> jitter_seed;
  // The store's job lock for a job, or JobLockBusy naming its holder (Session::lock_jobs).
  std::function<std::unique_ptr<JobLock>(std::string_view job)> lock_jobs;
  // Set by stop(), so that a long job stops between batches (the session's
  // cancellation flag); null: stop() waits for the job to end by itself.
  std::atomic<bool>* cancel_on_stop = nullptr;
};

// One job as the scheduler sees it: for GET /api/v1/jobs.
struct JobStatus {
  std::string id;
  std::string schedule;                   // "every 10m", "0 2 * * *", "@hourly"
  std::optional<ServiceJobRow> last_run;  // nullopt: never ran on this store
  std::optional<std::int64_t> next_run_ms;
  bool triggered = false;  // queued by trigger(): runs when the running job ends
};

// crmhost serve's scheduler: runs each job on its schedule, ONE job at a time
// (and only while holding the store's job lock, so nothing else runs on the
// store meanwhile; a job another process holds the lock against is recorded
// "skipped" with the holder, and runs at its next slot). Each job's last run
// is kept in the store (service_jobs), so a job missed while the service was
// down runs once when it starts, not once per missed slot. All time comes
// from `clock`.
//
// Threads: start() runs the jobs on a thread of the scheduler's own, which
// sleeps until the next job is due or trigger()/wake()/stop() wake it.
// status(), trigger() and wake() may be called from any thread. Without
// start(), run_due() runs what is due, on the caller's thread (tests move a
// ManualClock and call it). The scheduler owns `state` (the store it keeps
// service_jobs in) and uses it from one thread at a time.
class Scheduler {
 public:
  // Reads the jobs' last runs from `state`: a run still marked running was
  // cut short (the service died); it is recorded failed.
  Scheduler(std::vector<JobDefinition> jobs, TimeZone time_zone, JobExecutors executors, SchedulerOptions options,
            const Clock& clock, std::unique_ptr<Store> state);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();  // stop()

  void start();
  // Runs no new job, lets the running one finish (cancelled between steps
  // when cancel_on_stop is set) and joins the thread. Idempotent.
  void stop();

  // Queues job `id` to run now, behind the running job; false for an unknown id.
  bool trigger(const std::string& id);
  // Re-reads the clock at once (after a ManualClock moved).
  void wake();

  // Runs every job due now, or triggered, one after the other, the earliest
  // due first; returns how many ran (skipped ones included).
  std::size_t run_due();
  // When the next job is due (now when one is triggered); nullopt: none will be.
  [[nodiscard]] std::optional<std::int64_t> next_due_ms() const;

  [[nodiscard]] std::vector<JobStatus> status() const;

 private:
  struct Job {
    JobDefinition definition;
    std::optional<ServiceJobRow> last_run;
    std::optional<std::int64_t> next_due_ms;
    bool triggered = false;
  };

  // The next slot after `after_ms`, plus jitter. Caller holds mutex_.
  std::optional<std::int64_t> next_slot(const JobDefinition& job, std::int64_t after_ms);
  // Job due now (a triggered one first); marks it running. Caller holds mutex_.
  Job* take_due_job(std::int64_t now_ms);
  void execute(Job& job);
  void save(const ServiceJobRow& row);
  void loop();

  TimeZone time_zone_;
  JobExecutors executors_;
  SchedulerOptions options_;
  const Clock& clock_;
  std::unique_ptr<Store> state_;
  ServiceJobRepository repository_;
  std::mt19937_64 jitter_random_;

  mutable std::mutex mutex_;  // jobs_' schedules and last runs, stopping_, wake_pending_
  std::condition_variable wake_up_;
  std::vector<Job> jobs_;
  bool stopping_ = false;
  bool wake_pending_ = false;
  std::mutex run_mutex_;  // one job at a time, whoever calls run_due()
  std::thread thread_;
};

// {"id", "schedule", "last_run": {"started_ms", "started_at", "finished_ms", "outcome",
//  "duration_ms", "counts", "message"} | null, "next_run_ms", "next_run_at", "triggered"};
// times as UTC milliseconds and ISO 8601 text.
nlohmann::json job_status_json(const JobStatus& status);
nlohmann::json job_statuses_json(const std::vector<JobStatus>& statuses);

}  // namespace crm::host
