#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/host_config.hpp"
#include "app/session.hpp"
#include "app/users.hpp"
#include "core/time_zone.hpp"
#include "http/server.hpp"
#include "service/schedule.hpp"

namespace crm::host {

enum class JobKind {
  sync,     // one connector: "sync:<connector_id>"
  score,    // every customer, then the alerts of the scores
  alerts,   // escalate, then deliver the outbox
  winback,  // churn detection, then the campaigns' due steps and their messages
};

// One job of `crmhost serve`.
struct JobDefinition {
  std::string id;  // "sync:erp_csv", "score", "alerts", "winback"
  JobKind kind = JobKind::sync;
  std::string connector_id;  // sync jobs only
  Schedule schedule;
};

// The "service" section of the configuration, and the connectors' own
// "every"/"schedule" keys, made into jobs:
//   "service": {"time_zone": "Asia/Shanghai", "jitter_seconds": 30,
//               "jobs": {"sync:erp_csv": {"every": "5m"}, "score": {"schedule": "0 2 * * *"},
//                        "winback": {"enabled": false}}}
//   "plugins": {"erp_csv": {"every": "5m", "config": {...}}}
//   "instances": {"orders_cn": {"plugin": "erp_csv", "every": "1h", "config": {...}}}  (job "sync:orders_cn")
// Defaults: each connector every 10 minutes, score daily at 02:00 in the
// time zone (UTC unless given), alerts every 30 s, winback hourly; no jitter.
// A job in service.jobs wins over its connector's own key.
struct ServiceSettings {
  TimeZone time_zone;
  std::int64_t jitter_ms = 0;       // each scheduled run waits a random [0, jitter_ms] after its slot
  std::vector<JobDefinition> jobs;  // sync jobs in `connector_ids` order, then score, alerts, winback
  // HTTP: "listen" ("HOST:PORT"), limits and timeouts ("max_body_bytes", "header_timeout_ms",
  // "body_timeout_ms", "idle_timeout_ms", "max_connections", "worker_threads") and
  // "tls": {"certificate_file", "private_key_file"}; host and port are left to the caller.
  std::string listen = "127.0.0.1:8080";
  http::ServerOptions http;
  // "web": {"session_idle_timeout_s" (43200), "session_lifetime_s" (604800),
  //         "max_failed_sign_ins" (5), "lockout_s" (900)}: the web app's sessions and sign-in lockout.
  WebSessionSettings web_sessions;
};

// Throws ConfigError naming the field (service.jobs.score.schedule, ...) and
// what is wrong with it: a schedule that does not parse, an unknown time
// zone, a job id that is not one of the jobs.
ServiceSettings parse_service_settings(const HostConfig& config, const std::vector<std::string>& connector_ids,
                                       const std::filesystem::path& zoneinfo_dir = "/usr/share/zoneinfo");

// The connectors the session's plugins load (kind connector, state loaded), in load order.
std::vector<std::string> loaded_connector_ids(Session& session);

}  // namespace crm::host
