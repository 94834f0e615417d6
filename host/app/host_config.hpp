#pragma once

// The host configuration as a whole: the host's own settings and every area's
// section (features, scoring, alerts, winback, value_classes), validated
// against one schema. It sits above the engines whose settings it gathers, so
// host/core (ConfigError, parse_config_json) includes none of them.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert_settings.hpp"
#include "core/config.hpp"
#include "scoring/settings.hpp"
#include "scoring/value_class.hpp"
#include "winback/winback_settings.hpp"

namespace crm::host {

// The host's one JSON configuration file. Relative paths in it are relative
// to the file's own directory. Secrets never appear in it: plugin secret
// fields hold {"env": "VARIABLE"} references.
struct HostConfig {
  // A SQLite file, or a "postgresql://user@host:port/db" URL.
  std::optional<std::filesystem::path> database;
  // The environment variable holding the PostgreSQL password ({"env": "NAME"});
  // without it libpq reads PGPASSWORD or ~/.pgpass.
  std::optional<std::string> database_password_env;
  std::vector<std::filesystem::path> plugin_dirs;
  std::optional<std::string> log_level;
  // Load plugin files and folders that users other than root and the host's
  // own could change (group- or world-writable, or owned by someone else).
  bool allow_writable_plugins = false;
  // {"<id>": {"enabled": bool, "config": {...}, "every" or "schedule": "..." (crmhost serve's sync job)}}
  nlohmann::json plugins = nlohmann::json::object();
  // How plugins run: isolation default, worker deadlines, crash limits, resource limits (README "Plugin isolation").
  nlohmann::json plugin_runtime = nlohmann::json::object();
  // More instances of a plugin, each under its own name, which its checkpoints, quarantine, records,
  // sync runs, schedule and alert routes go by: {"<name>": {"plugin": "<id>", "enabled": bool,
  // "config": {...}, "every" or "schedule": "..."}}. A plugin that has instances runs under its own id
  // only when "plugins" names it too (PluginHostOptions::instance_settings).
  nlohmann::json instances = nlohmann::json::object();
  // Customers of different connectors with an equal key are one customer, tried in this order.
  std::vector<std::string> match_keys = {"tax_id", "email_domain"};
  int sync_max_attempts = 5;
  std::int64_t sync_initial_backoff_ms = 500;
  std::int64_t sync_max_backoff_ms = 30'000;
  FeatureSettings features;
  ScoringSettings scoring;
  AlertSettings alerts;
  WinbackSettings winback;
  // ABC value classes, for scorers (through their configuration) and win-back alike.
  ValueClassSettings value_classes;
  // `crmhost serve`'s jobs, time zone and jitter, checked for shape here and
  // read by host/service (parse_service_settings), which sits above this layer.
  nlohmann::json service = nlohmann::json::object();
  // The web app's address as people reach it ("https://crm.example.com"), for
  // links in notifications: the customer's page and the acknowledge link.
  // "" : notifications carry no links. No trailing slash.
  std::string public_url;
};

// Reads and validates the file; throws ConfigError naming the file and field.
HostConfig load_host_config(const std::filesystem::path& path);
HostConfig parse_host_config(const nlohmann::json& document, const std::filesystem::path& base_dir,
                             const std::string& source_name);

}  // namespace crm::host
