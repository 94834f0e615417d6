#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// What a metrics scrape reads from the store: figures only the store knows
// and that must be right even when another process (cron's `crmhost run`)
// changed them.
struct StoreGaugeReadings {
  std::vector<std::pair<std::string, std::int64_t>> open_alerts_by_level;  // not acknowledged, by level name
  std::int64_t alerts_past_deadline = 0;  // open (not acknowledged) after their response deadline
  std::int64_t outbox_pending = 0;
  std::int64_t outbox_dead = 0;
};

// Read-only counts for metrics; each a small grouped count over an indexed
// column or a small table. `db` must outlive it; one thread at a time.
class MetricsRepository {
 public:
  explicit MetricsRepository(Database& db) : db_(db) {}

  StoreGaugeReadings read(std::int64_t now_ms);

 private:
  Database& db_;
};

}  // namespace crm::host
