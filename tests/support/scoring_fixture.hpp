#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace crm::host::testing {

// One customer's line of a scoring run, as the scorers would have stored it.
struct ScoredCustomer {
  std::int64_t customer = 0;
  std::string band;
  std::string reasons;  // comma-separated reason codes
  double score = 0;
};

// Stores a scoring run as of `as_of_ms` with these customers; returns its id,
// for AlertEngine::evaluate.
inline std::int64_t insert_scoring_run(Store& store, std::int64_t as_of_ms,
                                       const std::vector<ScoredCustomer>& customers) {
  Database& db = store.database();
  Transaction transaction(db);
  Statement run =
      db.prepare("INSERT INTO score_runs(as_of_ms, started_ms, finished_ms) VALUES (?1, ?1, ?1) RETURNING id");
  run.bind(1, as_of_ms).step();
  const std::int64_t run_id = run.column_int64(0);
  run.reset();
  Statement insert =
      db.prepare("INSERT INTO customer_scores(run_id, customer_id, score, band, reasons) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const ScoredCustomer& line : customers) {
    insert.bind(1, run_id).bind(2, line.customer).bind(3, line.score).bind(4, line.band).bind(5, line.reasons).run();
  }
  transaction.commit();
  return run_id;
}

}  // namespace crm::host::testing
