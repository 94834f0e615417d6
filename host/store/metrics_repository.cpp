#include "store/metrics_repository.hpp"

namespace crm::host {

StoreGaugeReadings MetricsRepository::read(std::int64_t now_ms) {
  StoreGaugeReadings readings;
  Statement levels =
      db_.prepare("SELECT level, count(*) FROM alerts WHERE state = 'open' GROUP BY level ORDER BY level");
  while (levels.step()) {
    readings.open_alerts_by_level.emplace_back(levels.column_text(0), levels.column_int64(1));
  }
  Statement overdue =
      db_.prepare("SELECT count(*) FROM alerts WHERE state = 'open' AND deadline_ms IS NOT NULL AND deadline_ms < ?1");
  overdue.bind(1, now_ms);
  if (overdue.step()) {
    readings.alerts_past_deadline = overdue.column_int64(0);
  }
  Statement outbox = db_.prepare(
      "SELECT state, count(*) FROM outbox WHERE state IN ('pending', 'dead') GROUP BY state ORDER BY state");
  while (outbox.step()) {
    (outbox.column_text(0) == "dead" ? readings.outbox_dead : readings.outbox_pending) = outbox.column_int64(1);
  }
  return readings;
}

}  // namespace crm::host
