#include "app/sync_jobs.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "app/errors.hpp"
#include "loader/host_services.hpp"

namespace crm::host {

namespace {

SyncOptions sync_options(Session& session) {
  SyncOptions options;
  options.match_keys = parse_match_keys(session.config().match_keys);
  options.max_attempts = session.config().sync_max_attempts;
  options.initial_backoff_ms = session.config().sync_initial_backoff_ms;
  options.max_backoff_ms = session.config().sync_max_backoff_ms;
  options.on_progress = [&session](const SyncSummary& summary) {
    const double seconds = static_cast<double>(std::max<std::int64_t>(summary.duration_ms, 1)) / 1000.0;
    session.progress(fmt::format("{}: {} read, {} stored, {} quarantined, {:.0f} records/s", summary.connector_id,
                                 summary.source_records, summary.fetched, summary.quarantined,
                                 static_cast<double>(summary.source_records) / seconds));
  };
  return options;
}

// The connector `only_id` names, or why it cannot sync.
LoadedPlugin& chosen_connector(PluginHost& host, const std::string& only_id) {
  LoadedPlugin* chosen = host.find(only_id);
  if (chosen != nullptr && chosen->descriptor().kind == CRM_KIND_CONNECTOR) {
    return *chosen;
  }
  for (const PluginRecord& record : host.records()) {
    if (record.id != only_id) {
      continue;
    }
    const std::string problem =
        fmt::format("connector '{}' cannot sync ({}{})", only_id, plugin_state_name(record.state),
                    record.reason.empty() ? "" : ": " + record.reason);
    if (record.state == PluginState::refused) {
      throw PluginsRefused(problem);
    }
    if (record.kind != "connector") {
      throw InvalidRequest(fmt::format("plugin '{}' is a {}, not a connector", only_id, record.kind));
    }
    throw ConfigError(problem);
  }
  throw NotFound(fmt::format("no plugin '{}' was found; `crmhost plugins` lists the connectors", only_id));
}

}  // namespace

std::vector<PluginRecord> list_plugins(Session& session) {
  InMemoryStateStore state;
  return session.plugins(state)->records();
}

bool SyncResult::failed() const {
  return std::any_of(summaries.begin(), summaries.end(),
                     [](const SyncSummary& summary) { return summary.status == "failed" && !summary.plugin_disabled; });
}

std::vector<SyncSummary> sync_connectors(Session& session, Store& store, PluginHost& host,
                                         const std::string& connector_id) {
  std::vector<LoadedPlugin*> connectors = host.plugins_of_kind(CRM_KIND_CONNECTOR);
  if (!connector_id.empty()) {
    connectors = {&chosen_connector(host, connector_id)};
  }
  SyncEngine engine(store, session.logger(), session.clock(), session.cancellation(), sync_options(session));
  std::vector<SyncSummary> summaries;
  for (LoadedPlugin* connector : connectors) {
    summaries.push_back(engine.sync(*connector));
    session.progress_done();
    if (session.cancelled()) {
      break;
    }
  }
  session.progress_done();
  return summaries;
}

SyncResult sync(Session& session, const std::string& connector_id) {
  const std::unique_ptr<JobLock> one_job_at_a_time = session.lock_jobs("sync");
  const StoreHandle store = session.open_store();
  session.close_interrupted_runs(*store, *one_job_at_a_time);
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  SyncResult result;
  result.refused = connector_id.empty() ? session.report_refusals(*host, {"connector"}) : 0;
  result.summaries = sync_connectors(session, *store, *host, connector_id);
  result.cancelled = session.cancelled();
  return result;
}

std::vector<QuarantineEntry> list_quarantine(Session& session, const std::string& connector_id, bool include_released) {
  return session.open_store()->list_quarantine(connector_id, !include_released);
}

bool QuarantineRetryResult::failed() const {
  return std::any_of(connectors.begin(), connectors.end(),
                     [](const QuarantineRetry& retry) { return !retry.summary.fatal_message.empty(); });
}

QuarantineRetryResult retry_quarantine(Session& session, const std::string& connector_id) {
  const StoreHandle store = session.open_store();
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  QuarantineRetryResult result;
  result.refused = session.report_refusals(*host, {"connector"});
  SyncEngine engine(*store, session.logger(), session.clock(), session.cancellation(), sync_options(session));
  for (LoadedPlugin* connector : host->plugins_of_kind(CRM_KIND_CONNECTOR)) {
    if (!connector_id.empty() && connector->id() != connector_id) {
      continue;
    }
    result.connectors.push_back({connector->id(), engine.retry_quarantine(*connector)});
  }
  session.progress_done();
  return result;
}

}  // namespace crm::host
