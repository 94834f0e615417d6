#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "loader/plugin_host.hpp"

namespace crm::host {

// {"host_abi": "1.0", "plugins": [{"id", "kind", "version", "abi", "file", "state", "reason"}]}
nlohmann::json plugin_records_json(const std::vector<PluginRecord>& records);

// One aligned line per plugin; the last column is `loaded` or `refused: reason`.
void print_plugin_table(std::ostream& out, const std::vector<PluginRecord>& records);

}  // namespace crm::host
