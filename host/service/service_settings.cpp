#include "service/service_settings.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "app/sync_jobs.hpp"

namespace crm::host {
namespace {

// {"every": ...} or {"schedule": ...} of `section`, else `fallback`; `where` names it in errors.
Schedule schedule_of(const nlohmann::json& section, const Schedule& fallback, const std::string& where) {
  try {
    if (section.contains("every")) {
      return Schedule::every(section["every"].get<std::string>());
    }
    if (section.contains("schedule")) {
      return Schedule::cron(section["schedule"].get<std::string>());
    }
  } catch (const ScheduleError& e) {
    throw ConfigError(fmt::format("{}.{}: {}", where, section.contains("every") ? "every" : "schedule", e.what()));
  }
  return fallback;
}

}  // namespace

ServiceSettings parse_service_settings(const HostConfig& config, const std::vector<std::string>& connector_ids,
                                       const std::filesystem::path& zoneinfo_dir) {
  const nlohmann::json& service = config.service;
  ServiceSettings settings;
  if (service.contains("time_zone")) {
    try {
      settings.time_zone = TimeZone::load(service["time_zone"].get<std::string>(), zoneinfo_dir);
    } catch (const TimeZoneError& e) {
      throw ConfigError(fmt::format("service.time_zone: {}", e.what()));
    }
  }
  settings.jitter_ms = service.value("jitter_seconds", std::int64_t{0}) * 1000;
  settings.listen = service.value("listen", settings.listen);
  http::ServerOptions& http = settings.http;
  http.max_body_bytes = service.value("max_body_bytes", http.max_body_bytes);
  http.worker_threads = service.value("worker_threads", http.worker_threads);
  http.max_connections = service.value("max_connections", http.max_connections);
  http.header_timeout = std::chrono::milliseconds(service.value("header_timeout_ms", http.header_timeout.count()));
  http.body_timeout = std::chrono::milliseconds(service.value("body_timeout_ms", http.body_timeout.count()));
  http.idle_timeout = std::chrono::milliseconds(service.value("idle_timeout_ms", http.idle_timeout.count()));
  if (service.contains("tls")) {
    http.tls_certificate_file = service["tls"]["certificate_file"].get<std::string>();
    http.tls_private_key_file = service["tls"]["private_key_file"].get<std::string>();
  }
  const nlohmann::json web = service.value("web", nlohmann::json::object());
  WebSessionSettings& sessions = settings.web_sessions;
  sessions.idle_timeout_ms = web.value("session_idle_timeout_s", sessions.idle_timeout_ms / 1000) * 1000;
  sessions.lifetime_ms = web.value("session_lifetime_s", sessions.lifetime_ms / 1000) * 1000;
  sessions.max_failed_sign_ins = web.value("max_failed_sign_ins", sessions.max_failed_sign_ins);
  sessions.lockout_ms = web.value("lockout_s", sessions.lockout_ms / 1000) * 1000;
  const nlohmann::json jobs = service.value("jobs", nlohmann::json::object());

  std::vector<JobDefinition> defaults;
  for (const std::string& connector_id : connector_ids) {
    // A connector id is an instance name: its section is in "instances", or, for a plugin's own, in "plugins".
    const bool instance = config.instances.is_object() && config.instances.contains(connector_id);
    const nlohmann::json& sections = instance ? config.instances : config.plugins;
    const nlohmann::json plugin =
        sections.is_object() ? sections.value(connector_id, nlohmann::json::object()) : nlohmann::json();
    defaults.push_back({"sync:" + connector_id, JobKind::sync, connector_id,
                        schedule_of(plugin.is_object() ? plugin : nlohmann::json::object(), Schedule::every("10m"),
                                    (instance ? "instances." : "plugins.") + connector_id)});
  }
  defaults.push_back({"score", JobKind::score, "", Schedule::cron("0 2 * * *")});
  defaults.push_back({"alerts", JobKind::alerts, "", Schedule::every("30s")});
  defaults.push_back({"winback", JobKind::winback, "", Schedule::cron("@hourly")});

  for (const auto& [id, section] : jobs.items()) {
    const bool known =
        std::any_of(defaults.begin(), defaults.end(), [&](const JobDefinition& job) { return job.id == id; });
    if (!known) {
      std::vector<std::string> ids;
      for (const JobDefinition& job : defaults) {
        ids.push_back(job.id);
      }
      throw ConfigError(
          fmt::format("service.jobs.{}: no such job; the jobs are {} (a sync job needs its connector loaded: see "
                      "`crmhost plugins`)",
                      id, fmt::join(ids, ", ")));
    }
  }
  for (JobDefinition& job : defaults) {
    if (!jobs.contains(job.id)) {
      settings.jobs.push_back(std::move(job));
      continue;
    }
    const nlohmann::json& section = jobs[job.id];
    if (!section.value("enabled", true)) {
      continue;
    }
    job.schedule = schedule_of(section, job.schedule, "service.jobs." + job.id);
    settings.jobs.push_back(std::move(job));
  }
  return settings;
}

std::vector<std::string> loaded_connector_ids(Session& session) {
  std::vector<std::string> ids;
  for (const PluginRecord& record : list_plugins(session)) {
    if (record.kind == "connector" && record.state == PluginState::loaded) {
      ids.push_back(record.id);
    }
  }
  return ids;
}

}  // namespace crm::host
