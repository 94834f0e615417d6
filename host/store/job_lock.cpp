#include "store/job_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <system_error>

namespace crm::host {

JobLock::JobLock(const DatabaseLocator& database, std::string_view command, std::int64_t now_ms) {
  if (database.kind == DatabaseKind::postgresql) {
    lock_postgresql(database, command, now_ms);
  } else {
    lock_file(database.target, command, now_ms);
  }
}

void JobLock::lock_postgresql(const DatabaseLocator& database, std::string_view command, std::int64_t now_ms) {
  lock_connection_ = std::make_unique<Database>(database);
  Database& db = *lock_connection_;
  const std::chrono::sys_seconds since{std::chrono::seconds{now_ms / 1000}};
  std::array<char, 256> host_name{};
  ::gethostname(host_name.data(), host_name.size() - 1);
  // application_name holds 63 bytes: the most telling parts first.
  db.prepare("SELECT set_config('application_name', ?1, false)")
      .bind(1, fmt::format("crmhost {} pid {} since {:%Y-%m-%d %H:%M:%S} UTC on {}", command, ::getpid(), since,
                           host_name.data()))
      .run();
  // One lock per store: a database holds several stores only in different schemas.
  Statement taken =
      db.prepare("SELECT CASE WHEN pg_try_advisory_lock(1129467185, hashtext(current_schema())) THEN 1 ELSE 0 END");
  if (taken.step() && taken.column_int64(0) == 1) {
    return;
  }
  Statement holder = db.prepare(
      "SELECT a.application_name, coalesce(CAST(a.client_addr AS TEXT), 'local') FROM pg_locks l "
      "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
      "l.classid = 1129467185 AND l.objid = CAST(CAST(hashtext(current_schema()) AS BIGINT) & 4294967295 AS OID) "
      "AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())");
  const std::string named =
      holder.step() ? fmt::format("{}, from {}", holder.column_text(0), holder.column_text(1)) : "holder unknown";
  lock_connection_.reset();
  throw JobLockBusy(
      fmt::format("another job is working on {} ({}); try again when it has finished", database.display(), named));
}

void JobLock::lock_file(const std::string& database_path, std::string_view command, std::int64_t now_ms) {
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
