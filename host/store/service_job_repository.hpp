#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// The last run of one job of crmhost serve's scheduler.
struct ServiceJobRow {
  std::string job_id;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> finished_ms;  // nullopt while running (or cut short)
  std::string outcome;                      // ok, failed, skipped, running
  std::optional<std::int64_t> duration_ms;
  std::string counts_json;  // the job's counts ("" when none)
  std::string message;      // why it failed or was skipped ("" when ok)
};

// service_jobs: one row per job, its last run. Holds a borrowed connection.
class ServiceJobRepository {
 public:
  explicit ServiceJobRepository(Database& db) : db_(db) {}

  // Every job's last run, by job id.
  std::vector<ServiceJobRow> list();
  // Replaces the job's last run with `row`.
  void save(const ServiceJobRow& row);

 private:
  Database& db_;
};

}  // namespace crm::host
