#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "loader/plugin_host.hpp"
#include "store/record_writer.hpp"
#include "store/store.hpp"

namespace crm::host {

struct SyncSummary {
  std::string connector_id;
  std::string status;  // "ok", "failed", "cancelled"
  std::string message;
  std::uint64_t batches = 0;
  std::uint64_t source_records = 0;  // read from the source, bad ones included
  std::uint64_t fetched = 0;         // records handed to the store
  WriteCounts counts;
  std::uint64_t quarantined = 0;
  std::string cursor;
  std::int64_t duration_ms = 0;
  // Failed because its plugin was disabled for the run (its worker failed too often): the run
  // went on without it, as without a refused plugin (exit 4, not 5).
  bool plugin_disabled = false;

  // Read but neither stored nor quarantined: left out by a connector's own rule.
  [[nodiscard]] std::uint64_t skipped() const {
    return source_records - std::min(source_records, fetched + quarantined);
  }
};

struct SyncOptions {
  std::vector<MatchKey> match_keys = {MatchKey::tax_id, MatchKey::email_domain};
  // A fetch that fails with a retriable status is retried this many times in
  // all, waiting initial_backoff_ms, doubling up to max_backoff_ms, each wait
  // drawn at random between half and all of it (jitter): core/retry_policy.hpp.
  int max_attempts = 5;
  std::int64_t initial_backoff_ms = 500;
  std::int64_t max_backoff_ms = 30'000;
  // Waits; the default sleeps in short slices and returns early on cancellation.
  std::function<void(std::int64_t wait_ms)> sleep;
  // Called after every committed batch.
  std::function<void(const SyncSummary& progress)> on_progress;
};

struct RetrySummary {
  std::uint64_t released = 0;     // re-processed into the store
  std::uint64_t still_bad = 0;    // still quarantined, with the new reason
  std::uint64_t unsupported = 0;  // the connector cannot re-process
  // After the connector failed FATAL the host stops calling it (abi.h): the
  // entries after that one were not tried and stay as they were.
  std::uint64_t not_tried = 0;
  std::string fatal_message;  // the connector's FATAL error, redacted; "" when none
};

// Drives connectors: fetch a batch, write records, quarantine and cursor in
// one transaction, repeat. Never throws for a connector's fault: the summary
// says what happened.
class SyncEngine {
 public:
  SyncEngine(Store& store, Logger& logger, const Clock& clock, const std::atomic<bool>& cancelled, SyncOptions options);

  SyncSummary sync(LoadedPlugin& connector);
  RetrySummary retry_quarantine(LoadedPlugin& connector);

 private:
  void wait_ms(std::int64_t duration_ms) const;

  Store& store_;
  Logger& logger_;
  const Clock& clock_;
  const std::atomic<bool>& cancelled_;
  SyncOptions options_;
};

}  // namespace crm::host
