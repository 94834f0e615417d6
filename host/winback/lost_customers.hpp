#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/alert_engine.hpp"
#include "core/clock.hpp"
#include "core/logger.hpp"
#include "store/lost_customer_repository.hpp"
#include "store/store.hpp"
#include "winback/winback_settings.hpp"

namespace crm::host {

// customers.id -> the id of the customer it was unified into (itself when none):
// win-back works on unified customers, orders and contacts name store rows.
class UnifiedCustomers {
 public:
  explicit UnifiedCustomers(Database& db);
  [[nodiscard]] std::int64_t of(std::int64_t row) const {
    const auto found = unified_.find(row);
    return found == unified_.end() ? row : found->second;
  }

 private:
  std::unordered_map<std::int64_t, std::int64_t> unified_;
};

struct ChurnDetection {
  std::size_t customers_examined = 0;
  std::size_t newly_lost = 0;
  std::size_t still_lost = 0;
  std::size_t recovered = 0;  // lost before, ordered again since
  std::size_t eligible = 0;   // of all lost customers, to be worked through playbooks
  std::map<std::string, std::size_t> by_reason;
  std::map<std::string, std::size_t> exclusions;  // why the others are not pursued
  std::size_t mass_churn_events = 0;
  std::size_t strategic_alerts_raised = 0;  // one per new mass-churn event
};

// The last answer of one or more 5 Why chains: the cause to fix once.
struct RootCause {
  std::string cause;  // as first written (chains that end alike, ignoring case and spacing, share it)
  std::vector<std::int64_t> customers;
  std::map<std::string, std::size_t> by_reason;
  double expected_value = 0;  // what the customers it lost were worth
};

// Lost customers (domain.md section 6): detected from each customer's own
// purchase rhythm, a contract end or an explicit mark; a reason proposed by
// rules on the evidence and confirmed by a person; the value of winning them
// back and whether they are eligible; mass churn raised as one strategic alert.
class LostCustomers {
 public:
  // `alerts` may be null (then mass churn is recorded but raises no alert).
  LostCustomers(Store& store, AlertEngine* alerts, Logger& logger, const Clock& clock, WinbackSettings settings);

  // Examines every customer as of `as_of_ms` (nothing at or after it is read).
  ChurnDetection detect(std::int64_t as_of_ms);
  // An explicit mark (`crmhost churn mark`): lost as of `churn_date_ms`.
  void mark(std::int64_t customer_id, std::int64_t churn_date_ms, const std::string& note, const std::string& by);
  // A person confirms or changes the reason; rules never override it again.
  bool set_reason(std::int64_t customer_id, const std::string& reason, const std::string& note, const std::string& by);
  // Appends one "why" to the customer's 5 Why root-cause chain.
  bool add_why(std::int64_t customer_id, const std::string& why);

  // Root causes of the recorded 5 Why chains, the most customers first.
  std::vector<RootCause> root_causes();

  std::vector<LostCustomer> list(bool eligible_only);
  std::optional<LostCustomer> find(std::int64_t customer_id);

 private:
  struct History;
  void assess(std::int64_t as_of_ms, const UnifiedCustomers& unified, const std::map<std::int64_t, History>& histories,
              ChurnDetection& counts);
  std::vector<LostCustomer> query(bool eligible_only, std::optional<std::int64_t> customer_id);

  Store& store_;
  AlertEngine* alerts_;
  Logger& logger_;
  const Clock& clock_;
  WinbackSettings settings_;
};

}  // namespace crm::host
