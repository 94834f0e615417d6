#include "sync/sync_engine.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <random>
#include <thread>
#include <utility>

#include "core/retry_policy.hpp"
#include "loader/plugin_call_guard.hpp"

namespace crm::host {
namespace {

struct BadRecord {
  std::string raw_record;
  std::string reason;
};

std::string_view view(crm_str text) {
  return text.data == nullptr ? std::string_view{} : std::string_view(text.data, text.size);
}

// Collects what the connector reports bad during one call, to be quarantined
// in the same transaction as that call's batch (or dropped with it).
class BadRecordCollector {
 public:
  explicit BadRecordCollector(PluginServices& services) : services_(services) {
    services_.set_bad_record_sink([this](std::string_view raw_record, std::string_view reason) {
      records_.push_back({std::string(raw_record), std::string(reason)});
    });
  }
  BadRecordCollector(const BadRecordCollector&) = delete;
  BadRecordCollector& operator=(const BadRecordCollector&) = delete;
  ~BadRecordCollector() { services_.set_bad_record_sink({}); }

  std::vector<BadRecord>& records() { return records_; }

 private:
  PluginServices& services_;
  std::vector<BadRecord> records_;
};

// Holds the plugin state the connector writes during one call, to be
// committed in the same transaction as that call's batch and cursor (or
// dropped with them), so that state and cursor never disagree.
class StateWriteHold {
 public:
  explicit StateWriteHold(PluginServices& services) : services_(services) { services_.hold_state_writes(&writes_); }
  StateWriteHold(const StateWriteHold&) = delete;
  StateWriteHold& operator=(const StateWriteHold&) = delete;
  ~StateWriteHold() { services_.hold_state_writes(nullptr); }

  PluginServices::PendingState& writes() { return writes_; }

 private:
  PluginServices& services_;
  PluginServices::PendingState writes_;
};

// One guarded call of fetch or reprocess.
template <class Call>
crm_status call_connector(LoadedPlugin& connector, const char* what, crm_batch& batch, std::string& message,
                          Call&& call) {
  batch = crm_batch{};
  batch.struct_size = sizeof(crm_batch);
  ErrorBuffer error;
  crm_status status = CRM_STATUS_FATAL;
  const auto lock = connector.call_lock();
  const PluginCallScope in_plugin(connector.id(), what, connector.watchdog_ms(connector.deadlines().fetch_ms));
  try {
    status = call(error.get());
  } catch (...) {
    message = "the connector threw an exception across the C boundary";
    return CRM_STATUS_FATAL;
  }
  message = error.message();
  return status;
}

}  // namespace

SyncEngine::SyncEngine(Store& store, Logger& logger, const Clock& clock, const std::atomic<bool>& cancelled,
                       SyncOptions options)
    : store_(store), logger_(logger), clock_(clock), cancelled_(cancelled), options_(std::move(options)) {}

void SyncEngine::wait_ms(std::int64_t duration_ms) const {
  if (options_.sleep) {
    options_.sleep(duration_ms);
    return;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(duration_ms);
  while (!cancelled_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(duration_ms, 50)));
  }
}

SyncSummary SyncEngine::sync(LoadedPlugin& connector) {
  SyncSummary summary;
  summary.connector_id = connector.id();
  const std::int64_t started_ms = clock_.now_ms();
  const crm_connector_api* api = connector.connector_api();
  if (api == nullptr) {
    summary.status = "failed";
    summary.message = fmt::format("plugin '{}' is not a connector", connector.id());
    return summary;
  }
  ConnectorRun run;
  run.id = store_.begin_connector_run(connector.id(), started_ms);
  run.connector_id = connector.id();
  summary.cursor = store_.read_checkpoint(connector.id()).value_or("");
  RecordWriter writer(store_.database(), connector.id(), options_.match_keys);
  std::mt19937_64 jitter(static_cast<std::uint64_t>(started_ms));
  const RetryPolicy retry{options_.max_attempts, options_.initial_backoff_ms, options_.max_backoff_ms};

  summary.status = "ok";
  const DeferredCheckpoints deferred_checkpoints(store_.database());
  BulkLoadIndexes bulk_load_indexes(store_.database());
  while (true) {
    if (cancelled_.load()) {
      summary.status = "cancelled";
      summary.message = "stopped at a batch boundary on request";
      break;
    }
    BadRecordCollector bad_records(connector.services());
    StateWriteHold state_writes(connector.services());
    crm_batch batch{};
    std::string message;
    crm_status status = CRM_STATUS_FATAL;
    for (int attempt = 1;; ++attempt) {
      bad_records.records().clear();
      state_writes.writes().clear();
      status = call_connector(connector, "fetch", batch, message, [&](crm_error* error) {
        return api->fetch(connector.instance(), connector.host_table(),
                          crm_str{summary.cursor.data(), summary.cursor.size()}, &batch, error);
      });
      if (status != CRM_STATUS_RETRIABLE || retry.gives_up_after(attempt) || cancelled_.load()) {
        break;
      }
      const std::int64_t wait = retry.wait_ms(attempt, [&jitter] { return static_cast<std::uint64_t>(jitter()); });
      logger_.log(LogLevel::warn, connector.id(),
                  fmt::format("source unavailable ({}); attempt {} of {}, retrying in {} ms", logger_.redact(message),
                              attempt, options_.max_attempts, wait));
      wait_ms(wait);
    }
    if (status == CRM_STATUS_CANCELLED) {
      summary.status = "cancelled";
      summary.message = "stopped at a batch boundary on request";
      break;
    }
    if (status != CRM_STATUS_OK) {
      summary.status = "failed";
      summary.message = fmt::format("{} error: {}", status_name(status), logger_.redact(message));
      if (status == CRM_STATUS_RETRIABLE) {
        summary.message += fmt::format(" (gave up after {} attempts)", options_.max_attempts);
      }
      break;
    }

    const std::string next_cursor(view(batch.next_cursor));
    std::uint64_t record_count = 0;
    for (std::size_t s = 0; s < batch.set_count && batch.sets != nullptr; ++s) {
      record_count += batch.sets[s].count;
    }
    if (batch.has_more && record_count == 0 && bad_records.records().empty() && next_cursor == summary.cursor) {
      summary.status = "failed";
      summary.message = "the connector says it has more but returned nothing and kept its cursor";
      break;
    }
    std::vector<RejectedRecord> rejected;
    try {
      Transaction transaction(store_.database());
      {
        // The records still belong to the plugin: a lie in them (a count past its array) faults here.
        const PluginCallScope reading_batch(connector.id(), "fetch (the host reading the batch it returned)");
        summary.counts += writer.write(batch.sets, batch.set_count, rejected);
      }
      const std::int64_t now_ms = clock_.now_ms();
      for (const BadRecord& bad : bad_records.records()) {
        store_.quarantine(connector.id(), bad.raw_record, bad.reason, now_ms);
      }
      for (const RejectedRecord& bad : rejected) {
        store_.quarantine(connector.id(), bad.record, bad.reason, now_ms);
      }
      for (const auto& [key, value] : state_writes.writes()) {
        store_.write_state(connector.id(), key,
                           value ? std::optional<std::string_view>(*value) : std::optional<std::string_view>());
      }
      store_.write_checkpoint(connector.id(), next_cursor, now_ms);
      transaction.commit();
    } catch (const RecordSetError& e) {
      writer.reset_cache();
      summary.status = "failed";
      summary.message = fmt::format("the connector sent a batch the host cannot read: {}", e.what());
      break;
    } catch (const SqliteError& e) {
      writer.reset_cache();
      summary.status = "failed";
      summary.message = fmt::format("writing the batch failed: {}", e.what());
      break;
    }
    summary.cursor = next_cursor;
    ++summary.batches;
    summary.fetched += record_count - rejected.size();
    summary.source_records += batch.source_records;
    summary.quarantined += bad_records.records().size() + rejected.size();
    summary.duration_ms = clock_.now_ms() - started_ms;
    if (options_.on_progress) {
      options_.on_progress(summary);
    }
    if (!batch.has_more) {
      break;
    }
  }
  try {
    bulk_load_indexes.finish();
  } catch (const DatabaseError& e) {
    logger_.log(LogLevel::warn, connector.id(),
                fmt::format("the orders were stored, but indexing them failed ({}); the store builds the index when "
                            "it is next opened",
                            e.what()));
  }
  summary.duration_ms = clock_.now_ms() - started_ms;
  run.finished_ms = clock_.now_ms();
  run.status = summary.status;
  run.fetched = summary.fetched;
  run.inserted = summary.counts.inserted;
  run.updated = summary.counts.updated;
  run.unchanged = summary.counts.unchanged;
  run.quarantined = summary.quarantined;
  run.cursor = summary.cursor;
  run.message = summary.message;
  store_.finish_connector_run(run);
  if (summary.status == "failed") {
    summary.plugin_disabled = connector.remote() != nullptr && connector.remote()->status().disabled_reason;
    logger_.log(LogLevel::error, connector.id(), fmt::format("sync failed: {}", summary.message));
  }
  return summary;
}

RetrySummary SyncEngine::retry_quarantine(LoadedPlugin& connector) {
  RetrySummary summary;
  const crm_connector_api* api = connector.connector_api();
  const auto entries = store_.list_quarantine(connector.id(), true);
  if (api == nullptr || api->reprocess == nullptr) {
    summary.unsupported = entries.size();
    return summary;
  }
  RecordWriter writer(store_.database(), connector.id(), options_.match_keys);
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const QuarantineEntry& entry = entries[e];
    crm_batch batch{};
    std::string message;
    const crm_status status = call_connector(connector, "fetch", batch, message, [&](crm_error* error) {
      return api->reprocess(connector.instance(), connector.host_table(),
                            crm_str{entry.raw_record.data(), entry.raw_record.size()}, &batch, error);
    });
    if (status == CRM_STATUS_OK) {
      // A re-processed record the writer refuses stays quarantined, with the writer's reason.
      std::vector<RejectedRecord> rejected;
      {
        Transaction transaction(store_.database());
        {
          const PluginCallScope reading_batch(connector.id(), "reprocess (the host reading the batch it returned)");
          writer.write(batch.sets, batch.set_count, rejected);
        }
        if (rejected.empty()) {
          store_.mark_reprocessed(entry.id, clock_.now_ms());
          transaction.commit();
          ++summary.released;
        }
      }
      if (!rejected.empty()) {  // rolled back with the transaction
        writer.reset_cache();
        store_.set_quarantine_reason(entry.id, rejected.front().reason);
        ++summary.still_bad;
      }
    } else if (status == CRM_STATUS_FATAL) {
      // abi.h: the host stops using a plugin after FATAL; calling it again
      // for every remaining entry would hand records to a broken instance.
      summary.fatal_message = logger_.redact(message);
      store_.set_quarantine_reason(entry.id, fmt::format("fatal error: {}", summary.fatal_message));
      ++summary.still_bad;
      summary.not_tried = entries.size() - e - 1;
      logger_.log(LogLevel::error, connector.id(),
                  fmt::format("quarantine retry stopped: the connector failed fatally ({}); {} record(s) not tried",
                              summary.fatal_message, summary.not_tried));
      break;
    } else {
      store_.set_quarantine_reason(entry.id, logger_.redact(message));
      ++summary.still_bad;
    }
  }
  return summary;
}

}  // namespace crm::host
