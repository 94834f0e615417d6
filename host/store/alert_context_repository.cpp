#include "store/alert_context_repository.hpp"

#include <fmt/format.h>

#include "store/purchases.hpp"

namespace crm::host {

std::optional<AlertCustomerContext> AlertContextRepository::customer(std::int64_t customer_id, std::int64_t since_ms,
                                                                     std::int64_t until_ms) {
  Statement who = db_.prepare("SELECT coalesce(name, ''), source, external_id FROM customers WHERE id = ?1");
  who.bind(1, customer_id);
  if (!who.step()) {
    return std::nullopt;
  }
  AlertCustomerContext context{
      who.column_text(0), who.column_text(1), who.column_text(2), std::nullopt, "", "", "", {}};
  Statement score = db_.prepare(
      // Run by run, latest date first, each a lookup by the key (migration 18).
      "SELECT s.score, coalesce(s.band, ''), coalesce(s.reasons, ''), coalesce(s.abc_class, '') FROM score_runs r "
      "CROSS JOIN customer_scores s WHERE s.run_id = r.id AND s.customer_id = ?1 AND r.finished_ms IS NOT NULL "
      "ORDER BY r.as_of_ms DESC, r.id DESC LIMIT 1");
  score.bind(1, customer_id);
  if (score.step()) {
    if (!score.column_is_null(0)) {
      context.score = score.column_double(0);
    }
    context.band = score.column_text(1);
    context.reason_codes = score.column_text(2);
    context.abc_class = score.column_text(3);
  }
  // Orders of every record unified into the customer.
  Statement revenue = db_.prepare(fmt::format(
      "SELECT coalesce(o.currency, ''), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id "
      "WHERE coalesce(c.unified_id, c.id) = ?1 AND o.ordered_at_ms >= ?2 AND o.ordered_at_ms <= ?3 AND "
      "o.amount IS NOT NULL AND {} GROUP BY coalesce(o.currency, '') ORDER BY sum(o.amount) DESC, "
      "coalesce(o.currency, '')",
      purchase_condition("o")));
  revenue.bind(1, customer_id).bind(2, since_ms).bind(3, until_ms);
  while (revenue.step()) {
    context.revenue_by_currency.emplace_back(revenue.column_text(0), revenue.column_double(1));
  }
  return context;
}

}  // namespace crm::host
