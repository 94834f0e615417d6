#include "store/contact_lookup_repository.hpp"

namespace crm::host {

std::optional<ContactCustomer> ContactLookupRepository::customer_of_contact(std::string_view source,
                                                                            std::string_view contact_external_id) {
  Statement query = db_.prepare(
      "SELECT c.external_id, coalesce(c.unified_id, c.id) FROM contacts k JOIN customers c ON c.id = k.customer_id "
      "WHERE k.source = ?1 AND k.external_id = ?2 AND c.source = ?1 ORDER BY c.id");
  query.bind(1, source).bind(2, contact_external_id);
  if (!query.step()) {
    return std::nullopt;
  }
  return ContactCustomer{query.column_text(0), query.column_int64(1)};
}

}  // namespace crm::host
