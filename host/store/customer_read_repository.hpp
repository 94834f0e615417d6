#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One customer's line of a finished scoring run, with the run's own columns.
// Text columns the run left NULL read as "".
struct CustomerScoreLine {
  std::int64_t run_id = 0;
  std::int64_t as_of_ms = 0;
  std::optional<double> score;
  std::string band;
  std::string tier;
  std::string stage;
  std::string abc_class;
  std::string reasons;       // comma-separated reason codes
  std::string scores_json;   // {"scorer": score, ...}
  std::string explain_json;  // [["feature", points], ...]
  std::string primary_scorer;
  std::string scorers_json;  // the run's models: {"scorer": "version[+model id]", ...}
};

// What the store knows of a customer record itself (the unified one).
struct CustomerProfile {
  std::int64_t id = 0;
  std::string source;
  std::string external_id;
  std::string name;
  std::string country;
  std::string industry;
  std::optional<std::int64_t> created_at_ms;
  bool is_placeholder = false;
};

// A contact person of any record unified into a customer.
struct CustomerContact {
  std::int64_t id = 0;
  std::string name;
  std::string email;
  std::string phone;
  std::string role;
  std::string owner;
  bool is_key_contact = false;
  std::optional<std::int64_t> left_at_ms;
};

// Which customers of the latest finished scoring run a list shows. Empty
// fields do not filter; `bands` keeps a customer whose band is any of them.
struct CustomerListFilter {
  std::vector<std::string> bands;
  std::string tier;
  std::string stage;
  std::string abc_class;
  std::size_t limit = 0;  // 0: every match
  std::size_t offset = 0;
};

struct CustomerListRow {
  std::int64_t customer_id = 0;
  std::string name;
  std::string source;
  std::string external_id;
  std::optional<double> score;
  std::string band;
  std::string tier;
  std::string stage;
  std::string abc_class;
};

// The reads behind customer lookups, lists and the customer 360 view. Owns no
// state beyond the Database it reads, which must outlive it.
class CustomerReadRepository {
 public:
  explicit CustomerReadRepository(Database& db) : db_(db) {}

  // The customer with this store id, when there is one.
  std::optional<std::int64_t> find_by_id(std::int64_t customer_id);
  // The unified customer of the record a connector knows as (source, external_id).
  std::optional<std::int64_t> find_by_source(std::string_view source, std::string_view external_id);
  // "source:external_id" of every record unified into the customer, in store order.
  std::vector<std::string> known_as(std::int64_t customer_id);
  // The customer's lines of the newest finished scoring runs, newest first, at most `max_runs`.
  std::vector<CustomerScoreLine> latest_scores(std::int64_t customer_id, std::size_t max_runs);
  // How many customers of the run have each tier (customers without one are not counted).
  std::map<std::string, std::size_t> tier_counts(std::int64_t run_id);
  std::optional<CustomerProfile> profile(std::int64_t customer_id);
  std::vector<CustomerContact> contacts(std::int64_t customer_id);
  // Customers of the latest finished scoring run, riskiest (lowest score) first, unscored last, then by id.
  std::vector<CustomerListRow> list(const CustomerListFilter& filter);

 private:
  Database& db_;
};

}  // namespace crm::host
