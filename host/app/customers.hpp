#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/session.hpp"
#include "scoring/settings.hpp"
#include "store/customer_read_repository.hpp"
#include "store/store.hpp"

namespace crm::host {

// A customer named by a person: the store's id, or SOURCE:EXTERNAL_ID as the
// connector knows it (then the unified customer). Throws InvalidRequest when
// the text is neither form, NotFound when the store has no such customer.
std::int64_t find_customer(Store& store, const std::string& text);

struct ReasonText {
  std::string code;
  std::string text;  // in plain words, from the configuration's labels
};

struct ScoreDriver {
  std::string feature;
  std::string text;
  double points = 0;  // what the feature added to (or took from) the score
};

// One customer as the latest finished scoring run sees them (what `crmhost
// explain` shows), and, when asked, who they are and whom to talk to.
struct Customer360 {
  std::int64_t customer_id = 0;
  std::vector<std::string> known_as;  // "source:external_id" of every record unified into it
  std::int64_t run_id = 0;
  std::int64_t as_of_ms = 0;
  std::optional<double> score;  // of the primary scorer; nullopt: no signal to score
  std::string band;
  std::string tier;
  std::string stage;
  std::string abc_class;
  std::string primary_scorer;
  nlohmann::json scores = nlohmann::json::object();  // {"scorer": score or null}, as the run stored them
  nlohmann::json models = nlohmann::json::object();  // {"scorer": "version[+model id]"}
  std::optional<BandRule> band_rule;                 // the band's owner and response time
  std::vector<ReasonText> reasons;
  std::vector<ScoreDriver> top_contributions;
  std::optional<std::string> previous_band;  // in the run before, when scored then
  // Filled when asked for (include_profile).
  std::optional<CustomerProfile> profile;
  std::vector<CustomerContact> contacts;
};

// The 360 view of `customer` (as find_customer reads it). Throws NotFound when
// the customer has no score yet.
Customer360 customer_360(Session& session, const std::string& customer, bool include_profile = false);

// Which customers a list shows; empty fields do not filter. `owner` keeps the
// customers in the bands that person owns (the configuration's bands).
struct CustomerListRequest {
  std::string band;
  std::string tier;
  std::string stage;
  std::string owner;
  std::string value_class;  // A, B or C
  std::size_t limit = 0;    // 0: every match
  std::size_t offset = 0;
};

// Customers of the latest finished scoring run, riskiest (lowest health score) first.
std::vector<CustomerListRow> list_customers(Session& session, const CustomerListRequest& request);

}  // namespace crm::host
