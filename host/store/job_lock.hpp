#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

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
// killed run never leaves the store locked. (A deployment on a shared
// database server will need that server's own locks instead.)
class JobLock {
 public:
  // Takes the lock at once, or throws JobLockBusy naming the holder.
  JobLock(const std::string& database_path, std::string_view command, std::int64_t now_ms);
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;
  ~JobLock();

 private:
  int fd_ = -1;
};

}  // namespace crm::host
