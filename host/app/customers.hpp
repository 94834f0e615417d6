#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/session.hpp"
#include "scoring/settings.hpp"
#include "store/customer_detail_repository.hpp"
#include "store/customer_read_repository.hpp"
#include "store/lost_customer_repository.hpp"
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

// One point of a customer's score history: their line of one finished scoring run.
struct ScorePoint {
  std::int64_t run_id = 0;
  std::int64_t as_of_ms = 0;
  std::optional<double> score;
  std::string band;
};

// Where the customer stands in win-back: lost (with the reason), in which
// campaigns and at which step, held out, on the do-not-contact list.
struct WinBackState {
  std::optional<LostCustomer> lost;
  std::vector<EnrolmentLine> enrolments;  // newest first
  std::optional<DoNotContactLine> do_not_contact;
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
  std::vector<BandRule> band_thresholds;             // every configured band, as the settings order them
  std::vector<ReasonText> reasons;
  std::vector<ScoreDriver> top_contributions;
  std::optional<std::string> previous_band;  // in the run before, when scored then
  // The probability of churning (no purchase) within churn_horizon_days, calibrated on the store's own
  // history (`crmhost train`); nullopt with churn_probability_note saying why (no calibration yet, or no
  // score to calibrate).
  std::optional<double> churn_probability;
  std::optional<int> churn_horizon_days;
  std::string churn_probability_note;
  // Filled when asked for (include_profile).
  std::optional<CustomerProfile> profile;
  std::vector<CustomerContact> contacts;
  // Filled with the profile too: the rest of the 360 view. Lists hold at most
  // kCustomer360Recent entries, newest first.
  std::optional<OrderSummary> orders;  // revenue_last_12_months: the 365 days up to now
  std::vector<TicketLine> tickets;
  std::vector<SurveyLine> surveys;
  std::vector<HistoryEvent> timeline;     // orders, tickets, surveys, interactions, activities, follow-ups
  std::vector<ScorePoint> score_history;  // at most kScoreHistoryRuns
  std::vector<CustomerAlertLine> alerts;  // every alert not resolved first, then the newest resolved
  WinBackState winback;
};

inline constexpr std::size_t kCustomer360Recent = 20;
inline constexpr std::size_t kScoreHistoryRuns = 24;

// The 360 view of `customer` (as find_customer reads it): what `crmhost
// explain` shows, and with include_profile the whole view (profile,
// contacts, orders, tickets, surveys, timeline, score history, alerts,
// win-back), each part one index lookup. Throws NotFound when the customer has
// no score yet.
Customer360 customer_360(Session& session, const std::string& customer, bool include_profile = false);
// The same on a store the caller keeps open (a service's per-thread store:
// opening one costs more than the whole view's reads).
Customer360 customer_360(Session& session, Store& store, const std::string& customer, bool include_profile);

// Which customers a list shows; empty fields do not filter. `owner` keeps the
// customers in the bands that person owns (the configuration's bands); several
// owners, comma-separated, keep the bands any of them owns.
struct CustomerListRequest {
  std::string band;
  std::string tier;
  std::string stage;
  std::string owner;
  std::string value_class;  // A, B or C
  std::size_t limit = 0;    // 0: every match (list_customers_page: 0 is kDefaultPageSize)
  std::size_t offset = 0;   // list_customers only; pages of the service go by cursor
  // Keeps customers whose band differs from their band in the latest scoring
  // run finished at or before this time, or who were not scored then.
  std::optional<std::int64_t> changed_band_since_ms;
  CustomerSort sort = CustomerSort::score;
  bool descending = false;
  std::string cursor;  // a page's next_cursor: the next page starts after its last row
};

inline constexpr std::size_t kDefaultPageSize = 50;
inline constexpr std::size_t kMaxPageSize = 500;

// "score", "score_change", "value", "name", "id"; InvalidRequest otherwise.
CustomerSort parse_customer_sort(const std::string& text);
std::string customer_sort_name(CustomerSort sort);

// Customers of the latest finished scoring run, riskiest (lowest health score)
// first unless the request sorts otherwise; customers without a sort key last.
// Throws InvalidRequest for a malformed cursor.
std::vector<CustomerListRow> list_customers(Session& session, const CustomerListRequest& request);

// One page of a customer list and where the next one starts.
struct CustomerPage {
  std::vector<CustomerListRow> customers;
  std::string next_cursor;  // "" on the last page; opaque, valid for the same filters and sort
};

// A page of list_customers by cursor: `limit` rows (0: kDefaultPageSize; more
// than kMaxPageSize, a malformed cursor, or one made for another sort throw
// InvalidRequest). Pages stay stable under ties (the customer id breaks them)
// and are index ranges of the latest run, however deep.
CustomerPage list_customers_page(Session& session, const CustomerListRequest& request);
// The same on a store the caller keeps open.
CustomerPage list_customers_page(Session& session, Store& store, const CustomerListRequest& request);

inline constexpr std::size_t kMaxExportRows = 100'000;

// Every customer of a list (the same filters and sort) from the request's
// cursor on, at most `max_rows` (1 to kMaxExportRows, else InvalidRequest),
// read page by page on one store: the CSV export. next_cursor is set when
// more customers match than `max_rows`; request.limit is ignored.
CustomerPage export_customers(Session& session, const CustomerListRequest& request, std::size_t max_rows);

// A contact a person made with a customer, kept as an outbound interaction of
// the source kFollowUpSource, so that it counts for the follow-up cadence of
// the customer's tier (days_since_followup, followup_overdue_days).
struct FollowUp {
  std::string by;  // who made the contact
  std::int64_t at_ms = 0;
  std::string channel;  // one of kFollowUpChannels
  std::string note;
};

struct RecordedFollowUp {
  std::string id;  // the interaction's external_id under kFollowUpSource
  std::int64_t customer_id = 0;
  FollowUp follow_up;
};

inline constexpr const char* kFollowUpSource = "crmhost";
inline constexpr std::array<std::string_view, 6> kFollowUpChannels = {"phone", "visit",   "email",
                                                                      "wecom", "meeting", "other"};

// Stores a follow-up with `customer` (as find_customer reads it). Throws
// InvalidRequest when `by` is empty, the channel unknown or the time more
// than a minute in the future (clock skew), NotFound for an unknown customer.
RecordedFollowUp record_follow_up(Session& session, const std::string& customer, const FollowUp& follow_up);
// The same on a store the caller keeps open.
RecordedFollowUp record_follow_up(Session& session, Store& store, const std::string& customer,
                                  const FollowUp& follow_up);

}  // namespace crm::host
