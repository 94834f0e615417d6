#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "app/session.hpp"
#include "loader/plugin_host.hpp"
#include "store/store.hpp"
#include "sync/sync_engine.hpp"

namespace crm::host {

// Every plugin found, loaded, disabled or refused with the reason. Touches no store.
std::vector<PluginRecord> list_plugins(Session& session);

struct SyncResult {
  std::vector<SyncSummary> summaries;  // one per connector that ran, in load order
  std::size_t refused = 0;             // connectors refused (counted when all were asked for)
  bool cancelled = false;              // the session was cancelled: later connectors did not run

  [[nodiscard]] bool failed() const;  // a connector failed as a whole
};

// Syncs every loaded connector, or only `connector_id`, under the store's job lock.
// An unusable `connector_id` throws NotFound (no such plugin), InvalidRequest (not
// a connector), PluginsRefused (refused) or ConfigError (disabled...).
SyncResult sync(Session& session, const std::string& connector_id);

// The same, inside a job that already holds the lock and has the store and plugins.
std::vector<SyncSummary> sync_connectors(Session& session, Store& store, PluginHost& host,
                                         const std::string& connector_id);

// Quarantined records of `connector_id` ("" for all), pending ones unless `include_released`.
std::vector<QuarantineEntry> list_quarantine(Session& session, const std::string& connector_id, bool include_released);

struct QuarantineRetry {
  std::string connector_id;
  RetrySummary summary;
};

struct QuarantineRetryResult {
  std::vector<QuarantineRetry> connectors;
  std::size_t refused = 0;

  [[nodiscard]] bool failed() const;  // a connector stopped on a fatal error
};

// Hands pending quarantined records back to their connectors (all, or `connector_id`'s).
QuarantineRetryResult retry_quarantine(Session& session, const std::string& connector_id);

}  // namespace crm::host
