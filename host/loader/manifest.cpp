#include "loader/manifest.hpp"

#include <array>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <utility>

#include "core/json_schema.hpp"

namespace crm::host {
namespace {

constexpr std::array<std::pair<crm_plugin_kind, const char*>, 3> kKinds = {
    {{CRM_KIND_CONNECTOR, "connector"}, {CRM_KIND_SCORER, "scorer"}, {CRM_KIND_CHANNEL, "channel"}}};

constexpr std::array<std::pair<crm_capabilities, const char*>, 3> kCapabilities = {
    {{CRM_CAP_THREAD_SAFE, "thread_safe"}, {CRM_CAP_EXPLAIN, "explain"}, {CRM_CAP_INCREMENTAL, "incremental"}}};

// The manifest format, checked with the host's own validator.
const char* const kPluginSchema = R"({
  "type": "object",
  "required": ["id", "kind", "version"],
  "properties": {
    "id": {"type": "string", "pattern": "^[a-z0-9_.-]{1,64}$"},
    "kind": {"type": "string"},
    "version": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+([-+].*)?$"},
    "abi": {"type": "string"},
    "status": {"enum": ["stable", "experimental", "deprecated"]},
    "description": {"type": "string"},
    "capabilities": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
    "config_schema": {"type": ["object", "boolean"]}
  }
})";

const JsonSchema& plugin_schema() {
  static const JsonSchema schema(nlohmann::json::parse(kPluginSchema));
  return schema;
}

ManifestPlugin read_plugin(const nlohmann::json& entry, const std::string& where) {
  if (const auto violations = plugin_schema().validate(entry); !violations.empty()) {
    throw ManifestError(fmt::format("{}: {}", where, describe_violations(violations)));
  }
  ManifestPlugin plugin;
  plugin.id = entry.at("id").get<std::string>();
  plugin.kind = entry.at("kind").get<std::string>();
  plugin.version = entry.at("version").get<std::string>();
  plugin.status = entry.value("status", "experimental");
  plugin.description = entry.value("description", "");
  plugin.capabilities = entry.value("capabilities", std::vector<std::string>{});
  if (entry.contains("config_schema")) {
    plugin.config_schema = entry.at("config_schema");
  }
  return plugin;
}

}  // namespace

std::string abi_text(std::uint32_t packed_version) {
  return fmt::format("{}.{}", CRM_ABI_MAJOR_OF(packed_version), CRM_ABI_MINOR_OF(packed_version));
}

std::optional<std::uint32_t> parse_abi(const std::string& text) {
  static const std::regex kAbi("^([0-9]{1,5})\\.([0-9]{1,5})$");
  std::smatch match;
  if (!std::regex_match(text, match, kAbi)) {
    return std::nullopt;
  }
  const unsigned long major = std::stoul(match[1].str());
  const unsigned long minor = std::stoul(match[2].str());
  if (major > 0xFFFF || minor > 0xFFFF) {
    return std::nullopt;
  }
  return CRM_ABI_PACK(major, minor);
}

std::optional<std::string> kind_name(crm_plugin_kind kind) {
  for (const auto& [value, name] : kKinds) {
    if (value == kind) {
      return name;
    }
  }
  return std::nullopt;
}

std::optional<crm_capabilities> capability_bit(const std::string& name) {
  for (const auto& [bit, known] : kCapabilities) {
    if (name == known) {
      return bit;
    }
  }
  return std::nullopt;
}

std::vector<std::string> capability_names(crm_capabilities bits) {
  std::vector<std::string> names;
  for (const auto& [bit, name] : kCapabilities) {
    if ((bits & bit) != 0) {
      names.emplace_back(name);
    }
  }
  return names;
}

Manifest read_manifest(const std::filesystem::path& path) {
  std::ifstream input(path);
  if (!input) {
    throw ManifestError(fmt::format("cannot read {}", path.string()));
  }
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    throw ManifestError(
        fmt::format("{} is not valid JSON: syntax error near byte {}", path.filename().string(), e.byte));
  }
  if (!document.is_object()) {
    throw ManifestError(fmt::format("{}: must be a JSON object", path.filename().string()));
  }
  Manifest manifest;
  manifest.path = path;
  const std::string name = path.filename().string();
  if (!document.contains("abi") || !document["abi"].is_string()) {
    throw ManifestError(
        fmt::format("{}: missing \"abi\" (\"MAJOR.MINOR\" of the SDK the plugin was built with)", name));
  }
  manifest.abi = document["abi"].get<std::string>();
  const auto abi = parse_abi(manifest.abi);
  if (!abi) {
    throw ManifestError(fmt::format("{}: \"abi\" must look like \"1.0\"", name));
  }
  manifest.abi_version = *abi;
  manifest.vendor = document.value("vendor", "");
  if (document.contains("plugins")) {
    if (!document["plugins"].is_array() || document["plugins"].empty()) {
      throw ManifestError(fmt::format("{}: \"plugins\" must be a non-empty array", name));
    }
    for (std::size_t i = 0; i < document["plugins"].size(); ++i) {
      manifest.plugins.push_back(read_plugin(document["plugins"][i], fmt::format("{} /plugins/{}", name, i)));
    }
  } else {
    manifest.plugins.push_back(read_plugin(document, name));
  }
  for (std::size_t i = 0; i < manifest.plugins.size(); ++i) {
    for (std::size_t j = i + 1; j < manifest.plugins.size(); ++j) {
      if (manifest.plugins[i].id == manifest.plugins[j].id) {
        throw ManifestError(
            fmt::format("{}: plugin id \"{}\" is declared twice; give every plugin of a pack its own id", name,
                        manifest.plugins[i].id));
      }
    }
  }
  return manifest;
}

}  // namespace crm::host
