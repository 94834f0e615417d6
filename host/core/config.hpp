#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace crm::host {

// A configuration the host cannot run with; the message names the file and field.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses configuration JSON; throws ConfigError naming `source_name` on a
// syntax error or on a key repeated within one object (naming the key and its
// JSON Pointer), which a JSON parser would otherwise silently drop.
nlohmann::json parse_config_json(std::istream& input, const std::string& source_name);

}  // namespace crm::host
