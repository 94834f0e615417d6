#include "store/revival_pool_repository.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace crm::host {
namespace {

// "?first, ?first+1, ..." for a list bound one value per placeholder
// (instead of a JSON array unpacked by the database, which only SQLite can).
std::string placeholders(int first, std::size_t count) {
  std::string text;
  for (std::size_t i = 0; i < count; ++i) {
    text += fmt::format("{}?{}", i == 0 ? "" : ", ", first + static_cast<int>(i));
  }
  return text;
}

}  // namespace

void RevivalPoolRepository::refresh(std::int64_t now_ms, const std::vector<std::string>& excluded_reasons) {
  const std::string not_excluded =
      excluded_reasons.empty()
          ? std::string()
          : fmt::format("coalesce(l.reason, 'other') NOT IN ({}) AND ", placeholders(2, excluded_reasons.size()));
  Statement join = db_.prepare(
      "INSERT INTO revival_pool(customer_id, joined_ms) SELECT l.customer_id, CAST(?1 AS BIGINT) FROM lost_customers "
      "l WHERE l.recovered_ms IS NULL AND " +
      not_excluded +
      "NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.customer_id = l.customer_id AND e.state IN ('active', "
      "'holdout')) ON CONFLICT (customer_id) DO NOTHING");
  join.bind(1, now_ms);
  for (std::size_t i = 0; i < excluded_reasons.size(); ++i) {
    join.bind(2 + static_cast<int>(i), excluded_reasons[i]);
  }
  join.run();
  db_.prepare(
         "DELETE FROM revival_pool WHERE customer_id IN (SELECT customer_id FROM lost_customers WHERE "
         "recovered_ms IS NOT NULL) OR customer_id IN (SELECT customer_id FROM enrolments WHERE state = 'active')")
      .run();
}

std::unordered_map<std::int64_t, std::int64_t> RevivalPoolRepository::latest_activity_ms(
    std::int64_t now_ms, const std::vector<std::string>& kinds, const UnifiedCustomerOf& unified_of) {
  std::unordered_map<std::int64_t, std::int64_t> latest_ms;
  if (kinds.empty()) {
    return latest_ms;
  }
  Statement query = db_.prepare(
      "SELECT customer_id, max(occurred_at_ms) FROM activities WHERE customer_id IS NOT NULL AND occurred_at_ms <= ?1 "
      "AND kind IN (" +
      placeholders(2, kinds.size()) + ") GROUP BY customer_id");
  query.bind(1, now_ms);
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    query.bind(2 + static_cast<int>(i), kinds[i]);
  }
  while (query.step()) {
    std::int64_t& latest = latest_ms[unified_of(query.column_int64(0))];
    latest = std::max(latest, query.column_int64(1));
  }
  return latest_ms;
}

std::vector<RevivalMember> RevivalPoolRepository::members() {
  std::vector<RevivalMember> members;
  Statement query = db_.prepare(
      "SELECT r.customer_id, r.joined_ms, coalesce(r.last_touch_ms, 0), r.touches, coalesce(c.name, ''), "
      "coalesce((SELECT k.email FROM contacts k WHERE k.customer_id = r.customer_id AND k.email IS NOT NULL AND "
      "k.left_at_ms IS NULL ORDER BY coalesce(k.is_key_contact, 0) DESC, k.id LIMIT 1), '') FROM revival_pool r "
      "LEFT JOIN customers c ON c.id = r.customer_id WHERE r.customer_id NOT IN (SELECT customer_id FROM "
      "do_not_contact) ORDER BY r.customer_id");
  while (query.step()) {
    members.push_back({query.column_int64(0), query.column_int64(1), query.column_int64(2), query.column_int64(3),
                       query.column_text(4), query.column_text(5)});
  }
  return members;
}

void RevivalPoolRepository::touched(std::int64_t customer_id, std::int64_t touches, std::int64_t now_ms) {
  if (!touched_) {
    touched_.emplace(db_.prepare(
        "UPDATE revival_pool SET last_touch_ms = ?1, touches = touches + 1 WHERE customer_id = ?2 AND touches = ?3"));
  }
  touched_->bind(1, now_ms).bind(2, customer_id).bind(3, touches).run();
}

}  // namespace crm::host
