#include "winback/lost_customers.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "scoring/value_class.hpp"
#include "store/purchases.hpp"

namespace crm::host {
namespace {

constexpr double kDayMs = 86'400'000.0;

// What connectors said about a customer's contract or churn.
struct Declared {
  std::optional<std::int64_t> contract_end_ms;
  bool marked = false;
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The first of `terms` found in `texts` (ASCII case-insensitive; other scripts as written).
std::optional<std::string> find_term(const std::vector<std::string>& texts, const std::vector<std::string>& terms) {
  for (const std::string& text : texts) {
    const std::string haystack = lower(text);
    for (const std::string& term : terms) {
      if (!term.empty() && haystack.find(lower(term)) != std::string::npos) {
        return fmt::format("\"{}\" mentions \"{}\"", text, term);
      }
    }
  }
  return std::nullopt;
}

// "YYYY-MM-DD" (or milliseconds since the epoch) as ms; nullopt when neither.
std::optional<std::int64_t> parse_day(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  if (std::sscanf(text.c_str(), "%d-%u-%u", &year, &month, &day) == 3) {  // NOLINT(cert-err34-c): checked by count
    const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
    if (date.ok()) {
      return std::chrono::sys_days(date).time_since_epoch().count() * static_cast<std::int64_t>(kDayMs);
    }
  }
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return std::stoll(text);
  }
  return std::nullopt;
}

bool truthy(const std::string& value) {
  const std::string text = lower(value);
  return text == "1" || text == "true" || text == "yes" || text == "churned" || text == "lost";
}

}  // namespace

// A customer's orders before the date, from one scan of the orders table.
struct LostCustomers::History {
  std::vector<std::int64_t> order_ms;
  double revenue = 0;
  std::int64_t last_ms = 0;
  std::int64_t first_ms = 0;
  std::set<std::string> recent_lines;  // product lines of the 90 days up to the last order
};

UnifiedCustomers::UnifiedCustomers(Database& db) {
  Statement query =
      db.prepare("SELECT id, unified_id FROM customers WHERE unified_id IS NOT NULL AND unified_id != id");
  while (query.step()) {
    unified_[query.column_int64(0)] = query.column_int64(1);
  }
}

LostCustomers::LostCustomers(Store& store, AlertEngine* alerts, Logger& logger, const Clock& clock,
                             WinbackSettings settings)
    : store_(store), alerts_(alerts), logger_(logger), clock_(clock), settings_(std::move(settings)) {}

ChurnDetection LostCustomers::detect(std::int64_t as_of_ms) {
  ChurnDetection counts;
  Database& db = store_.database();
  const UnifiedCustomers unified(db);
  const auto owner_of = [&](std::int64_t row) { return unified.of(row); };
  std::map<std::int64_t, History> histories;
  {
    Statement orders = db.prepare(
        "SELECT customer_id, ordered_at_ms, coalesce(amount, 0), coalesce(product_line, '') FROM orders WHERE "
        "customer_id IS NOT NULL AND ordered_at_ms < ?1 AND " +
        purchase_condition() + " ORDER BY ordered_at_ms");
    orders.bind(1, as_of_ms);
    while (orders.step()) {
      History& history = histories[owner_of(orders.column_int64(0))];
      const std::int64_t at = orders.column_int64(1);
      if (history.order_ms.empty()) {
        history.first_ms = at;
      }
      if (at - history.last_ms > static_cast<std::int64_t>(90 * kDayMs)) {
        history.recent_lines.clear();
      }
      history.order_ms.push_back(at);
      history.last_ms = at;
      history.revenue += orders.column_double(2);
      if (!orders.column_text(3).empty()) {
        history.recent_lines.insert(orders.column_text(3));
      }
    }
  }
  std::map<std::int64_t, Declared> evidence;
  {
    Statement attributes = db.prepare(
        "SELECT customer_id, lower(name), coalesce(value, '') FROM customer_attributes WHERE customer_id IS NOT NULL "
        "AND lower(name) IN ('contract_end', 'churned')");
    while (attributes.step()) {
      Declared& found = evidence[owner_of(attributes.column_int64(0))];
      if (attributes.column_text(1) == "contract_end") {
        found.contract_end_ms = parse_day(attributes.column_text(2));
      } else if (truthy(attributes.column_text(2))) {
        found.marked = true;
      }
    }
  }

  Transaction transaction(db);
  std::map<std::int64_t, std::pair<std::int64_t, std::string>> previous;  // customer -> churn date, reason source
  {
    Statement query = db.prepare(
        "SELECT customer_id, churn_date_ms, coalesce(reason_source, '') FROM lost_customers WHERE "
        "recovered_ms IS NULL");
    while (query.step()) {
      previous[query.column_int64(0)] = {query.column_int64(1), query.column_text(2)};
    }
  }
  Statement recover = db.prepare("UPDATE lost_customers SET recovered_ms = ?1 WHERE customer_id = ?2");
  Statement upsert = db.prepare(
      "INSERT INTO lost_customers(customer_id, churn_date_ms, detected_ms, method, evidence) VALUES (?1, ?2, ?3, ?4, "
      "?5) ON CONFLICT(customer_id) DO UPDATE SET churn_date_ms = excluded.churn_date_ms, detected_ms = "
      "excluded.detected_ms, method = excluded.method, evidence = excluded.evidence, recovered_ms = NULL, reason = "
      "CASE WHEN reason_source = 'person' THEN reason ELSE NULL END");
  const auto lose = [&](std::int64_t customer, std::int64_t churn_date_ms, const char* method,
                        const nlohmann::json& facts) {
    if (const auto found = previous.find(customer); found != previous.end()) {
      ++counts.still_lost;
      return;
    }
    upsert.bind(1, customer)
        .bind(2, churn_date_ms)
        .bind(3, clock_.now_ms())
        .bind(4, std::string_view(method))
        .bind(5, facts.dump())
        .run();
    ++counts.newly_lost;
  };
  std::set<std::int64_t> lost_now;
  for (const auto& [customer, history] : histories) {
    ++counts.customers_examined;
    const auto found_evidence = evidence.find(customer);
    const Declared* facts = found_evidence == evidence.end() ? nullptr : &found_evidence->second;
    if (const auto was = previous.find(customer); was != previous.end() && history.last_ms > was->second.first) {
      recover.bind(1, history.last_ms).bind(2, customer).run();  // ordered again after the churn date
      ++counts.recovered;
      previous.erase(was);
      continue;
    }
    if (facts != nullptr && facts->marked) {
      lost_now.insert(customer);
      lose(customer, history.last_ms, "mark", {{"marked_by", "connector"}, {"last_order_ms", history.last_ms}});
      continue;
    }
    if (facts != nullptr && facts->contract_end_ms && *facts->contract_end_ms < as_of_ms &&
        history.last_ms <= *facts->contract_end_ms) {
      lost_now.insert(customer);
      lose(customer, *facts->contract_end_ms, "contract_end",
           {{"contract_end_ms", *facts->contract_end_ms}, {"last_order_ms", history.last_ms}});
      continue;
    }
    std::vector<std::int64_t> days;  // distinct order days
    for (const std::int64_t at : history.order_ms) {
      const auto day = static_cast<std::int64_t>(std::floor(static_cast<double>(at) / kDayMs));
      if (days.empty() || days.back() != day) {
        days.push_back(day);
      }
    }
    if (static_cast<int>(days.size()) < settings_.min_orders) {
      continue;
    }
    std::vector<double> gaps;
    for (std::size_t i = 1; i < days.size(); ++i) {
      gaps.push_back(static_cast<double>(days[i] - days[i - 1]));
    }
    std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2), gaps.end());
    const double median_gap_days = gaps[gaps.size() / 2];
    const double allowed_days = std::max(settings_.silence_multiple * median_gap_days, settings_.min_silence_days);
    const double silent_days = static_cast<double>(as_of_ms - history.last_ms) / kDayMs;
    if (silent_days <= allowed_days) {
      continue;
    }
    lost_now.insert(customer);
    lose(customer, history.last_ms + static_cast<std::int64_t>(allowed_days * kDayMs), "silence",
         {{"last_order_ms", history.last_ms},
          {"orders", history.order_ms.size()},
          {"median_interval_days", median_gap_days},
          {"silence_multiple", settings_.silence_multiple},
          {"silent_days", std::round(silent_days)}});
  }
  transaction.commit();
  assess(as_of_ms, unified, histories, counts);
  return counts;
}

// Reasons, value and eligibility of every lost customer not recovered, and mass churn.
void LostCustomers::assess(std::int64_t as_of_ms, const UnifiedCustomers& unified,
                           const std::map<std::int64_t, History>& histories, ChurnDetection& counts) {
  Database& db = store_.database();
  const auto owner_of = [&](std::int64_t row) { return unified.of(row); };
  struct Lost {
    std::int64_t churn_date_ms = 0;
    std::string reason;
    std::string reason_source;
    std::vector<std::string> texts;
    int open_complaints = 0;
    std::string owner_left;
  };
  std::map<std::int64_t, Lost> lost;
  {
    Statement query = db.prepare(
        "SELECT customer_id, churn_date_ms, coalesce(reason, ''), coalesce(reason_source, '') FROM lost_customers "
        "WHERE recovered_ms IS NULL");
    while (query.step()) {
      Lost& entry = lost[query.column_int64(0)];
      entry.churn_date_ms = query.column_int64(1);
      entry.reason = query.column_text(2);
      entry.reason_source = query.column_text(3);
    }
  }
  if (lost.empty()) {
    return;
  }
  // Revenue per customer for value and ABC classes (over everyone, as of the date).
  std::map<std::int64_t, double> revenue;
  for (const auto& [customer, history] : histories) {
    revenue[customer] = history.revenue;
  }
  {
    Statement interactions = db.prepare(
        "SELECT customer_id, coalesce(subject, '') || ' ' || coalesce(keywords, '') FROM interactions WHERE "
        "customer_id IS NOT NULL AND occurred_at_ms < ?1");
    interactions.bind(1, as_of_ms);
    while (interactions.step()) {
      if (const auto found = lost.find(owner_of(interactions.column_int64(0))); found != lost.end()) {
        found->second.texts.push_back(interactions.column_text(1));
      }
    }
    Statement complaints = db.prepare(
        "SELECT customer_id FROM tickets WHERE customer_id IS NOT NULL AND coalesce(is_complaint, 0) = 1 AND "
        "opened_at_ms < ?1 AND (resolved_at_ms IS NULL OR resolved_at_ms >= ?1)");
    complaints.bind(1, as_of_ms);
    while (complaints.step()) {
      if (const auto found = lost.find(owner_of(complaints.column_int64(0))); found != lost.end()) {
        ++found->second.open_complaints;
      }
    }
    Statement owners = db.prepare(
        "SELECT customer_id, coalesce(detail, '') FROM activities WHERE customer_id IS NOT NULL AND kind = "
        "'owner_left' AND occurred_at_ms < ?1");
    owners.bind(1, as_of_ms);
    while (owners.step()) {
      if (const auto found = lost.find(owner_of(owners.column_int64(0))); found != lost.end()) {
        found->second.owner_left = owners.column_text(1);
      }
    }
  }
  // ABC classes on the revenue of each customer's whole history before the date (what a lost
  // customer was worth), by the host's one rule and shares (scoring/value_class.hpp).
  std::unordered_map<std::int64_t, std::string> abc;
  {
    std::vector<double> amounts;
    amounts.reserve(revenue.size());
    for (const auto& [customer, amount] : revenue) {
      amounts.push_back(amount);
    }
    const std::vector<double> shares = revenue_share_above(amounts);
    std::size_t at = 0;
    for (const auto& [customer, amount] : revenue) {
      abc[customer] = value_class(shares[at++], settings_.value_classes);
    }
  }
  // The scorers' purchases in a year while a customer (BG/NBD), from the latest scoring run.
  std::unordered_map<std::int64_t, double> purchases_per_year;
  {
    Statement query = db.prepare(
        "SELECT customer_id, purchases_per_year FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs) "
        "AND purchases_per_year IS NOT NULL");
    while (query.step()) {
      purchases_per_year[query.column_int64(0)] = query.column_double(1);
    }
  }
  std::set<std::int64_t> do_not_contact;
  {
    Statement query = db.prepare("SELECT customer_id FROM do_not_contact");
    while (query.step()) {
      do_not_contact.insert(query.column_int64(0));
    }
  }

  Transaction transaction(db);
  Statement update = db.prepare(
      "UPDATE lost_customers SET reason = ?1, reason_source = ?2, reason_evidence = coalesce(?3, reason_evidence), "
      "expected_value = ?4, abc_class = ?5, eligible = ?6, exclusion = ?7 WHERE customer_id = ?8");
  std::map<std::pair<std::string, std::int64_t>, std::vector<std::int64_t>> by_reason_period;
  const auto period_ms = static_cast<std::int64_t>(settings_.mass_churn_period_days * kDayMs);
  const History no_orders;
  for (auto& [customer, entry] : lost) {
    const auto found_history = histories.find(customer);
    const History& history = found_history == histories.end() ? no_orders : found_history->second;
    std::optional<std::string> because;
    std::string reason = entry.reason;
    if (entry.reason_source != "person") {
      // Rules on the evidence, the most specific first.
      if (auto found = find_term(entry.texts, settings_.closure_terms)) {
        reason = "forced_to_leave";
        because = std::move(found);
      } else if (!settings_.discontinued_product_lines.empty() && !history.recent_lines.empty() &&
                 std::all_of(history.recent_lines.begin(), history.recent_lines.end(), [&](const std::string& line) {
                   return std::find(settings_.discontinued_product_lines.begin(),
                                    settings_.discontinued_product_lines.end(),
                                    line) != settings_.discontinued_product_lines.end();
                 })) {
        reason = "abandoned_by_us";
        because = "every product line bought last was discontinued by us";
      } else if (auto bribe = find_term(entry.texts, settings_.inducement_terms)) {
        reason = "bought_off";
        because = std::move(bribe);
      } else if (entry.open_complaints > 0) {
        reason = "left_dissatisfied";
        because = fmt::format("{} complaint(s) unresolved", entry.open_complaints);
      } else if (auto competitor = find_term(entry.texts, settings_.competitor_terms)) {
        reason = "attracted_away";
        because = std::move(competitor);
      } else if (!entry.owner_left.empty()) {
        reason = "other";
        because = "the owner of the relationship left: " + entry.owner_left;
      } else {
        reason = "other";
        because = "no rule matched; confirm with `crmhost churn reason`";
      }
    }
    // A recovered customer's yearly revenue: the scorers' purchases per year while a customer
    // times the customer's average order, else the revenue rate of their history.
    const double span_days = std::max(365.0, static_cast<double>(history.last_ms - history.first_ms) / kDayMs);
    double yearly_revenue = history.revenue * (365.0 / span_days);
    if (const auto scored = purchases_per_year.find(customer);
        scored != purchases_per_year.end() && !history.order_ms.empty()) {
      yearly_revenue = scored->second * history.revenue / static_cast<double>(history.order_ms.size());
    }
    const double expected_value = yearly_revenue * settings_.margin * settings_.value_horizon_years;
    std::string exclusion;
    if (std::find(settings_.excluded_reasons.begin(), settings_.excluded_reasons.end(), reason) !=
        settings_.excluded_reasons.end()) {
      exclusion = "reason '" + reason + "' is not pursued";
    } else if (do_not_contact.count(customer) != 0) {
      exclusion = "on the do-not-contact list";
    }
    by_reason_period[{reason, entry.churn_date_ms / period_ms}].push_back(customer);
    ++counts.by_reason[reason];
    if (!exclusion.empty()) {
      ++counts.exclusions[exclusion];
    }
    update.bind(1, reason).bind(2, std::string_view(entry.reason_source == "person" ? "person" : "rule"));
    if (because) {
      update.bind(3, *because);
    } else {
      update.bind_null(3);
    }
    const auto abc_class = abc.find(customer);
    update.bind(4, expected_value)
        .bind(5, abc_class == abc.end() ? std::string("C") : abc_class->second)
        .bind(6, static_cast<std::int64_t>(exclusion.empty() ? 1 : 0))
        .bind(7, exclusion)
        .bind(8, customer)
        .run();
  }
  // Mass churn: one strategic alert for a reason's losses in a period, not N campaigns.
  const double active_customers = static_cast<double>(std::max<std::size_t>(revenue.size(), 1));
  Statement event = db.prepare(
      "INSERT INTO mass_churn_events(reason, period_start_ms, lost_count, rate) VALUES (?1, ?2, ?3, ?4) ON "
      "CONFLICT(reason, period_start_ms) DO UPDATE SET lost_count = excluded.lost_count, rate = excluded.rate "
      "RETURNING id, alert_id");
  Statement exclude = db.prepare(
      "UPDATE lost_customers SET eligible = 0, exclusion = ?1, mass_churn_event = ?2 WHERE customer_id = ?3");
  std::vector<std::pair<std::int64_t, std::string>> new_events;  // id, description
  for (const auto& [key, customers] : by_reason_period) {
    const auto& [reason, period] = key;
    const double rate = static_cast<double>(customers.size()) / active_customers;
    const auto count = static_cast<int>(customers.size());
    if (count < settings_.mass_churn_count &&
        (rate < settings_.mass_churn_rate || count < settings_.mass_churn_min_count)) {
      continue;
    }
    event.bind(1, reason)
        .bind(2, period * period_ms)
        .bind(3, static_cast<std::int64_t>(customers.size()))
        .bind(4, rate);
    event.step();
    const std::int64_t event_id = event.column_int64(0);
    const bool alerted = !event.column_is_null(1);
    event.reset();
    ++counts.mass_churn_events;
    const std::string exclusion =
        fmt::format("mass churn event {}: a strategic response, not one-by-one offers", event_id);
    for (const std::int64_t customer : customers) {
      exclude.bind(1, exclusion).bind(2, event_id).bind(3, customer).run();
    }
    counts.exclusions[fmt::format("mass churn ({})", reason)] += customers.size();
    if (!alerted) {
      new_events.emplace_back(
          event_id, fmt::format("{} customers ({:.1f} % of {}) lost for '{}' in the {} days "
                                "from the period starting day {}",
                                customers.size(), rate * 100.0, static_cast<std::int64_t>(active_customers), reason,
                                settings_.mass_churn_period_days, period * period_ms / 86'400'000));
    }
  }
  {
    Statement eligible = db.prepare("SELECT count(*) FROM lost_customers WHERE recovered_ms IS NULL AND eligible = 1");
    eligible.step();
    counts.eligible = static_cast<std::size_t>(eligible.column_int64(0));
  }
  transaction.commit();
  for (const auto& [event_id, description] : new_events) {
    logger_.log(LogLevel::warn, "winback", "mass churn: " + description);
    if (alerts_ != nullptr) {
      const std::int64_t alert_id =
          alerts_->raise_strategic(fmt::format("mass_churn:{}", event_id), "[mass churn] " + description,
                                   description +
                                       ". Respond with a programme for the cause (quality, complaint "
                                       "handling), not with offers to each customer.");
      db.prepare("UPDATE mass_churn_events SET alert_id = ?1 WHERE id = ?2").bind(1, alert_id).bind(2, event_id).run();
      ++counts.strategic_alerts_raised;
    }
  }
}

void LostCustomers::mark(std::int64_t customer_id, std::int64_t churn_date_ms, const std::string& note,
                         const std::string& by) {
  store_.database()
      .prepare(
          "INSERT INTO lost_customers(customer_id, churn_date_ms, detected_ms, method, evidence) VALUES (?1, ?2, ?3, "
          "'mark', ?4) ON CONFLICT(customer_id) DO UPDATE SET churn_date_ms = excluded.churn_date_ms, method = "
          "'mark', evidence = excluded.evidence, recovered_ms = NULL")
      .bind(1, customer_id)
      .bind(2, churn_date_ms)
      .bind(3, clock_.now_ms())
      .bind(4, nlohmann::json{{"marked_by", by}, {"note", note}}.dump())
      .run();
}

bool LostCustomers::set_reason(std::int64_t customer_id, const std::string& reason, const std::string& note,
                               const std::string& by) {
  const auto& codes = churn_reason_codes();
  if (std::find(codes.begin(), codes.end(), reason) == codes.end()) {
    throw std::invalid_argument(fmt::format("unknown reason '{}'; one of: {}", reason, fmt::join(codes, ", ")));
  }
  std::string exclusion;
  if (std::find(settings_.excluded_reasons.begin(), settings_.excluded_reasons.end(), reason) !=
      settings_.excluded_reasons.end()) {
    exclusion = "reason '" + reason + "' is not pursued";
  }
  store_.database()
      .prepare(
          "UPDATE lost_customers SET reason = ?1, reason_source = 'person', reason_note = ?2, reason_by = ?3, "
          "eligible = CASE WHEN ?4 = '' AND coalesce(exclusion, '') NOT LIKE 'mass churn%' AND coalesce(exclusion, "
          "'') != 'on the do-not-contact list' THEN 1 ELSE 0 END, exclusion = CASE WHEN ?4 != '' THEN ?4 WHEN "
          "coalesce(exclusion, '') LIKE 'reason %' THEN '' ELSE exclusion END WHERE customer_id = ?5")
      .bind(1, reason)
      .bind(2, note)
      .bind(3, by)
      .bind(4, exclusion)
      .bind(5, customer_id)
      .run();
  return store_.database().changes() > 0;
}

std::vector<RootCause> LostCustomers::root_causes() {
  const auto normalised = [](const std::string& text) {
    std::string key;
    for (const char c : text) {
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        if (!key.empty() && key.back() != ' ') {
          key += ' ';
        }
      } else {
        key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    while (!key.empty() && (key.back() == ' ' || key.back() == '.')) {
      key.pop_back();
    }
    return key;
  };
  std::map<std::string, RootCause> causes;
  Statement query = store_.database().prepare(
      "SELECT customer_id, json_extract(why_chain, '$[#-1]'), coalesce(reason, 'other'), coalesce(expected_value, 0) "
      "FROM lost_customers WHERE json_array_length(why_chain) > 0 ORDER BY customer_id");
  while (query.step()) {
    const std::string last = query.column_text(1);
    RootCause& cause = causes[normalised(last)];
    if (cause.cause.empty()) {
      cause.cause = last;
    }
    cause.customers.push_back(query.column_int64(0));
    ++cause.by_reason[query.column_text(2)];
    cause.expected_value += query.column_double(3);
  }
  std::vector<RootCause> sorted;
  sorted.reserve(causes.size());
  for (auto& [key, cause] : causes) {
    sorted.push_back(std::move(cause));
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const RootCause& a, const RootCause& b) { return a.customers.size() > b.customers.size(); });
  return sorted;
}

bool LostCustomers::add_why(std::int64_t customer_id, const std::string& why) {
  store_.database()
      .prepare("UPDATE lost_customers SET why_chain = json_insert(why_chain, '$[#]', ?1) WHERE customer_id = ?2")
      .bind(1, why)
      .bind(2, customer_id)
      .run();
  return store_.database().changes() > 0;
}

std::vector<LostCustomer> LostCustomers::list(bool eligible_only) {
  return query(eligible_only, std::nullopt);
}

std::optional<LostCustomer> LostCustomers::find(std::int64_t customer_id) {
  std::vector<LostCustomer> rows = query(false, customer_id);
  return rows.empty() ? std::nullopt : std::optional<LostCustomer>(std::move(rows.front()));
}

std::vector<LostCustomer> LostCustomers::query(bool eligible_only, std::optional<std::int64_t> customer_id) {
  std::vector<LostCustomer> rows;
  Statement query = store_.database().prepare(
      "SELECT l.customer_id, coalesce(c.name, ''), l.churn_date_ms, l.method, l.evidence, coalesce(l.reason, ''), "
      "coalesce(l.reason_source, ''), coalesce(l.reason_evidence, ''), coalesce(l.reason_note, ''), l.why_chain, "
      "coalesce(l.expected_value, 0), coalesce(l.abc_class, ''), l.eligible, coalesce(l.exclusion, ''), "
      "l.recovered_ms FROM lost_customers l LEFT JOIN customers c ON c.id = l.customer_id WHERE (?1 = 0 OR "
      "(l.eligible = 1 AND l.recovered_ms IS NULL)) AND (?2 IS NULL OR l.customer_id = ?2) ORDER BY l.customer_id");
  query.bind(1, static_cast<std::int64_t>(eligible_only ? 1 : 0));
  if (customer_id) {
    query.bind(2, *customer_id);
  } else {
    query.bind_null(2);
  }
  while (query.step()) {
    LostCustomer row;
    row.customer_id = query.column_int64(0);
    row.name = query.column_text(1);
    row.churn_date_ms = query.column_int64(2);
    row.method = query.column_text(3);
    row.evidence = query.column_text(4);
    row.reason = query.column_text(5);
    row.reason_source = query.column_text(6);
    row.reason_evidence = query.column_text(7);
    row.reason_note = query.column_text(8);
    row.why_chain = nlohmann::json::parse(query.column_text(9)).get<std::vector<std::string>>();
    row.expected_value = query.column_double(10);
    row.abc_class = query.column_text(11);
    row.eligible = query.column_int64(12) != 0;
    row.exclusion = query.column_text(13);
    if (!query.column_is_null(14)) {
      row.recovered_ms = query.column_int64(14);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace crm::host
