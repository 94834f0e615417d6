#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "winback/winback_settings.hpp"

namespace crm::host {

// The rules of lost-customer detection (domain.md section 6), over plain
// values: no store, no clock. LostCustomers feeds them the history it reads
// and writes what they decide.

// A customer's purchases before the detection date, built one order at a time, oldest first.
struct PurchaseHistory {
  std::vector<std::int64_t> order_ms;
  double revenue = 0;
  std::int64_t last_ms = 0;
  std::int64_t first_ms = 0;
  std::set<std::string> recent_lines;  // product lines of the 90 days up to the last order

  void add(std::int64_t ordered_at_ms, double amount, std::string_view product_line);
};

// What connectors said about a customer's contract or churn (customer attributes).
struct DeclaredChurn {
  std::optional<std::int64_t> contract_end_ms;
  bool marked = false;

  // One attribute: "contract_end" (a day, see parse_day) or "churned" (see is_truthy); others are ignored.
  void add_attribute(std::string_view lower_name, const std::string& value);
};

// "YYYY-MM-DD" (or milliseconds since the epoch) as ms; nullopt when neither.
std::optional<std::int64_t> parse_day(const std::string& text);
// "1", "true", "yes", "churned", "lost" in any case.
bool is_truthy(std::string_view value);

// Why a customer is lost and since when.
struct ChurnFinding {
  std::string method;  // "mark", "contract_end" or "silence"
  std::int64_t churn_date_ms = 0;
  nlohmann::json evidence;
};

// Whether a customer with this history (and what connectors declared, may be
// null) is lost as of `as_of_ms`: an explicit mark first, then a contract that
// ended with no order after it, then a silence longer than silence_multiple
// times the customer's own median interval between order days (at least
// min_silence_days, from min_orders order days on). nullopt: not lost.
std::optional<ChurnFinding> find_churn(const PurchaseHistory& history, const DeclaredChurn* declared,
                                       std::int64_t as_of_ms, const WinbackSettings& settings);

// What is known about a lost customer when a reason is proposed.
struct ReasonEvidence {
  std::vector<std::string> texts;  // interactions' "<subject> <keywords>"
  int open_complaints = 0;
  std::string owner_left;  // detail of an "owner_left" activity, "" when none
};

struct ProposedReason {
  std::string reason;  // one of churn_reason_codes()
  std::string because;
};

// The reason rules, the most specific first: closure terms (forced to leave),
// every recent product line discontinued (abandoned by us), inducement terms
// (bought off), open complaints (left dissatisfied), competitor terms
// (attracted away), the owner of the relationship left (other), else other.
ProposedReason propose_reason(const ReasonEvidence& evidence, const std::set<std::string>& recent_lines,
                              const WinbackSettings& settings);

// What winning the customer back is worth: yearly revenue x margin x horizon,
// the yearly revenue being the scorers' purchases per year (when given and the
// customer ordered) times the average order, else the revenue rate of the
// history (over at least a year).
double expected_value(const PurchaseHistory& history, std::optional<double> purchases_per_year,
                      const WinbackSettings& settings);

// Why a lost customer is not pursued: "" when they are.
std::string exclusion_of(const std::string& reason, bool on_do_not_contact_list, const WinbackSettings& settings);

// Whether `lost_count` losses for one reason in one period, `rate` of the
// active customers, are mass churn (one strategic alert, not offers).
bool is_mass_churn(std::size_t lost_count, double rate, const WinbackSettings& settings);

// The key under which 5 Why chains ending alike share a root cause: lower case
// (ASCII), runs of spaces as one, no trailing spaces or full stops.
std::string root_cause_key(const std::string& text);

}  // namespace crm::host
