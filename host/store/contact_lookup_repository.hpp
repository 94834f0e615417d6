#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace crm::host {

// The customer a source's contact belongs to, as that source's sync stored it.
struct ContactCustomer {
  std::string customer_external_id;  // the customer's id in the same source
  std::int64_t customer_id = 0;      // the customer as scores and alerts know it (unified when merged)
};

// Finds contacts by their id in a source (the WeCom callback names a contact by its
// ExternalUserID only). `db` must outlive it; one thread at a time.
class ContactLookupRepository {
 public:
  explicit ContactLookupRepository(Database& db) : db_(db) {}

  // nullopt when the source has no such contact, or the contact names no customer of that source.
  std::optional<ContactCustomer> customer_of_contact(std::string_view source, std::string_view contact_external_id);

 private:
  Database& db_;
};

}  // namespace crm::host
