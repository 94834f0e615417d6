#include "store/task_repository.hpp"

namespace crm::host {

void TaskRepository::create(const NewTask& task) {
  if (!create_) {
    create_.emplace(db_.prepare(
        "INSERT INTO tasks(enrolment_id, customer_id, owner, title, created_ms, due_ms) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6)"));
  }
  create_->bind(1, task.enrolment_id)
      .bind(2, task.customer_id)
      .bind(3, task.owner)
      .bind(4, task.title)
      .bind(5, task.created_ms)
      .bind(6, task.due_ms)
      .run();
}

bool TaskRepository::complete(std::int64_t task_id, std::string_view outcome, std::string_view by,
                              std::int64_t now_ms) {
  db_.prepare("UPDATE tasks SET state = 'done', done_ms = ?1, done_by = ?2, outcome = ?3 WHERE id = ?4")
      .bind(1, now_ms)
      .bind(2, by)
      .bind(3, outcome)
      .bind(4, task_id)
      .run();
  return db_.changes() > 0;
}

}  // namespace crm::host
