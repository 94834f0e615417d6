#include "store/do_not_contact_repository.hpp"

namespace crm::host {

void DoNotContactRepository::add(std::int64_t customer_id, std::string_view reason, std::string_view by,
                                 std::int64_t now_ms) {
  Transaction transaction(db_);
  db_.prepare(
         "INSERT INTO do_not_contact(customer_id, reason, added_by, added_ms) VALUES (?1, ?2, ?3, ?4) ON "
         "CONFLICT(customer_id) DO UPDATE SET reason = excluded.reason, added_by = excluded.added_by")
      .bind(1, customer_id)
      .bind(2, reason)
      .bind(3, by)
      .bind(4, now_ms)
      .run();
  db_.prepare("UPDATE lost_customers SET eligible = 0, exclusion = 'on the do-not-contact list' WHERE customer_id = ?1")
      .bind(1, customer_id)
      .run();
  transaction.commit();
}

bool DoNotContactRepository::remove(std::int64_t customer_id) {
  db_.prepare("DELETE FROM do_not_contact WHERE customer_id = ?1").bind(1, customer_id).run();
  const bool removed = db_.changes() > 0;
  db_.prepare(
         "UPDATE lost_customers SET eligible = 1, exclusion = '' WHERE customer_id = ?1 AND exclusion = 'on the "
         "do-not-contact list'")
      .bind(1, customer_id)
      .run();
  return removed;
}

}  // namespace crm::host
