#include "app/store_jobs.hpp"

#include "store/job_lock.hpp"

namespace crm::host {

StoreCopyJob copy_store_to(Session& session, const DatabaseLocator& target,
                           const std::function<void(const std::string&, std::int64_t)>& progress) {
  const std::unique_ptr<JobLock> source_lock = session.lock_jobs("store copy");
  const JobLock target_lock(target, "store copy", session.clock().now_ms());
  const StoreHandle from = session.open_store();
  Store to(target);
  return {session.database(), target.display(), copy_store(*from, to, progress)};
}

}  // namespace crm::host
