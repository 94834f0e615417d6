#include "app/customers.hpp"

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <string_view>

#include "app/errors.hpp"
#include "scoring/known_labels.hpp"
#include "scoring/scoring.hpp"

namespace crm::host {

namespace {

nlohmann::json json_object_or_empty(const std::string& text) {
  return nlohmann::json::parse(text.empty() ? "{}" : text);
}

}  // namespace

std::int64_t find_customer(Store& store, const std::string& text) {
  CustomerReadRepository customers(store.database());
  const std::size_t colon = text.find(':');
  std::optional<std::int64_t> found;
  if (colon == std::string::npos) {
    char* end = nullptr;
    const long long id = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') {
      throw InvalidRequest(fmt::format("customer '{}' is neither a store id nor SOURCE:EXTERNAL_ID", text));
    }
    found = customers.find_by_id(static_cast<std::int64_t>(id));
  } else {
    found = customers.find_by_source(std::string_view(text).substr(0, colon), std::string_view(text).substr(colon + 1));
  }
  if (!found) {
    throw NotFound(fmt::format("no customer '{}' in the store", text));
  }
  return *found;
}

Customer360 customer_360(Session& session, const std::string& customer, bool include_profile) {
  const ScoringSettings& settings = session.config().scoring;
  const StoreHandle store = session.open_store();
  CustomerReadRepository customers(store->database());
  Customer360 view;
  view.customer_id = find_customer(*store, customer);
  view.known_as = customers.known_as(view.customer_id);
  const std::vector<CustomerScoreLine> lines = customers.latest_scores(view.customer_id, 2);
  if (lines.empty()) {
    throw NotFound(fmt::format(
        "customer {} has no score yet; run `crmhost score` (a customer is the store's id or SOURCE:EXTERNAL_ID)",
        view.customer_id));
  }
  const CustomerScoreLine& latest = lines.front();
  view.run_id = latest.run_id;
  view.as_of_ms = latest.as_of_ms;
  view.score = latest.score;
  view.band = latest.band;
  view.tier = latest.tier;
  view.stage = latest.stage;
  view.abc_class = latest.abc_class;
  view.primary_scorer = latest.primary_scorer;
  view.scores = json_object_or_empty(latest.scores_json);
  view.models = json_object_or_empty(latest.scorers_json);
  for (const BandRule& rule : settings.bands) {
    if (rule.name == view.band) {
      view.band_rule = rule;
    }
  }
  for (const std::string& code : split_reason_codes(latest.reasons)) {
    view.reasons.push_back({code, plain_label(settings, code)});
  }
  if (!latest.explain_json.empty()) {
    for (const auto& pair : nlohmann::json::parse(latest.explain_json)) {
      const std::string feature = pair[0].get<std::string>();
      view.top_contributions.push_back({feature, plain_label(settings, feature), pair[1].get<double>()});
    }
  }
  if (lines.size() > 1 && !lines[1].band.empty()) {
    view.previous_band = lines[1].band;
  }
  if (include_profile) {
    view.profile = customers.profile(view.customer_id);
    view.contacts = customers.contacts(view.customer_id);
  }
  return view;
}

std::vector<CustomerListRow> list_customers(Session& session, const CustomerListRequest& request) {
  CustomerListFilter filter;
  filter.tier = request.tier;
  filter.stage = request.stage;
  filter.abc_class = request.value_class;
  filter.limit = request.limit;
  filter.offset = request.offset;
  if (!request.band.empty()) {
    filter.bands.push_back(request.band);
  }
  if (!request.owner.empty()) {
    std::vector<std::string> owned;
    for (const BandRule& rule : session.config().scoring.bands) {
      if (rule.owner == request.owner && (request.band.empty() || rule.name == request.band)) {
        owned.push_back(rule.name);
      }
    }
    if (owned.empty()) {
      return {};  // the owner owns no band (or not the one asked for): nobody to show
    }
    filter.bands = owned;
  }
  const StoreHandle store = session.open_store();
  return CustomerReadRepository(store->database()).list(filter);
}

}  // namespace crm::host
