#include "app/runs.hpp"

#include <fmt/format.h>

#include "app/errors.hpp"
#include "app/sync_jobs.hpp"

namespace crm::host {

namespace {

std::size_t list_size(std::size_t limit) {
  if (limit > kMaxRunListSize) {
    throw InvalidRequest(fmt::format("limit {} is more than {}", limit, kMaxRunListSize));
  }
  return limit == 0 ? kDefaultRunListSize : limit;
}

}  // namespace

std::vector<RunRow> list_runs(Session& session, const std::string& kind, std::size_t limit) {
  const std::size_t size = list_size(limit);
  const StoreHandle store = session.open_store();
  return RunReadRepository(store->database()).runs(kind, size);
}

RunRow show_run(Session& session, std::int64_t run_id) {
  const StoreHandle store = session.open_store();
  std::optional<RunRow> run = RunReadRepository(store->database()).run(run_id);
  if (!run) {
    throw NotFound(fmt::format("no run {} in the store", run_id));
  }
  return std::move(*run);
}

std::vector<ScoreRunRow> list_score_runs(Session& session, std::size_t limit) {
  const std::size_t size = list_size(limit);
  const StoreHandle store = session.open_store();
  return RunReadRepository(store->database()).score_runs(size);
}

std::vector<ConnectorStatus> list_connectors(Session& session) {
  return list_connectors(session, list_plugins(session));
}

std::vector<ConnectorStatus> list_connectors(Session& session, const std::vector<PluginRecord>& plugins) {
  std::vector<ConnectorStatus> connectors;
  for (const PluginRecord& plugin : plugins) {
    if (plugin.kind == "connector") {
      connectors.push_back({plugin, std::nullopt, false, 0});
    }
  }
  if (connectors.empty()) {
    return connectors;
  }
  const StoreHandle store = session.open_store();
  RunReadRepository runs(store->database());
  for (ConnectorStatus& status : connectors) {
    if (status.plugin.id.empty()) {
      continue;  // a library that could not tell its id has no runs under any name
    }
    status.last_sync = store->last_connector_run(status.plugin.id);
    status.has_cursor = store->read_checkpoint(status.plugin.id).has_value();
    status.quarantine_pending = runs.pending_quarantine(status.plugin.id);
  }
  return connectors;
}

}  // namespace crm::host
