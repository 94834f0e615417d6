#include "store/campaign_repository.hpp"

#include <algorithm>

#include "store/purchases.hpp"

namespace crm::host {

std::optional<std::int64_t> CampaignRepository::find(std::string_view playbook_id, int playbook_version) {
  Statement query = db_.prepare("SELECT id FROM campaigns WHERE playbook_id = ?1 AND playbook_version = ?2");
  query.bind(1, playbook_id).bind(2, static_cast<std::int64_t>(playbook_version));
  if (query.step()) {
    return query.column_int64(0);
  }
  return std::nullopt;
}

std::int64_t CampaignRepository::insert(const NewCampaign& campaign) {
  Statement insert = db_.prepare(
      "INSERT INTO campaigns(playbook_id, playbook_version, playbook, holdout_fraction, budget, recovery_window_days, "
      "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
  insert.bind(1, campaign.playbook_id)
      .bind(2, static_cast<std::int64_t>(campaign.playbook_version))
      .bind(3, campaign.playbook_json)
      .bind(4, campaign.holdout_fraction)
      .bind(5, campaign.budget)
      .bind(6, campaign.recovery_window_days)
      .bind(7, campaign.created_ms);
  if (!insert.step()) {
    throw SqliteError("inserting a campaign returned no id");
  }
  const std::int64_t id = insert.column_int64(0);
  insert.reset();
  return id;
}

std::vector<StoredCampaign> CampaignRepository::all() {
  std::vector<StoredCampaign> campaigns;
  Statement query = db_.prepare("SELECT id, playbook_id, playbook, coalesce(budget, 0), spent FROM campaigns");
  while (query.step()) {
    campaigns.push_back({query.column_int64(0), query.column_text(1), query.column_text(2), query.column_double(3),
                         query.column_double(4)});
  }
  return campaigns;
}

void CampaignRepository::add_spent(std::int64_t campaign_id, double amount) {
  if (!add_spent_) {
    add_spent_.emplace(db_.prepare("UPDATE campaigns SET spent = spent + ?1 WHERE id = ?2"));
  }
  add_spent_->bind(1, amount).bind(2, campaign_id).run();
}

std::vector<CampaignListing> CampaignRepository::list() {
  std::vector<CampaignListing> rows;
  Statement query =
      db_.prepare("SELECT id, playbook_id, playbook_version, coalesce(budget, 0), spent FROM campaigns ORDER BY id");
  while (query.step()) {
    rows.push_back({query.column_int64(0), query.column_text(1), static_cast<int>(query.column_int64(2)),
                    query.column_double(3), query.column_double(4)});
  }
  return rows;
}

std::optional<CampaignHeader> CampaignRepository::header(std::int64_t campaign_id) {
  Statement query =
      db_.prepare("SELECT playbook_id, playbook_version, recovery_window_days FROM campaigns WHERE id = ?1");
  query.bind(1, campaign_id);
  if (!query.step()) {
    return std::nullopt;
  }
  return CampaignHeader{query.column_text(0), query.column_int64(1), query.column_int64(2)};
}

std::unordered_map<std::int64_t, std::string> CampaignRepository::latest_tiers() {
  std::unordered_map<std::int64_t, std::string> tiers;
  Statement query = db_.prepare(
      "SELECT customer_id, coalesce(tier, '') FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs)");
  while (query.step()) {
    tiers[query.column_int64(0)] = query.column_text(1);
  }
  return tiers;
}

std::map<std::string, std::int64_t> CampaignRepository::messages_queued(std::int64_t from_ms, std::int64_t to_ms) {
  std::map<std::string, std::int64_t> counts;
  // The campaigns' idempotency keys are written in lower case, so LIKE means
  // the same on both backends.
  Statement query = db_.prepare(
      "SELECT channel_id, count(*) FROM outbox WHERE alert_id IS NULL AND created_ms >= ?1 AND created_ms < ?2 AND "
      "idempotency_key LIKE 'crm-winback-%' GROUP BY channel_id");
  query.bind(1, from_ms).bind(2, to_ms);
  while (query.step()) {
    counts[query.column_text(0)] = query.column_int64(1);
  }
  return counts;
}

CampaignFacts CampaignRepository::read_facts(const UnifiedCustomerOf& unified_of) {
  CampaignFacts facts;
  std::int64_t since_ms = 0;
  {
    Statement earliest = db_.prepare("SELECT coalesce(min(enrolled_ms), 0) FROM enrolments WHERE state = 'active'");
    since_ms = earliest.step() ? earliest.column_int64(0) : 0;
  }
  Statement orders = db_.prepare(
      "SELECT customer_id, max(ordered_at_ms) FROM orders WHERE customer_id IS NOT NULL AND ordered_at_ms >= ?1 AND " +
      purchase_condition() + " GROUP BY customer_id");
  orders.bind(1, since_ms);
  while (orders.step()) {
    std::int64_t& last = facts.last_order_ms[unified_of(orders.column_int64(0))];
    last = std::max(last, orders.column_int64(1));
  }
  Statement inbound = db_.prepare(
      "SELECT customer_id, max(occurred_at_ms) FROM interactions WHERE customer_id IS NOT NULL AND direction = "
      "'inbound' AND occurred_at_ms >= ?1 GROUP BY customer_id");
  inbound.bind(1, since_ms);
  while (inbound.step()) {
    std::int64_t& last = facts.last_inbound_ms[unified_of(inbound.column_int64(0))];
    last = std::max(last, inbound.column_int64(1));
  }
  Statement complaints = db_.prepare(
      "SELECT customer_id, count(*) FROM tickets WHERE customer_id IS NOT NULL AND coalesce(is_complaint, 0) = 1 AND "
      "resolved_at_ms IS NULL GROUP BY customer_id");
  while (complaints.step()) {
    facts.open_complaints[unified_of(complaints.column_int64(0))] += static_cast<int>(complaints.column_int64(1));
  }
  // From the narrow score order (migration 17); a run written without it, from its rows.
  Statement bands = db_.prepare(
      "SELECT customer_id, band FROM run_list_by_score WHERE run_id = (SELECT max(id) FROM score_runs) AND band IS "
      "NOT NULL UNION ALL SELECT customer_id, band FROM customer_scores WHERE run_id = (SELECT max(id) FROM "
      "score_runs) AND band IS NOT NULL AND NOT EXISTS (SELECT 1 FROM run_list_by_score WHERE run_id = (SELECT "
      "max(id) FROM score_runs))");
  while (bands.step()) {
    facts.band[bands.column_int64(0)] = bands.column_text(1);
  }
  // The key contact first, then the oldest: the first address and owner seen win.
  Statement contacts = db_.prepare(
      "SELECT customer_id, coalesce(email, ''), coalesce(owner, '') FROM contacts WHERE customer_id IS NOT NULL AND "
      "left_at_ms IS NULL ORDER BY customer_id, coalesce(is_key_contact, 0) DESC, id");
  while (contacts.step()) {
    const std::int64_t customer = unified_of(contacts.column_int64(0));
    if (!contacts.column_text(1).empty()) {
      facts.email.try_emplace(customer, contacts.column_text(1));
    }
    if (!contacts.column_text(2).empty()) {
      facts.account_manager.try_emplace(customer, contacts.column_text(2));
    }
  }
  Statement back = db_.prepare("SELECT customer_id FROM lost_customers WHERE recovered_ms IS NOT NULL");
  while (back.step()) {
    facts.recovered.insert(back.column_int64(0));
  }
  Statement blocked = db_.prepare("SELECT customer_id FROM do_not_contact");
  while (blocked.step()) {
    facts.do_not_contact.insert(blocked.column_int64(0));
  }
  Statement lost = db_.prepare(
      "SELECT l.customer_id, coalesce(c.name, ''), coalesce(l.reason, ''), coalesce(l.expected_value, 0), "
      "l.churn_date_ms FROM lost_customers l LEFT JOIN customers c ON c.id = l.customer_id WHERE l.customer_id IN "
      "(SELECT customer_id FROM enrolments WHERE state = 'active')");
  while (lost.step()) {
    facts.lost[lost.column_int64(0)] = {lost.column_text(1), lost.column_text(2), lost.column_double(3),
                                        lost.column_int64(4)};
  }
  Statement tasks = db_.prepare(
      "SELECT t.enrolment_id, t.state, count(*) FROM tasks t JOIN enrolments e ON e.id = t.enrolment_id WHERE "
      "e.state = 'active' GROUP BY t.enrolment_id, t.state");
  while (tasks.step()) {
    auto& counts = tasks.column_text(1) == "done" ? facts.tasks_done : facts.open_tasks;
    counts[tasks.column_int64(0)] = static_cast<int>(tasks.column_int64(2));
  }
  return facts;
}

void CampaignRepository::for_each_purchase_since(std::int64_t since_ms,
                                                 const std::function<void(const ReportPurchase&)>& visit) {
  Statement orders = db_.prepare(
      "SELECT customer_id, ordered_at_ms, coalesce(amount, 0) FROM orders WHERE customer_id IS NOT NULL AND "
      "ordered_at_ms >= ?1 AND " +
      purchase_condition());
  orders.bind(1, since_ms);
  while (orders.step()) {
    visit({orders.column_int64(0), orders.column_int64(1), orders.column_double(2)});
  }
}

}  // namespace crm::host
