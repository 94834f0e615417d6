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
  std::string scorers_json;                  // the run's models: {"scorer": "version[+model id]", ...}
  std::optional<double> churn_probability;   // within horizon_days; nullopt: not calibrated
  std::optional<std::int64_t> horizon_days;  // the run's; nullopt: the run had no calibration
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

// What a customer list is ordered by, the customer id breaking ties.
// score: the primary scorer's health score; score_change: score minus the
// score in the run before; value: purchases in the 365 days before the run's
// as-of date (the revenue value classes are drawn from); name: lower(name);
// id: the store id.
enum class CustomerSort { score, score_change, value, name, id };

// Where a page of a list starts: after the row with this sort key and id.
// Rows with a key come first (phase 0), then the rows without one (phase 1,
// by id), in either direction, so a list pages by index ranges.
struct CustomerListPosition {
  int phase = 0;
  double number = 0;  // the key of numeric sorts
  std::string text;   // the key of the name sort
  std::int64_t customer_id = 0;
};

// Which customers of a finished scoring run a list shows. Empty fields do not
// filter; `bands` keeps a customer whose band is any of them.
struct CustomerListFilter {
  std::vector<std::string> bands;
  std::string tier;
  std::string stage;
  std::string abc_class;
  std::size_t limit = 0;  // 0: every match
  std::size_t offset = 0;
  // Added for the service; the defaults keep the list as it was.
  std::int64_t run_id = 0;  // 0: the latest finished run
  std::int64_t run_as_of_ms = 0;
  std::int64_t previous_run_id = 0;  // for score_change; 0: none
  // Keeps customers whose band differs from their band in this run, or who
  // were not in it; nullopt: no such filter; 0: every customer (no run then).
  std::optional<std::int64_t> changed_band_since_run_id;
  CustomerSort sort = CustomerSort::score;
  bool descending = false;
  std::optional<CustomerListPosition> after;  // ignored when offset > 0
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
  // The sort key of the row (CustomerListPosition): numeric or text, nullopt when it has none.
  std::optional<double> sort_number;
  std::optional<std::string> sort_text;
};

// A finished scoring run: its id and as-of date.
struct FinishedRun {
  std::int64_t id = 0;
  std::int64_t as_of_ms = 0;
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
  // Customers of a finished scoring run (the latest unless the filter names
  // one), by the filter's sort (default: riskiest, i.e. lowest score, first),
  // rows without a sort key last, then by id.
  std::vector<CustomerListRow> list(const CustomerListFilter& filter);
  // The latest finished scoring run, or the latest finished at or before `at_ms`.
  std::optional<FinishedRun> latest_finished_run(std::optional<std::int64_t> at_ms = std::nullopt);
  // The finished scoring run before `run_id`.
  std::optional<FinishedRun> finished_run_before(std::int64_t run_id);

 private:
  bool uses_stored_keys(const CustomerListFilter& filter, std::int64_t run_id);
  Database& db_;
};

}  // namespace crm::host
