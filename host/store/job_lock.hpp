#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace crm::host {

// Another job holds the store; the message names it (command, pid, since when).
class JobLockBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One job at a time per store: `crmhost run`, `sync` and `campaigns run` hold an
// exclusive flock on "<database>.lock" while they work, so a cron run that
// overlaps a manual one cannot import, step a campaign or deliver alongside
// it. The kernel drops the lock when the process ends, however it ends: a
// killed run never leaves the store locked. On PostgreSQL the lock is a
// session advisory lock held by a connection of its own, so it holds across
// every host sharing the database; the server drops it when that connection
// ends, however the process ends. The holder is named by the lock's
// application_name (command, pid, machine, since when).
class JobLock {
 public:
  // Takes the lock at once, or throws JobLockBusy naming the holder.
  JobLock(const DatabaseLocator& database, std::string_view command, std::int64_t now_ms);
  JobLock(const std::string& database, std::string_view command, std::int64_t now_ms)
      : JobLock(DatabaseLocator::parse(database), command, now_ms) {}
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;
  ~JobLock();

 private:
  void lock_file(const std::string& database_path, std::string_view command, std::int64_t now_ms);
  void lock_postgresql(const DatabaseLocator& database, std::string_view command, std::int64_t now_ms);

  int fd_ = -1;
  std::unique_ptr<Database> lock_connection_;
};

}  // namespace crm::host
