#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One entry of the do-not-contact list.
struct DoNotContactEntry {
  std::int64_t customer_id = 0;
  std::string reason;
  std::string added_by;  // "" when nobody was named
  std::int64_t added_ms = 0;
};

// An owner's task a playbook created; the zero values stand for "none".
struct OwnerTask {
  std::int64_t id = 0;
  std::int64_t customer_id = 0;
  std::string owner;
  std::string title;
  std::int64_t created_ms = 0;
  std::int64_t due_ms = 0;
  std::string state;             // "open" or "done"
  std::int64_t campaign_id = 0;  // 0: not created by a campaign's enrolment
  std::int64_t done_ms = 0;
  std::string done_by;
  std::string outcome;
};

// The win-back lists people read (do-not-contact, owners' tasks); the
// engines keep writing them. Reads the Database given, which must outlive it.
class WinbackReadRepository {
 public:
  explicit WinbackReadRepository(Database& db) : db_(db) {}

  // Everyone on the list, by customer id.
  std::vector<DoNotContactEntry> do_not_contact();
  // The tasks in `state` ("" for all), by id.
  std::vector<OwnerTask> tasks(const std::string& state);

 private:
  Database& db_;
};

}  // namespace crm::host
