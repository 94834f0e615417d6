#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "store/campaign_types.hpp"
#include "store/database.hpp"

namespace crm::host {

// The tasks playbooks give people (a senior person's call, a competitor
// analysis) and what came of them. Holds a borrowed connection and the
// statement a pass reuses.
class TaskRepository {
 public:
  explicit TaskRepository(Database& db) : db_(db) {}

  void create(const NewTask& task);
  // Marks a task done; false when there is no such task.
  bool complete(std::int64_t task_id, std::string_view outcome, std::string_view by, std::int64_t now_ms);

 private:
  Database& db_;
  std::optional<Statement> create_;
};

}  // namespace crm::host
