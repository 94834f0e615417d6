#pragma once

#include <cstdint>
#include <string_view>

#include "store/database.hpp"

namespace crm::host {

// The do-not-contact list. A customer on it is no longer eligible for
// campaigns (lost_customers says why), and is eligible again when taken off,
// unless something else excluded them. Holds a borrowed connection.
class DoNotContactRepository {
 public:
  explicit DoNotContactRepository(Database& db) : db_(db) {}

  // Adds the customer, or updates why and by whom; in one transaction.
  void add(std::int64_t customer_id, std::string_view reason, std::string_view by, std::int64_t now_ms);
  // False when the customer was not on the list.
  bool remove(std::int64_t customer_id);

 private:
  Database& db_;
};

}  // namespace crm::host
