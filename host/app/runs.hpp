#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/session.hpp"
#include "loader/plugin_host.hpp"
#include "store/run_read_repository.hpp"
#include "store/store.hpp"

namespace crm::host {

inline constexpr std::size_t kDefaultRunListSize = 20;
inline constexpr std::size_t kMaxRunListSize = 500;

// The newest jobs of `runs` (only those of `kind`, e.g. "run" or "sync", when
// not empty), at most `limit` (0: kDefaultRunListSize; more than
// kMaxRunListSize throws InvalidRequest).
std::vector<RunRow> list_runs(Session& session, const std::string& kind, std::size_t limit);
// One job run; NotFound when there is none with that id.
RunRow show_run(Session& session, std::int64_t run_id);
// The newest scoring runs with their customers per band (limit as list_runs).
std::vector<ScoreRunRow> list_score_runs(Session& session, std::size_t limit);

// What the host knows of one connector plugin: whether it loads, its last
// sync, whether it has a cursor, and what waits in quarantine.
struct ConnectorStatus {
  PluginRecord plugin;                    // state: loaded, disabled or refused, with the reason
  std::optional<ConnectorRun> last_sync;  // the newest connector run
  bool has_cursor = false;
  std::int64_t quarantine_pending = 0;
};

// Every connector plugin found (listed as list_plugins does), with its
// status from the store. Opens the store once; loads plugins as list_plugins does.
std::vector<ConnectorStatus> list_connectors(Session& session);
// The same for plugins already loaded (a service's own PluginHost::records()): loads nothing.
std::vector<ConnectorStatus> list_connectors(Session& session, const std::vector<PluginRecord>& plugins);

}  // namespace crm::host
