#include "service/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "core/civil_time.hpp"

namespace crm::host {
namespace {

// However far the next job is, the thread looks at the clock again this
// often: the system clock may be set forward while it sleeps.
constexpr std::int64_t kLongestSleepMs = 60'000;

std::string iso_utc(std::int64_t ms) {
  const std::int64_t seconds = civil::floor_div(ms, 1000);
  const std::int64_t days = civil::floor_div(seconds, 86'400);
  const std::int64_t second_of_day = seconds - days * 86'400;
  const civil::Date date = civil::civil_from_days(days);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.year, date.month, date.day, second_of_day / 3600,
                     second_of_day / 60 % 60, second_of_day % 60);
}

const JobExecutor& executor_of(const JobExecutors& executors, JobKind kind) {
  switch (kind) {
    case JobKind::sync:
      return executors.sync;
    case JobKind::score:
      return executors.score;
    case JobKind::alerts:
      return executors.alerts;
    case JobKind::winback:
      return executors.winback;
  }
  return executors.sync;
}

}  // namespace

Scheduler::Scheduler(std::vector<JobDefinition> jobs, TimeZone time_zone, JobExecutors executors,
                     SchedulerOptions options, const Clock& clock, std::unique_ptr<Store> state)
    : time_zone_(std::move(time_zone)),
      executors_(std::move(executors)),
      options_(std::move(options)),
      clock_(clock),
      state_(std::move(state)),
      repository_(state_->database()),
      jitter_random_(options_.jitter_seed ? *options_.jitter_seed : std::random_device{}()) {
  const std::vector<ServiceJobRow> rows = repository_.list();
  const std::int64_t now_ms = clock_.now_ms();
  const std::lock_guard lock(mutex_);
  for (JobDefinition& definition : jobs) {
    Job job{std::move(definition), std::nullopt, std::nullopt, false};
    const auto row = std::find_if(rows.begin(), rows.end(), [&](const ServiceJobRow& candidate) {
      return candidate.job_id == job.definition.id;
    });
    if (row != rows.end()) {
      job.last_run = *row;
      if (row->outcome == "running") {
        job.last_run->outcome = "failed";
        job.last_run->message = "cut short: the service stopped during the run";
        save(*job.last_run);
      }
      // Missed slots since the last run, however many, make one run now (systemd's Persistent=true).
      const std::optional<std::int64_t> slot = job.definition.schedule.next_after_ms(row->started_ms, time_zone_);
      if (slot) {
        job.next_due_ms = std::max(*slot, now_ms);
      }
    } else if (job.definition.schedule.is_interval()) {
      job.next_due_ms = now_ms;  // never ran: an interval job runs at start
    } else {
      job.next_due_ms = job.definition.schedule.next_after_ms(now_ms, time_zone_);
    }
    if (job.next_due_ms && options_.jitter_ms > 0) {
      *job.next_due_ms += std::uniform_int_distribution<std::int64_t>(0, options_.jitter_ms)(jitter_random_);
    }
    jobs_.push_back(std::move(job));
  }
}

Scheduler::~Scheduler() {
  stop();
}

std::optional<std::int64_t> Scheduler::next_slot(const JobDefinition& job, std::int64_t after_ms) {
  std::optional<std::int64_t> slot = job.schedule.next_after_ms(after_ms, time_zone_);
  if (slot && options_.jitter_ms > 0) {
    *slot += std::uniform_int_distribution<std::int64_t>(0, options_.jitter_ms)(jitter_random_);
  }
  return slot;
}

void Scheduler::start() {
  const std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (options_.cancel_on_stop != nullptr) {
    options_.cancel_on_stop->store(true);
  }
  wake_up_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

bool Scheduler::trigger(const std::string& id) {
  {
    const std::lock_guard lock(mutex_);
    const auto job = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.definition.id == id; });
    if (job == jobs_.end()) {
      return false;
    }
    job->triggered = true;
    wake_pending_ = true;
  }
  wake_up_.notify_all();
  return true;
}

void Scheduler::wake() {
  {
    const std::lock_guard lock(mutex_);
    wake_pending_ = true;
  }
  wake_up_.notify_all();
}

Scheduler::Job* Scheduler::take_due_job(std::int64_t now_ms) {
  if (stopping_) {
    return nullptr;
  }
  Job* chosen = nullptr;
  for (Job& job : jobs_) {
    if (job.triggered) {
      chosen = &job;
      break;
    }
    if (job.next_due_ms && *job.next_due_ms <= now_ms &&
        (chosen == nullptr || *job.next_due_ms < *chosen->next_due_ms)) {
      chosen = &job;
    }
  }
  if (chosen != nullptr) {
    chosen->triggered = false;
  }
  return chosen;
}

std::size_t Scheduler::run_due() {
  const std::lock_guard one_job_at_a_time(run_mutex_);
  std::size_t ran = 0;
  while (true) {
    Job* job = nullptr;
    {
      const std::lock_guard lock(mutex_);
      job = take_due_job(clock_.now_ms());
    }
    if (job == nullptr) {
      return ran;
    }
    execute(*job);
    ++ran;
  }
}

void Scheduler::execute(Job& job) {
  ServiceJobRow row;
  row.job_id = job.definition.id;
  row.started_ms = clock_.now_ms();
  std::unique_ptr<JobLock> held;
  try {
    held = options_.lock_jobs(fmt::format("serve {}", job.definition.id));
  } catch (const JobLockBusy& e) {
    row.outcome = "skipped";
    row.message = fmt::format("busy: {}", e.what());
  } catch (const std::exception& e) {
    row.outcome = "failed";
    row.message = e.what();
  }
  if (held) {
    row.outcome = "running";
    {
      const std::lock_guard lock(mutex_);
      job.last_run = row;
    }
    save(row);
    try {
      const JobExecutor& executor = executor_of(executors_, job.definition.kind);
      if (!executor) {
        throw std::logic_error(fmt::format("no executor for job {}", job.definition.id));
      }
      JobRunResult result = executor(job.definition, *held);
      row.outcome = result.outcome == "ok" ? "ok" : "failed";
      row.counts_json = result.counts.empty() ? std::string() : result.counts.dump();
      row.message = std::move(result.message);
    } catch (const std::exception& e) {
      row.outcome = "failed";
      row.message = e.what();
    }
    held.reset();
  }
  row.finished_ms = clock_.now_ms();
  row.duration_ms = *row.finished_ms - row.started_ms;
  save(row);
  const std::lock_guard lock(mutex_);
  job.last_run = row;
  // The next slot after this start: a run that outlasted slots is followed by one more, not one per slot.
  job.next_due_ms = next_slot(job.definition, row.started_ms);
}

void Scheduler::save(const ServiceJobRow& row) {
  try {
    repository_.save(row);
  } catch (const std::exception&) {
    // The store went away for a moment: the status in memory stays right, and
    // the next run's row replaces this one. Only catch-up after a restart can
    // then run one job more than needed.
  }
}

std::optional<std::int64_t> Scheduler::next_due_ms() const {
  const std::lock_guard lock(mutex_);
  std::optional<std::int64_t> earliest;
  for (const Job& job : jobs_) {
    const std::optional<std::int64_t> due = job.triggered ? std::optional(clock_.now_ms()) : job.next_due_ms;
    if (due && (!earliest || *due < *earliest)) {
      earliest = due;
    }
  }
  return earliest;
}

void Scheduler::loop() {
  while (true) {
    run_due();
    const std::optional<std::int64_t> due = next_due_ms();
    std::unique_lock lock(mutex_);
    if (stopping_) {
      return;
    }
    if (wake_pending_) {
      wake_pending_ = false;
      continue;
    }
    const std::int64_t sleep_ms =
        due ? std::clamp<std::int64_t>(*due - clock_.now_ms(), 0, kLongestSleepMs) : kLongestSleepMs;
    if (sleep_ms == 0) {
      continue;
    }
    wake_up_.wait_for(lock, std::chrono::milliseconds(sleep_ms), [this] { return stopping_ || wake_pending_; });
    wake_pending_ = false;
  }
}

std::vector<JobStatus> Scheduler::status() const {
  const std::lock_guard lock(mutex_);
  std::vector<JobStatus> statuses;
  for (const Job& job : jobs_) {
    statuses.push_back(
        {job.definition.id, job.definition.schedule.text(), job.last_run, job.next_due_ms, job.triggered});
  }
  return statuses;
}

nlohmann::json job_status_json(const JobStatus& status) {
  nlohmann::json last = nullptr;
  if (status.last_run) {
    const ServiceJobRow& run = *status.last_run;
    last = {{"started_ms", run.started_ms},
            {"started_at", iso_utc(run.started_ms)},
            {"finished_ms", run.finished_ms ? nlohmann::json(*run.finished_ms) : nlohmann::json(nullptr)},
            {"outcome", run.outcome},
            {"duration_ms", run.duration_ms ? nlohmann::json(*run.duration_ms) : nlohmann::json(nullptr)},
            {"counts", run.counts_json.empty() ? nlohmann::json::object()
                                               : nlohmann::json::parse(run.counts_json, nullptr, false)},
            {"message", run.message}};
  }
  return {{"id", status.id},
          {"schedule", status.schedule},
          {"last_run", last},
          {"next_run_ms", status.next_run_ms ? nlohmann::json(*status.next_run_ms) : nlohmann::json(nullptr)},
          {"next_run_at", status.next_run_ms ? nlohmann::json(iso_utc(*status.next_run_ms)) : nlohmann::json(nullptr)},
          {"triggered", status.triggered}};
}

nlohmann::json job_statuses_json(const std::vector<JobStatus>& statuses) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const JobStatus& status : statuses) {
    jobs.push_back(job_status_json(status));
  }
  return {{"jobs", jobs}};
}

}  // namespace crm::host
