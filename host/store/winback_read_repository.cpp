#include "store/winback_read_repository.hpp"

namespace crm::host {

std::vector<DoNotContactEntry> WinbackReadRepository::do_not_contact() {
  Statement query = db_.prepare(
      "SELECT customer_id, reason, coalesce(added_by, ''), added_ms FROM do_not_contact ORDER BY customer_id");
  std::vector<DoNotContactEntry> entries;
  while (query.step()) {
    entries.push_back({query.column_int64(0), query.column_text(1), query.column_text(2), query.column_int64(3)});
  }
  return entries;
}

std::vector<OwnerTask> WinbackReadRepository::tasks(const std::string& state) {
  Statement query = db_.prepare(
      "SELECT t.id, t.customer_id, t.owner, t.title, t.created_ms, coalesce(t.due_ms, 0), t.state, "
      "coalesce(e.campaign_id, 0), coalesce(t.done_ms, 0), coalesce(t.done_by, ''), coalesce(t.outcome, '') FROM "
      "tasks t LEFT JOIN enrolments e ON e.id = t.enrolment_id WHERE CAST(?1 AS TEXT) = '' OR t.state = ?1 "
      "ORDER BY t.id");
  query.bind(1, state);
  std::vector<OwnerTask> tasks;
  while (query.step()) {
    OwnerTask& task = tasks.emplace_back();
    task.id = query.column_int64(0);
    task.customer_id = query.column_int64(1);
    task.owner = query.column_text(2);
    task.title = query.column_text(3);
    task.created_ms = query.column_int64(4);
    task.due_ms = query.column_int64(5);
    task.state = query.column_text(6);
    task.campaign_id = query.column_int64(7);
    task.done_ms = query.column_int64(8);
    task.done_by = query.column_text(9);
    task.outcome = query.column_text(10);
  }
  return tasks;
}

}  // namespace crm::host
