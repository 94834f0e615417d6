#include "store/job_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <system_error>

namespace crm::host {

JobLock::JobLock(const std::string& database_path, std::string_view command, std::int64_t now_ms) {
  const std::string path = database_path + ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw std::runtime_error(
        fmt::format("cannot open the job lock {}: {}", path, std::system_category().message(errno)));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string holder(256, '\0');
    const ssize_t read = ::pread(fd_, holder.data(), holder.size(), 0);
    holder.resize(read > 0 ? static_cast<std::size_t>(read) : 0);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) {
      holder.pop_back();
    }
    ::close(fd_);
    fd_ = -1;
    if (error != EWOULDBLOCK) {
      throw std::runtime_error(fmt::format("cannot lock {}: {}", path, std::system_category().message(error)));
    }
    throw JobLockBusy(fmt::format("another job is working on {} ({}); try again when it has finished", database_path,
                                  holder.empty() ? "holder unknown" : holder));
  }
  // Who holds it, for the message the next one gets.
  const std::chrono::sys_seconds since{std::chrono::seconds{now_ms / 1000}};
  const std::string holder =
      fmt::format("crmhost {}, pid {}, since {:%Y-%m-%d %H:%M:%S} UTC\n", command, ::getpid(), since);
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_, holder.data(), holder.size(), 0);
  }
}

JobLock::~JobLock() {
  if (fd_ >= 0) {
    ::close(fd_);  // releases the flock
  }
}

}  // namespace crm::host
