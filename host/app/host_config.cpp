#include "app/host_config.hpp"

#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json_schema.hpp"

namespace crm::host {
namespace {

// The deadlines and resource limits of plugin workers, the same wherever they are set (plugin_runtime,
// a plugin's section, an instance's): spliced into the schema below.
// clang-format off
#define CRM_DEADLINES_SCHEMA R"({"type": "object", "additionalProperties": false, "properties": {"load": {"type": "integer", "minimum": 1, "maximum": 86400000}, "create": {"type": "integer", "minimum": 1, "maximum": 86400000}, "fetch": {"type": "integer", "minimum": 1, "maximum": 86400000}, "score": {"type": "integer", "minimum": 1, "maximum": 86400000}, "train": {"type": "integer", "minimum": 1, "maximum": 86400000}, "model": {"type": "integer", "minimum": 1, "maximum": 86400000}, "send": {"type": "integer", "minimum": 1, "maximum": 86400000}, "destroy": {"type": "integer", "minimum": 1, "maximum": 86400000}}})"
#define CRM_LIMITS_SCHEMA R"({"type": "object", "additionalProperties": false, "properties": {"memory_mb": {"type": "integer", "minimum": 0, "maximum": 16777216}, "cpu_seconds": {"type": "integer", "minimum": 0, "maximum": 31536000}, "open_files": {"type": "integer", "minimum": 0, "maximum": 1048576}}})"
// clang-format on

const char* const kHostConfigSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "$schema": {"type": "string"},
    "database": {"type": "string", "minLength": 1},
    "database_password": {
      "type": "object", "additionalProperties": false, "required": ["env"],
      "properties": {"env": {"type": "string", "minLength": 1}}
    },
    "plugin_dirs": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "log_level": {"enum": ["debug", "info", "warn", "error"]},
    "allow_writable_plugins": {"type": "boolean"},
    "public_url": {"type": "string", "pattern": "^https?://[^\\s/?#]+(/[^\\s?#]*)?$"},
    "customers": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "match_keys": {"type": "array", "uniqueItems": true, "items": {"enum": ["tax_id", "email_domain", "name"]}}
      }
    },
    "sync": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "initial_backoff_ms": {"type": "integer", "minimum": 0},
        "max_backoff_ms": {"type": "integer", "minimum": 0}
      }
    },
    "plugins": {
      "type": "object",
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "enabled": {"type": "boolean"},
          "config": {},
          "sha256": {"type": "string"},
          "every": {"type": "string", "minLength": 1},
          "schedule": {"type": "string", "minLength": 1},
          "isolation": {"enum": ["process", "in_process"]},
          "deadlines_ms": )" CRM_DEADLINES_SCHEMA R"(,
          "limits": )" CRM_LIMITS_SCHEMA R"(
        },
        "not": {"required": ["every", "schedule"]}
      }
    },
    "plugin_runtime": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "isolation": {"enum": ["process", "in_process"]},
        "worker": {"type": "string", "minLength": 1},
        "deadlines_ms": )" CRM_DEADLINES_SCHEMA R"(,
        "limits": )" CRM_LIMITS_SCHEMA R"(,
        "crash_limit": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "crash_window_s": {"type": "integer", "minimum": 1, "maximum": 86400},
        "restart_backoff_ms": {"type": "integer", "minimum": 0, "maximum": 600000},
        "cancel_grace_ms": {"type": "integer", "minimum": 0, "maximum": 600000}
      }
    },
    "instances": {
      "type": "object",
      "propertyNames": {"pattern": "^[a-z0-9_.-]{1,64}$"},
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "required": ["plugin"],
        "properties": {
          "plugin": {"type": "string", "pattern": "^[a-z0-9_.-]{1,64}$"},
          "enabled": {"type": "boolean"},
          "config": {},
          "every": {"type": "string", "minLength": 1},
          "schedule": {"type": "string", "minLength": 1},
          "deadlines_ms": )" CRM_DEADLINES_SCHEMA R"(,
          "limits": )" CRM_LIMITS_SCHEMA R"(
        },
        "not": {"required": ["every", "schedule"]}
      }
    },
    "service": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "listen": {"type": "string", "minLength": 3},
        "max_body_bytes": {"type": "integer", "minimum": 1024},
        "worker_threads": {"type": "integer", "minimum": 0, "maximum": 256},
        "header_timeout_ms": {"type": "integer", "minimum": 100},
        "body_timeout_ms": {"type": "integer", "minimum": 100},
        "idle_timeout_ms": {"type": "integer", "minimum": 100},
        "max_connections": {"type": "integer", "minimum": 1},
        "tls": {
          "type": "object",
          "additionalProperties": false,
          "required": ["certificate_file", "private_key_file"],
          "properties": {
            "certificate_file": {"type": "string", "minLength": 1},
            "private_key_file": {"type": "string", "minLength": 1}
          }
        },
        "time_zone": {"type": "string", "minLength": 1},
        "web": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "session_idle_timeout_s": {"type": "integer", "minimum": 1, "maximum": 31536000},
            "session_lifetime_s": {"type": "integer", "minimum": 1, "maximum": 31536000},
            "max_failed_sign_ins": {"type": "integer", "minimum": 1, "maximum": 1000},
            "lockout_s": {"type": "integer", "minimum": 1, "maximum": 31536000}
          }
        },
        "jitter_seconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "wecom_callback": {
          "type": "object",
          "additionalProperties": false,
          "required": ["corp_id", "token", "encoding_aes_key", "source"],
          "properties": {
            "path": {"type": "string", "pattern": "^/[A-Za-z0-9/_.-]*$"},
            "corp_id": {"type": "string", "minLength": 1},
            "token": {
              "type": "object", "additionalProperties": false, "required": ["env"],
              "properties": {"env": {"type": "string", "minLength": 1}}
            },
            "encoding_aes_key": {
              "type": "object", "additionalProperties": false, "required": ["env"],
              "properties": {"env": {"type": "string", "minLength": 1}}
            },
            "source": {"type": "string", "minLength": 1},
            "max_clock_skew_s": {"type": "integer", "minimum": 1, "maximum": 86400}
          }
        },
        "jobs": {
          "type": "object",
          "additionalProperties": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "enabled": {"type": "boolean"},
              "every": {"type": "string", "minLength": 1},
              "schedule": {"type": "string", "minLength": 1}
            },
            "not": {"required": ["every", "schedule"]}
          }
        }
      }
    }
  }
})";

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& value) {
  const std::filesystem::path path(value);
  return path.is_absolute() ? path : base_dir / path;
}

// plugins.<id>.sha256 pins the plugin's library file; the schema's pattern message would not say what is wanted.
void check_plugin_pins(const nlohmann::json& document, const std::string& source_name) {
  const auto plugins = document.find("plugins");
  if (plugins == document.end() || !plugins->is_object()) {
    return;
  }
  static const std::regex kSha256("^[0-9a-fA-F]{64}$");
  for (const auto& [id, settings] : plugins->items()) {
    if (!settings.is_object() || !settings.contains("sha256")) {
      continue;
    }
    const nlohmann::json& pin = settings["sha256"];
    if (!pin.is_string() || !std::regex_match(pin.get<std::string>(), kSha256)) {
      throw ConfigError(fmt::format(
          "{}: plugins.{}.sha256 must be the 64 hex digits of the plugin library's SHA-256 (as sha256sum prints "
          "it), not {}",
          source_name, id,
          pin.is_string() ? fmt::format("a {}-character string", pin.get<std::string>().size()) : pin.dump()));
    }
  }
}

}  // namespace

HostConfig parse_host_config(const nlohmann::json& document, const std::filesystem::path& base_dir,
                             const std::string& source_name) {
  static const JsonSchema schema([] {
    nlohmann::json document = nlohmann::json::parse(kHostConfigSchema);
    document["properties"]["features"] = nlohmann::json::parse(kFeatureSettingsSchema);
    document["properties"]["scoring"] = nlohmann::json::parse(kScoringSettingsSchema);
    document["properties"]["alerts"] = nlohmann::json::parse(kAlertSettingsSchema);
    document["properties"]["alerts"]["properties"]["quiet_hours"] = nlohmann::json::parse(kQuietHoursSchema);
    document["properties"]["winback"] = nlohmann::json::parse(kWinbackSettingsSchema);
    document["properties"]["winback"]["properties"]["quiet_hours"] = nlohmann::json::parse(kQuietHoursSchema);
    document["properties"]["value_classes"] = nlohmann::json::parse(kValueClassSettingsSchema);
    return document;
  }());
  check_plugin_pins(document, source_name);
  if (const auto violations = schema.validate(document); !violations.empty()) {
    throw ConfigError(fmt::format("{}: {}", source_name, describe_violations(violations)));
  }
  HostConfig config;
  if (document.contains("database")) {
    const auto database = document["database"].get<std::string>();
    // A PostgreSQL URL is not a path relative to the file.
    const bool is_url = database.starts_with("postgresql://") || database.starts_with("postgres://");
    config.database = is_url ? std::filesystem::path(database) : resolve(base_dir, database);
  }
  if (document.contains("database_password")) {
    config.database_password_env = document["database_password"]["env"].get<std::string>();
  }
  for (const auto& directory : document.value("plugin_dirs", nlohmann::json::array())) {
    config.plugin_dirs.push_back(resolve(base_dir, directory.get<std::string>()));
  }
  if (document.contains("log_level")) {
    config.log_level = document["log_level"].get<std::string>();
  }
  config.allow_writable_plugins = document.value("allow_writable_plugins", false);
  config.plugins = document.value("plugins", nlohmann::json::object());
  config.plugin_runtime = document.value("plugin_runtime", nlohmann::json::object());
  config.instances = document.value("instances", nlohmann::json::object());
  config.service = document.value("service", nlohmann::json::object());
  if (document.contains("customers") && document["customers"].contains("match_keys")) {
    config.match_keys = document["customers"]["match_keys"].get<std::vector<std::string>>();
  }
  const nlohmann::json sync = document.value("sync", nlohmann::json::object());
  config.sync_max_attempts = sync.value("max_attempts", config.sync_max_attempts);
  config.sync_initial_backoff_ms = sync.value("initial_backoff_ms", config.sync_initial_backoff_ms);
  config.sync_max_backoff_ms = sync.value("max_backoff_ms", config.sync_max_backoff_ms);
  config.features = parse_feature_settings(document.value("features", nlohmann::json::object()));
  config.scoring = parse_scoring_settings(document.value("scoring", nlohmann::json::object()));
  config.alerts = parse_alert_settings(document.value("alerts", nlohmann::json::object()));
  config.public_url = document.value("public_url", std::string());
  while (config.public_url.ends_with('/')) {
    config.public_url.pop_back();
  }
  config.alerts.public_url = config.public_url;
  config.winback = parse_winback_settings(document.value("winback", nlohmann::json::object()));
  config.winback.band_order.clear();
  for (const BandRule& band : config.scoring.bands) {
    config.winback.band_order.push_back(band.name);
  }
  try {
    config.value_classes = parse_value_class_settings(document.value("value_classes", nlohmann::json::object()));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(fmt::format("{}: {}", source_name, e.what()));
  }
  config.winback.value_classes = config.value_classes;
  return config;
}

HostConfig load_host_config(const std::filesystem::path& path) {
  std::ifstream input(path);
  if (!input) {
    throw ConfigError(fmt::format("cannot read configuration file {}", path.string()));
  }
  const nlohmann::json document = parse_config_json(input, path.string());
  return parse_host_config(document, path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path(),
                           path.string());
}

}  // namespace crm::host
