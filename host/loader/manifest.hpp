#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "crm/abi.h"

namespace crm::host {

class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What plugin.json says about one plugin.
struct ManifestPlugin {
  std::string id;
  std::string kind;
  std::string version;
  std::string status;
  std::string description;
  std::vector<std::string> capabilities;
  std::optional<nlohmann::json> config_schema;
};

// A library's manifest (NAME.json beside NAME.so): one plugin or a pack.
struct Manifest {
  std::filesystem::path path;
  std::string abi;                // "MAJOR.MINOR" as written
  std::uint32_t abi_version = 0;  // CRM_ABI_PACK of `abi`
  std::string vendor;
  std::vector<ManifestPlugin> plugins;
};

// Reads and checks a manifest; throws ManifestError naming the file and field.
Manifest read_manifest(const std::filesystem::path& path);

std::string abi_text(std::uint32_t packed_version);
std::optional<std::uint32_t> parse_abi(const std::string& text);

std::optional<std::string> kind_name(crm_plugin_kind kind);
std::optional<crm_capabilities> capability_bit(const std::string& name);
std::vector<std::string> capability_names(crm_capabilities bits);

}  // namespace crm::host
