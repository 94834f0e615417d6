#pragma once

#include <functional>
#include <string>

#include "app/session.hpp"
#include "store/store_copy.hpp"

namespace crm::host {

struct StoreCopyJob {
  std::string from;  // display forms: never a password
  std::string to;
  StoreCopyResult copy;
};

// Moves the session's store into `target` (a new, empty store: a PostgreSQL
// database, or a SQLite file), holding both stores' job locks so nothing
// writes to either meanwhile, then compares every row. `progress(table, rows)`
// after each table. Throws StoreError (target not empty, a row differs),
// JobLockBusy (a job holds either store) or DatabaseError.
StoreCopyJob copy_store_to(Session& session, const DatabaseLocator& target,
                           const std::function<void(const std::string&, std::int64_t)>& progress);

}  // namespace crm::host
