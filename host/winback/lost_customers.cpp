#include "winback/lost_customers.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "scoring/value_class.hpp"
#include "store/customer_history_repository.hpp"
#include "store/score_run_repository.hpp"
#include "winback/churn_rules.hpp"

namespace crm::host {
namespace {

constexpr double kDayMs = 86'400'000.0;

}  // namespace

// A customer's orders before the date, from one scan of the orders table.
struct LostCustomers::History : PurchaseHistory {};

UnifiedCustomers::UnifiedCustomers(Database& db) {
  RowScan<CustomerLinkRow> links = CustomerHistoryRepository(db).scan_unified_links();
  for (CustomerLinkRow link; links.next(link);) {
    unified_[link.id] = link.unified_id;
  }
}

LostCustomers::LostCustomers(Store& store, AlertEngine* alerts, Logger& logger, const Clock& clock,
                             WinbackSettings settings)
    : store_(store), alerts_(alerts), logger_(logger), clock_(clock), settings_(std::move(settings)) {}

ChurnDetection LostCustomers::detect(std::int64_t as_of_ms) {
  ChurnDetection counts;
  Database& db = store_.database();
  CustomerHistoryRepository records(db);
  const UnifiedCustomers unified(db);
  std::map<std::int64_t, History> histories;
  {
    RowScan<PurchaseRow> purchases = records.scan_purchases_in_time_order_before(as_of_ms);
    for (PurchaseRow purchase; purchases.next(purchase);) {
      histories[unified.of(purchase.customer_id)].add(purchase.ordered_at_ms, purchase.amount, purchase.product_line);
    }
  }
  std::map<std::int64_t, DeclaredChurn> evidence;
  {
    RowScan<AttributeRow> attributes = records.scan_churn_attributes();
    for (AttributeRow attribute; attributes.next(attribute);) {
      evidence[unified.of(attribute.customer_id)].add_attribute(attribute.name, std::string(attribute.value));
    }
  }

  Transaction transaction(db);
  LostCustomerRepository lost(db);
  std::map<std::int64_t, std::int64_t> previous;  // customer -> churn date, of the lost not recovered
  for (const OpenLoss& loss : lost.open_losses()) {
    previous[loss.customer_id] = loss.churn_date_ms;
  }
  for (const auto& [customer, history] : histories) {
    ++counts.customers_examined;
    if (const auto was = previous.find(customer); was != previous.end() && history.last_ms > was->second) {
      lost.mark_recovered(customer, history.last_ms);  // ordered again after the churn date
      ++counts.recovered;
      previous.erase(was);
      continue;
    }
    const auto declared = evidence.find(customer);
    const std::optional<ChurnFinding> finding =
        find_churn(history, declared == evidence.end() ? nullptr : &declared->second, as_of_ms, settings_);
    if (!finding) {
      continue;
    }
    if (previous.count(customer) != 0) {
      ++counts.still_lost;
      continue;
    }
    lost.record_detected(
        {customer, finding->churn_date_ms, clock_.now_ms(), finding->method, finding->evidence.dump()});
    ++counts.newly_lost;
  }
  transaction.commit();
  assess(as_of_ms, unified, histories, counts);
  return counts;
}

// Reasons, value and eligibility of every lost customer not recovered, and mass churn.
void LostCustomers::assess(std::int64_t as_of_ms, const UnifiedCustomers& unified,
                           const std::map<std::int64_t, History>& histories, ChurnDetection& counts) {
  Database& db = store_.database();
  CustomerHistoryRepository records(db);
  LostCustomerRepository repository(db);
  struct Lost {
    OpenLoss stored;
    ReasonEvidence evidence;
  };
  std::map<std::int64_t, Lost> lost;
  for (OpenLoss& loss : repository.open_losses()) {
    const std::int64_t customer = loss.customer_id;
    lost[customer].stored = std::move(loss);
  }
  if (lost.empty()) {
    return;
  }
  {
    RowScan<InteractionTextRow> interactions = records.scan_interaction_texts_before(as_of_ms);
    for (InteractionTextRow interaction; interactions.next(interaction);) {
      if (const auto found = lost.find(unified.of(interaction.customer_id)); found != lost.end()) {
        found->second.evidence.texts.emplace_back(interaction.text);
      }
    }
    RowScan<TicketRow> complaints = records.scan_open_complaints_at(as_of_ms);
    for (TicketRow complaint; complaints.next(complaint);) {
      if (const auto found = lost.find(unified.of(complaint.customer_id)); found != lost.end()) {
        ++found->second.evidence.open_complaints;
      }
    }
    RowScan<ActivityRow> owners = records.scan_owners_left_before(as_of_ms);
    for (ActivityRow owner; owners.next(owner);) {
      if (const auto found = lost.find(unified.of(owner.customer_id)); found != lost.end()) {
        found->second.evidence.owner_left = owner.detail;
      }
    }
  }
  // ABC classes on the revenue of each customer's whole history before the date (what a lost
  // customer was worth), by the host's one rule and shares (scoring/value_class.hpp).
  std::unordered_map<std::int64_t, std::string> abc;
  {
    std::vector<double> amounts;
    amounts.reserve(histories.size());
    for (const auto& [customer, history] : histories) {
      amounts.push_back(history.revenue);
    }
    const std::vector<double> shares = revenue_share_above(amounts);
    std::size_t at = 0;
    for (const auto& [customer, history] : histories) {
      abc[customer] = value_class(shares[at++], settings_.value_classes);
    }
  }
  // The scorers' purchases in a year while a customer (BG/NBD), from the latest scoring run.
  std::unordered_map<std::int64_t, double> purchases_per_year;
  {
    RowScan<CustomerRateRow> rates = ScoreRunRepository(db).scan_purchases_per_year_of_latest_run();
    for (CustomerRateRow rate; rates.next(rate);) {
      purchases_per_year[rate.customer_id] = rate.purchases_per_year;
    }
  }
  const std::set<std::int64_t> do_not_contact = repository.do_not_contact_ids();

  Transaction transaction(db);
  std::map<std::pair<std::string, std::int64_t>, std::vector<std::int64_t>> by_reason_period;
  const auto period_ms = static_cast<std::int64_t>(settings_.mass_churn_period_days * kDayMs);
  const History no_orders;
  for (auto& [customer, entry] : lost) {
    const auto found_history = histories.find(customer);
    const History& history = found_history == histories.end() ? no_orders : found_history->second;
    const bool by_person = entry.stored.reason_source == "person";
    LossAssessment assessment;
    assessment.customer_id = customer;
    assessment.reason_source = by_person ? "person" : "rule";
    assessment.reason = entry.stored.reason;
    if (!by_person) {
      ProposedReason proposed = propose_reason(entry.evidence, history.recent_lines, settings_);
      assessment.reason = std::move(proposed.reason);
      assessment.reason_evidence = std::move(proposed.because);
    }
    const auto scored = purchases_per_year.find(customer);
    assessment.expected_value = expected_value(
        history, scored == purchases_per_year.end() ? std::nullopt : std::optional<double>(scored->second), settings_);
    assessment.exclusion = exclusion_of(assessment.reason, do_not_contact.count(customer) != 0, settings_);
    assessment.eligible = assessment.exclusion.empty();
    const auto abc_class = abc.find(customer);
    assessment.abc_class = abc_class == abc.end() ? std::string("C") : abc_class->second;
    by_reason_period[{assessment.reason, entry.stored.churn_date_ms / period_ms}].push_back(customer);
    ++counts.by_reason[assessment.reason];
    if (!assessment.exclusion.empty()) {
      ++counts.exclusions[assessment.exclusion];
    }
    repository.save_assessment(assessment);
  }
  // Mass churn: one strategic alert for a reason's losses in a period, not N campaigns.
  const double active_customers = static_cast<double>(std::max<std::size_t>(histories.size(), 1));
  std::vector<std::pair<std::int64_t, std::string>> new_events;  // id, description
  for (const auto& [key, customers] : by_reason_period) {
    const auto& [reason, period] = key;
    const double rate = static_cast<double>(customers.size()) / active_customers;
    if (!is_mass_churn(customers.size(), rate, settings_)) {
      continue;
    }
    const MassChurnEvent event = repository.upsert_mass_churn_event(reason, period * period_ms,
                                                                    static_cast<std::int64_t>(customers.size()), rate);
    ++counts.mass_churn_events;
    const std::string exclusion =
        fmt::format("mass churn event {}: a strategic response, not one-by-one offers", event.id);
    for (const std::int64_t customer : customers) {
      repository.exclude_for_mass_churn(customer, event.id, exclusion);
    }
    counts.exclusions[fmt::format("mass churn ({})", reason)] += customers.size();
    if (!event.alerted) {
      new_events.emplace_back(
          event.id, fmt::format("{} customers ({:.1f} % of {}) lost for '{}' in the {} days "
                                "from the period starting day {}",
                                customers.size(), rate * 100.0, static_cast<std::int64_t>(active_customers), reason,
                                settings_.mass_churn_period_days, period * period_ms / 86'400'000));
    }
  }
  counts.eligible = repository.count_eligible();
  transaction.commit();
  for (const auto& [event_id, description] : new_events) {
    logger_.log(LogLevel::warn, "winback", "mass churn: " + description);
    if (alerts_ != nullptr) {
      const std::int64_t alert_id =
          alerts_->raise_strategic(fmt::format("mass_churn:{}", event_id), "[mass churn] " + description,
                                   description +
                                       ". Respond with a programme for the cause (quality, complaint "
                                       "handling), not with offers to each customer.");
      repository.set_mass_churn_alert(event_id, alert_id);
      ++counts.strategic_alerts_raised;
    }
  }
}

void LostCustomers::mark(std::int64_t customer_id, std::int64_t churn_date_ms, const std::string& note,
                         const std::string& by) {
  LostCustomerRepository(store_.database())
      .record_mark(customer_id, churn_date_ms, clock_.now_ms(),
                   nlohmann::json{{"marked_by", by}, {"note", note}}.dump());
}

bool LostCustomers::set_reason(std::int64_t customer_id, const std::string& reason, const std::string& note,
                               const std::string& by) {
  const auto& codes = churn_reason_codes();
  if (std::find(codes.begin(), codes.end(), reason) == codes.end()) {
    throw std::invalid_argument(fmt::format("unknown reason '{}'; one of: {}", reason, fmt::join(codes, ", ")));
  }
  return LostCustomerRepository(store_.database())
      .set_reason_by_person(customer_id, reason, note, by, exclusion_of(reason, false, settings_));
}

std::vector<RootCause> LostCustomers::root_causes() {
  std::map<std::string, RootCause> causes;
  for (WhyChainEnd& end : LostCustomerRepository(store_.database()).why_chain_ends()) {
    RootCause& cause = causes[root_cause_key(end.last_why)];
    if (cause.cause.empty()) {
      cause.cause = std::move(end.last_why);
    }
    cause.customers.push_back(end.customer_id);
    ++cause.by_reason[end.reason];
    cause.expected_value += end.expected_value;
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
  return LostCustomerRepository(store_.database()).append_why(customer_id, why);
}

std::vector<LostCustomer> LostCustomers::list(bool eligible_only) {
  return query(eligible_only, std::nullopt);
}

std::optional<LostCustomer> LostCustomers::find(std::int64_t customer_id) {
  std::vector<LostCustomer> rows = query(false, customer_id);
  return rows.empty() ? std::nullopt : std::optional<LostCustomer>(std::move(rows.front()));
}

std::vector<LostCustomer> LostCustomers::query(bool eligible_only, std::optional<std::int64_t> customer_id) {
  return LostCustomerRepository(store_.database()).list(eligible_only, customer_id);
}

}  // namespace crm::host
