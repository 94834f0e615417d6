#include "store/service_job_repository.hpp"

namespace crm::host {

std::vector<ServiceJobRow> ServiceJobRepository::list() {
  Statement query = db_.prepare(
      "SELECT job_id, started_ms, finished_ms, outcome, duration_ms, coalesce(counts_json, ''), coalesce(message, '') "
      "FROM service_jobs ORDER BY job_id");
  std::vector<ServiceJobRow> rows;
  while (query.step()) {
    ServiceJobRow row;
    row.job_id = query.column_text(0);
    row.started_ms = query.column_int64(1);
    if (!query.column_is_null(2)) {
      row.finished_ms = query.column_int64(2);
    }
    row.outcome = query.column_text(3);
    if (!query.column_is_null(4)) {
      row.duration_ms = query.column_int64(4);
    }
    row.counts_json = query.column_text(5);
    row.message = query.column_text(6);
    rows.push_back(std::move(row));
  }
  return rows;
}

void ServiceJobRepository::save(const ServiceJobRow& row) {
  Statement upsert = db_.prepare(
      "INSERT INTO service_jobs(job_id, started_ms, finished_ms, outcome, duration_ms, counts_json, message) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (job_id) DO UPDATE SET started_ms = excluded.started_ms, "
      "finished_ms = excluded.finished_ms, outcome = excluded.outcome, duration_ms = excluded.duration_ms, "
      "counts_json = excluded.counts_json, message = excluded.message");
  upsert.bind(1, row.job_id);
  upsert.bind(2, row.started_ms);
  if (row.finished_ms) {
    upsert.bind(3, *row.finished_ms);
  } else {
    upsert.bind_null(3);
  }
  upsert.bind(4, row.outcome);
  if (row.duration_ms) {
    upsert.bind(5, *row.duration_ms);
  } else {
    upsert.bind_null(5);
  }
  if (row.counts_json.empty()) {
    upsert.bind_null(6);
  } else {
    upsert.bind(6, row.counts_json);
  }
  if (row.message.empty()) {
    upsert.bind_null(7);
  } else {
    upsert.bind(7, row.message);
  }
  upsert.run();
}

}  // namespace crm::host
