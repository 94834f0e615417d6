#include "store/lost_customer_repository.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace crm::host {

std::vector<OpenLoss> LostCustomerRepository::open_losses() {
  std::vector<OpenLoss> losses;
  Statement query = db_.prepare(
      "SELECT customer_id, churn_date_ms, coalesce(reason, ''), coalesce(reason_source, '') FROM lost_customers "
      "WHERE recovered_ms IS NULL ORDER BY customer_id");
  while (query.step()) {
    losses.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3)});
  }
  return losses;
}

void LostCustomerRepository::record_detected(const DetectedLoss& loss) {
  if (!record_detected_) {
    record_detected_.emplace(db_.prepare(
        "INSERT INTO lost_customers(customer_id, churn_date_ms, detected_ms, method, evidence) VALUES (?1, ?2, ?3, "
        "?4, ?5) ON CONFLICT (customer_id) DO UPDATE SET churn_date_ms = excluded.churn_date_ms, detected_ms = "
        "excluded.detected_ms, method = excluded.method, evidence = excluded.evidence, recovered_ms = NULL, reason = "
        "CASE WHEN lost_customers.reason_source = 'person' THEN lost_customers.reason ELSE NULL END"));
  }
  record_detected_->bind(1, loss.customer_id)
      .bind(2, loss.churn_date_ms)
      .bind(3, loss.detected_ms)
      .bind(4, loss.method)
      .bind(5, loss.evidence_json)
      .run();
}

void LostCustomerRepository::mark_recovered(std::int64_t customer_id, std::int64_t recovered_ms) {
  if (!mark_recovered_) {
    mark_recovered_.emplace(db_.prepare("UPDATE lost_customers SET recovered_ms = ?1 WHERE customer_id = ?2"));
  }
  mark_recovered_->bind(1, recovered_ms).bind(2, customer_id).run();
}

void LostCustomerRepository::record_mark(std::int64_t customer_id, std::int64_t churn_date_ms, std::int64_t detected_ms,
                                         const std::string& evidence_json) {
  db_.prepare(
         "INSERT INTO lost_customers(customer_id, churn_date_ms, detected_ms, method, evidence) VALUES (?1, ?2, ?3, "
         "'mark', ?4) ON CONFLICT (customer_id) DO UPDATE SET churn_date_ms = excluded.churn_date_ms, method = "
         "'mark', evidence = excluded.evidence, recovered_ms = NULL")
      .bind(1, customer_id)
      .bind(2, churn_date_ms)
      .bind(3, detected_ms)
      .bind(4, evidence_json)
      .run();
}

void LostCustomerRepository::save_assessment(const LossAssessment& assessment) {
  if (!save_assessment_) {
    save_assessment_.emplace(db_.prepare(
        "UPDATE lost_customers SET reason = ?1, reason_source = ?2, reason_evidence = coalesce(CAST(?3 AS TEXT), "
        "reason_evidence), expected_value = ?4, abc_class = ?5, eligible = ?6, exclusion = ?7 WHERE customer_id = "
        "?8"));
  }
  Statement& update = *save_assessment_;
  update.bind(1, assessment.reason).bind(2, assessment.reason_source);
  if (assessment.reason_evidence) {
    update.bind(3, *assessment.reason_evidence);
  } else {
    update.bind_null(3);
  }
  update.bind(4, assessment.expected_value)
      .bind(5, assessment.abc_class)
      .bind(6, static_cast<std::int64_t>(assessment.eligible ? 1 : 0))
      .bind(7, assessment.exclusion)
      .bind(8, assessment.customer_id)
      .run();
}

MassChurnEvent LostCustomerRepository::upsert_mass_churn_event(const std::string& reason, std::int64_t period_start_ms,
                                                               std::int64_t lost_count, double rate) {
  if (!upsert_event_) {
    upsert_event_.emplace(db_.prepare(
        "INSERT INTO mass_churn_events(reason, period_start_ms, lost_count, rate) VALUES (?1, ?2, ?3, ?4) ON CONFLICT "
        "(reason, period_start_ms) DO UPDATE SET lost_count = excluded.lost_count, rate = excluded.rate RETURNING "
        "id, alert_id"));
  }
  Statement& event = *upsert_event_;
  event.bind(1, reason).bind(2, period_start_ms).bind(3, lost_count).bind(4, rate);
  event.step();
  const MassChurnEvent stored{event.column_int64(0), !event.column_is_null(1)};
  event.reset();
  return stored;
}

void LostCustomerRepository::exclude_for_mass_churn(std::int64_t customer_id, std::int64_t event_id,
                                                    const std::string& exclusion) {
  if (!exclude_) {
    exclude_.emplace(db_.prepare(
        "UPDATE lost_customers SET eligible = 0, exclusion = ?1, mass_churn_event = ?2 WHERE customer_id = ?3"));
  }
  exclude_->bind(1, exclusion).bind(2, event_id).bind(3, customer_id).run();
}

void LostCustomerRepository::set_mass_churn_alert(std::int64_t event_id, std::int64_t alert_id) {
  db_.prepare("UPDATE mass_churn_events SET alert_id = ?1 WHERE id = ?2").bind(1, alert_id).bind(2, event_id).run();
}

std::size_t LostCustomerRepository::count_eligible() {
  Statement count = db_.prepare("SELECT count(*) FROM lost_customers WHERE recovered_ms IS NULL AND eligible = 1");
  count.step();
  return static_cast<std::size_t>(count.column_int64(0));
}

bool LostCustomerRepository::set_reason_by_person(std::int64_t customer_id, const std::string& reason,
                                                  const std::string& note, const std::string& by,
                                                  const std::string& exclusion) {
  // A reason not pursued excludes; a pursued one lifts only a reason's exclusion, not mass churn's or the list's.
  db_.prepare(
         "UPDATE lost_customers SET reason = ?1, reason_source = 'person', reason_note = ?2, reason_by = ?3, "
         "eligible = CASE WHEN CAST(?4 AS TEXT) = '' AND coalesce(exclusion, '') NOT LIKE 'mass churn%' AND "
         "coalesce(exclusion, '') != 'on the do-not-contact list' THEN 1 ELSE 0 END, exclusion = CASE WHEN CAST(?4 "
         "AS TEXT) != '' THEN CAST(?4 AS TEXT) WHEN coalesce(exclusion, '') LIKE 'reason %' THEN '' ELSE exclusion "
         "END WHERE customer_id = ?5")
      .bind(1, reason)
      .bind(2, note)
      .bind(3, by)
      .bind(4, exclusion)
      .bind(5, customer_id)
      .run();
  return db_.changes() > 0;
}

bool LostCustomerRepository::append_why(std::int64_t customer_id, const std::string& why) {
  // The chain is a JSON array of text; it is extended here rather than with a backend's JSON functions.
  Statement read = db_.prepare("SELECT why_chain FROM lost_customers WHERE customer_id = ?1");
  read.bind(1, customer_id);
  if (!read.step()) {
    return false;
  }
  nlohmann::json chain = nlohmann::json::parse(read.column_view(0));
  read.reset();
  chain.push_back(why);
  db_.prepare("UPDATE lost_customers SET why_chain = ?1 WHERE customer_id = ?2")
      .bind(1, chain.dump())
      .bind(2, customer_id)
      .run();
  return db_.changes() > 0;
}

std::vector<WhyChainEnd> LostCustomerRepository::why_chain_ends() {
  std::vector<WhyChainEnd> ends;
  Statement query = db_.prepare(
      "SELECT customer_id, why_chain, coalesce(reason, 'other'), coalesce(expected_value, 0) FROM lost_customers "
      "WHERE why_chain != '[]' ORDER BY customer_id");
  while (query.step()) {
    const nlohmann::json chain = nlohmann::json::parse(query.column_view(1));
    if (!chain.is_array() || chain.empty()) {
      continue;
    }
    const nlohmann::json& last = chain.back();
    ends.push_back({query.column_int64(0), last.is_string() ? last.get<std::string>() : last.dump(),
                    query.column_text(2), query.column_double(3)});
  }
  return ends;
}

std::vector<LostCustomer> LostCustomerRepository::list(bool eligible_only, std::optional<std::int64_t> customer_id) {
  std::vector<LostCustomer> rows;
  // One customer's row is a key lookup (the customer 360 view reads it on every request); "?2 IS NULL OR
  // customer_id = ?2" would scan the table.
  Statement query = db_.prepare(fmt::format(
      "SELECT l.customer_id, coalesce(c.name, ''), l.churn_date_ms, l.method, l.evidence, coalesce(l.reason, ''), "
      "coalesce(l.reason_source, ''), coalesce(l.reason_evidence, ''), coalesce(l.reason_note, ''), l.why_chain, "
      "coalesce(l.expected_value, 0), coalesce(l.abc_class, ''), l.eligible, coalesce(l.exclusion, ''), "
      "l.recovered_ms FROM lost_customers l LEFT JOIN customers c ON c.id = l.customer_id WHERE (CAST(?1 AS BIGINT) "
      "= 0 OR (l.eligible = 1 AND l.recovered_ms IS NULL)) AND {} ORDER BY l.customer_id",
      customer_id ? "l.customer_id = ?2" : "CAST(?2 AS BIGINT) IS NULL"));
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
    row.why_chain = nlohmann::json::parse(query.column_view(9)).get<std::vector<std::string>>();
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

std::set<std::int64_t> LostCustomerRepository::do_not_contact_ids() {
  std::set<std::int64_t> ids;
  Statement query = db_.prepare("SELECT customer_id FROM do_not_contact");
  while (query.step()) {
    ids.insert(query.column_int64(0));
  }
  return ids;
}

}  // namespace crm::host
