#include "core/config.hpp"

#include <fmt/format.h>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/json_schema.hpp"

namespace crm::host {
namespace {

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
          "config": {}
        }
      }
    }
  }
})";

// Escapes one JSON Pointer token (RFC 6901).
std::string pointer_token(const std::string& token) {
  std::string escaped;
  for (const char c : token) {
    escaped += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  }
  return escaped;
}

struct DuplicateKey {
  std::string pointer;
  std::string key;
};

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& value) {
  const std::filesystem::path path(value);
  return path.is_absolute() ? path : base_dir / path;
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

nlohmann::json parse_config_json(std::istream& input, const std::string& source_name) {
  // JSON parsers keep the last of two equal keys; in a configuration that
  // silently drops the first setting, so a repeated key is an error.
  struct Container {
    bool is_array = false;
    std::set<std::string> keys;
    std::string key;        // the member being read, in an object
    std::size_t index = 0;  // the element being read, in an array
  };
  std::vector<Container> open;
  const auto pointer = [&open] {
    std::string text;
    for (const Container& container : open) {
      text += "/" + (container.is_array ? std::to_string(container.index) : pointer_token(container.key));
    }
    return text;
  };
  const nlohmann::json::parser_callback_t check = [&](int /*depth*/, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    switch (event) {
      case nlohmann::json::parse_event_t::object_start:
      case nlohmann::json::parse_event_t::array_start:
        open.push_back({event == nlohmann::json::parse_event_t::array_start, {}, {}, 0});
        break;
      case nlohmann::json::parse_event_t::key:
        open.back().key = parsed.get<std::string>();
        if (!open.back().keys.insert(open.back().key).second) {
          throw DuplicateKey{pointer(), open.back().key};
        }
        break;
      case nlohmann::json::parse_event_t::object_end:
      case nlohmann::json::parse_event_t::array_end:
        open.pop_back();
        [[fallthrough]];
      case nlohmann::json::parse_event_t::value:
        if (!open.empty() && open.back().is_array) {
          ++open.back().index;
        }
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(input, check);
  } catch (const nlohmann::json::parse_error& e) {
    // Not e.what(): it quotes the text last read, which could be a mistyped secret.
    throw ConfigError(fmt::format("{} is not valid JSON: syntax error near byte {}", source_name, e.byte));
  } catch (const DuplicateKey& duplicate) {
    throw ConfigError(
        fmt::format("{}: key \"{}\" appears twice at {}; JSON keeps only the last value, so remove "
                    "one of the two",
                    source_name, duplicate.key, duplicate.pointer));
  }
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
