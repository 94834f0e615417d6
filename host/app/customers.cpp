#include "app/customers.hpp"

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <random>
#include <string_view>
#include <tuple>

#include "app/errors.hpp"
#include "core/base64url.hpp"
#include "core/dates.hpp"
#include "scoring/known_labels.hpp"
#include "scoring/scoring.hpp"

namespace crm::host {

namespace {

nlohmann::json json_object_or_empty(const std::string& text) {
  return nlohmann::json::parse(text.empty() ? "{}" : text);
}

constexpr std::int64_t kMillisecondsPerYear = 365LL * 24 * 60 * 60 * 1000;
// A follow-up "now" from a device whose clock runs a little ahead is not in the future.
constexpr std::int64_t kFollowUpClockSkewMs = 60'000;

// The cursor names the sort and direction it was made for, so a cursor reused
// with another sort is refused instead of silently starting elsewhere.
std::string encode_cursor(const CustomerListRequest& request, const CustomerListRow& last) {
  nlohmann::json cursor = {{"s", customer_sort_name(request.sort)},
                           {"d", request.descending},
                           {"i", last.customer_id},
                           {"p", last.sort_number || last.sort_text ? 0 : 1}};
  if (last.sort_number) {
    cursor["k"] = *last.sort_number;
  } else if (last.sort_text) {
    cursor["k"] = *last.sort_text;
  }
  return base64url_encode(cursor.dump());
}

CustomerListPosition decode_cursor(const CustomerListRequest& request) {
  const auto bad = [&](std::string_view why) {
    return InvalidRequest(fmt::format("cursor '{}' is not one this list gave ({})", request.cursor.substr(0, 64), why));
  };
  const std::optional<std::string> bytes = base64url_decode(request.cursor);
  if (!bytes) {
    throw bad("not base64url");
  }
  const nlohmann::json cursor = nlohmann::json::parse(*bytes, nullptr, false);
  if (!cursor.is_object() || !cursor.contains("s") || !cursor["s"].is_string() || !cursor.contains("d") ||
      !cursor["d"].is_boolean() || !cursor.contains("i") || !cursor["i"].is_number_integer() || !cursor.contains("p") ||
      !cursor["p"].is_number_integer()) {
    throw bad("malformed");
  }
  if (cursor["s"] != customer_sort_name(request.sort) || cursor["d"] != request.descending) {
    throw bad("made for another sort");
  }
  CustomerListPosition position;
  position.phase = cursor["p"].get<int>();
  position.customer_id = cursor["i"].get<std::int64_t>();
  if (position.phase == 0) {
    const bool text_sort = request.sort == CustomerSort::name;
    if (!cursor.contains("k") || (text_sort ? !cursor["k"].is_string() : !cursor["k"].is_number())) {
      throw bad("malformed");
    }
    if (text_sort) {
      position.text = cursor["k"].get<std::string>();
    } else {
      position.number = cursor["k"].get<double>();
    }
  } else if (position.phase != 1) {
    throw bad("malformed");
  }
  return position;
}

// The filter of a request, or nullopt when it can match nobody (an owner of no band asked for).
std::optional<CustomerListFilter> list_filter(const Session& session, CustomerReadRepository& customers,
                                              const CustomerListRequest& request) {
  CustomerListFilter filter;
  filter.tier = request.tier;
  filter.stage = request.stage;
  filter.abc_class = request.value_class;
  filter.limit = request.limit;
  filter.offset = request.offset;
  filter.sort = request.sort;
  filter.descending = request.descending;
  if (!request.cursor.empty()) {
    filter.after = decode_cursor(request);
  }
  if (!request.band.empty()) {
    filter.bands.push_back(request.band);
  }
  if (!request.owner.empty()) {
    // One person may be known by several owner names (a user who is both csm and cs_director).
    std::vector<std::string_view> owners;
    for (std::size_t start = 0; start <= request.owner.size();) {
      const std::size_t comma = std::min(request.owner.find(',', start), request.owner.size());
      if (comma > start) {
        owners.push_back(std::string_view(request.owner).substr(start, comma - start));
      }
      start = comma + 1;
    }
    std::vector<std::string> owned;
    for (const BandRule& rule : session.config().scoring.bands) {
      if (std::find(owners.begin(), owners.end(), rule.owner) != owners.end() &&
          (request.band.empty() || rule.name == request.band)) {
        owned.push_back(rule.name);
      }
    }
    if (owned.empty()) {
      return std::nullopt;  // the owner owns no band (or not the one asked for): nobody to show
    }
    filter.bands = owned;
  }
  const std::optional<FinishedRun> latest = customers.latest_finished_run();
  if (!latest) {
    return std::nullopt;
  }
  filter.run_id = latest->id;
  filter.run_as_of_ms = latest->as_of_ms;
  if (request.sort == CustomerSort::score_change) {
    filter.previous_run_id = customers.finished_run_before(latest->id).value_or(FinishedRun{}).id;
  }
  if (request.changed_band_since_ms) {
    filter.changed_band_since_run_id =
        customers.latest_finished_run(*request.changed_band_since_ms).value_or(FinishedRun{}).id;
  }
  return filter;
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
  const StoreHandle store = session.open_store();
  return customer_360(session, *store, customer, include_profile);
}

Customer360 customer_360(Session& session, Store& store, const std::string& customer, bool include_profile) {
  const ScoringSettings& settings = session.config().scoring;
  CustomerReadRepository customers(store.database());
  Customer360 view;
  view.customer_id = find_customer(store, customer);
  view.known_as = customers.known_as(view.customer_id);
  const std::vector<CustomerScoreLine> lines =
      customers.latest_scores(view.customer_id, include_profile ? kScoreHistoryRuns : 2);
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
  view.band_thresholds = settings.bands;
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
  view.churn_probability = latest.churn_probability;
  if (latest.horizon_days) {
    view.churn_horizon_days = static_cast<int>(*latest.horizon_days);
  }
  if (!view.churn_probability) {
    view.churn_probability_note =
        !latest.horizon_days ? std::string(kNoCalibrationYet) : std::string("no score, so no churn probability");
  }
  if (include_profile) {
    view.profile = customers.profile(view.customer_id);
    view.contacts = customers.contacts(view.customer_id);
    for (const CustomerScoreLine& line : lines) {
      view.score_history.push_back({line.run_id, line.as_of_ms, line.score, line.band});
    }
    CustomerDetailRepository details(store.database());
    const std::int64_t now_ms = session.clock().now_ms();
    view.orders = details.order_summary(view.customer_id, now_ms - kMillisecondsPerYear);
    view.tickets = details.recent_tickets(view.customer_id, kCustomer360Recent);
    view.surveys = details.recent_surveys(view.customer_id, kCustomer360Recent);
    view.timeline = details.recent_orders(view.customer_id, kCustomer360Recent);
    const auto append = [&view](const std::vector<HistoryEvent>& more) {
      view.timeline.insert(view.timeline.end(), more.begin(), more.end());
    };
    append(details.recent_interactions(view.customer_id, kCustomer360Recent, kFollowUpSource));
    append(details.recent_activities(view.customer_id, kCustomer360Recent));
    for (const TicketLine& ticket : view.tickets) {
      if (ticket.opened_at_ms) {
        view.timeline.push_back(
            {*ticket.opened_at_ms, "ticket", ticket.source, ticket.external_id,
             fmt::format("{}{} ticket{}{}", ticket.resolved_at_ms ? "resolved" : "open",
                         ticket.is_complaint ? " complaint" : "", ticket.subject.empty() ? "" : ": ", ticket.subject)});
      }
    }
    for (const SurveyLine& survey : view.surveys) {
      if (survey.answered_at_ms) {
        view.timeline.push_back(
            {*survey.answered_at_ms, "survey", survey.source, survey.external_id,
             fmt::format("{} survey answered{}", survey.kind.empty() ? "a" : survey.kind,
                         survey.score ? fmt::format(": {:g}", *survey.score) : std::string(", no score"))});
      }
    }
    std::sort(view.timeline.begin(), view.timeline.end(), [](const HistoryEvent& a, const HistoryEvent& b) {
      return std::tie(b.at_ms, b.kind, b.source, b.external_id) < std::tie(a.at_ms, a.kind, a.source, a.external_id);
    });
    if (view.timeline.size() > kCustomer360Recent) {
      view.timeline.resize(kCustomer360Recent);
    }
    view.alerts = details.alerts(view.customer_id, kCustomer360Recent);
    std::vector<LostCustomer> lost = LostCustomerRepository(store.database()).list(false, view.customer_id);
    if (!lost.empty()) {
      view.winback.lost = std::move(lost.front());
    }
    view.winback.enrolments = details.enrolments(view.customer_id);
    view.winback.do_not_contact = details.do_not_contact(view.customer_id);
  }
  return view;
}

CustomerSort parse_customer_sort(const std::string& text) {
  for (const CustomerSort sort :
       {CustomerSort::score, CustomerSort::score_change, CustomerSort::value, CustomerSort::name, CustomerSort::id}) {
    if (customer_sort_name(sort) == text) {
      return sort;
    }
  }
  throw InvalidRequest(fmt::format("sort '{}' is none of score, score_change, value, name, id", text));
}

std::string customer_sort_name(CustomerSort sort) {
  switch (sort) {
    case CustomerSort::score:
      return "score";
    case CustomerSort::score_change:
      return "score_change";
    case CustomerSort::value:
      return "value";
    case CustomerSort::name:
      return "name";
    case CustomerSort::id:
      return "id";
  }
  return "score";
}

std::vector<CustomerListRow> list_customers(Session& session, const CustomerListRequest& request) {
  const StoreHandle store = session.open_store();
  CustomerReadRepository customers(store->database());
  const std::optional<CustomerListFilter> filter = list_filter(session, customers, request);
  return filter ? customers.list(*filter) : std::vector<CustomerListRow>{};
}

CustomerPage list_customers_page(Session& session, const CustomerListRequest& request) {
  const StoreHandle store = session.open_store();
  return list_customers_page(session, *store, request);
}

CustomerPage list_customers_page(Session& session, Store& store, const CustomerListRequest& request) {
  if (request.limit > kMaxPageSize) {
    throw InvalidRequest(fmt::format("limit {} is more than {}", request.limit, kMaxPageSize));
  }
  if (request.offset > 0) {
    throw InvalidRequest("pages of this list go by cursor, not by offset");
  }
  const std::size_t page_size = request.limit == 0 ? kDefaultPageSize : request.limit;
  CustomerReadRepository customers(store.database());
  std::optional<CustomerListFilter> filter = list_filter(session, customers, request);
  CustomerPage page;
  if (!filter) {
    return page;
  }
  filter->limit = page_size + 1;  // one more than shown tells whether a next page exists
  page.customers = customers.list(*filter);
  if (page.customers.size() > page_size) {
    page.customers.resize(page_size);
    page.next_cursor = encode_cursor(request, page.customers.back());
  }
  return page;
}

CustomerPage export_customers(Session& session, const CustomerListRequest& request, std::size_t max_rows) {
  if (max_rows < 1 || max_rows > kMaxExportRows) {
    throw InvalidRequest(fmt::format("an export holds 1 to {} customers, not {}", kMaxExportRows, max_rows));
  }
  const StoreHandle store = session.open_store();
  CustomerPage exported;
  CustomerListRequest page_request = request;
  page_request.offset = 0;
  // Pages by cursor rather than one unbounded query: each page is one index range, however deep.
  while (exported.customers.size() < max_rows) {
    page_request.limit = std::min(kMaxPageSize, max_rows - exported.customers.size());
    CustomerPage page = list_customers_page(session, *store, page_request);
    exported.customers.insert(exported.customers.end(), std::make_move_iterator(page.customers.begin()),
                              std::make_move_iterator(page.customers.end()));
    exported.next_cursor = page.next_cursor;
    if (page.next_cursor.empty()) {
      break;
    }
    page_request.cursor = std::move(page.next_cursor);
  }
  return exported;
}

RecordedFollowUp record_follow_up(Session& session, const std::string& customer, const FollowUp& follow_up) {
  const StoreHandle store = session.open_store();
  return record_follow_up(session, *store, customer, follow_up);
}

RecordedFollowUp record_follow_up(Session& session, Store& store, const std::string& customer,
                                  const FollowUp& follow_up) {
  if (follow_up.by.empty()) {
    throw InvalidRequest("a follow-up needs who made it (by)");
  }
  if (std::find(kFollowUpChannels.begin(), kFollowUpChannels.end(), follow_up.channel) == kFollowUpChannels.end()) {
    throw InvalidRequest(
        fmt::format("channel '{}' is none of phone, visit, email, wecom, meeting, other", follow_up.channel));
  }
  const std::int64_t now_ms = session.clock().now_ms();
  if (follow_up.at_ms > now_ms + kFollowUpClockSkewMs) {
    throw InvalidRequest(fmt::format("a follow-up at {} is in the future", utc_date_text(follow_up.at_ms)));
  }
  RecordedFollowUp recorded;
  recorded.customer_id = find_customer(store, customer);
  recorded.follow_up = follow_up;
  CustomerDetailRepository details(store.database());
  std::random_device random;
  // A random suffix keeps two follow-ups of one millisecond apart; a clash is retried.
  for (int attempt = 0;; ++attempt) {
    recorded.id = fmt::format("follow-up-{}-{}-{:08x}", recorded.customer_id, now_ms, random());
    if (details.insert_follow_up(kFollowUpSource, recorded.id, recorded.customer_id, follow_up.at_ms, follow_up.channel,
                                 follow_up.note, follow_up.by) ||
        attempt == 3) {
      break;
    }
  }
  return recorded;
}

}  // namespace crm::host
