#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// What a notification says about the customer behind an alert: who they are
// to people, where the latest scoring run put them, and what they bring.
struct AlertCustomerContext {
  std::string name;         // "" when the store has none
  std::string source;       // the connector that knows the customer ("erp_csv")
  std::string external_id;  // and its own id there (the ERP's customer number)
  std::optional<double> score;
  std::string band;
  std::string reason_codes;  // of the latest finished run, comma-separated as stored
  std::string abc_class;
  // Purchases in the window, per currency, largest first ("" : no currency given).
  std::vector<std::pair<std::string, double>> revenue_by_currency;
};

// Reads the context of alert notifications. Borrows the database, which must
// outlive it; one thread at a time.
class AlertContextRepository {
 public:
  explicit AlertContextRepository(Database& db) : db_(db) {}

  // The customer's context with the revenue of purchases ordered in
  // [since_ms, until_ms]; nullopt when the store has no such customer.
  std::optional<AlertCustomerContext> customer(std::int64_t customer_id, std::int64_t since_ms, std::int64_t until_ms);

 private:
  Database& db_;
};

}  // namespace crm::host
