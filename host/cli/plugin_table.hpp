#pragma once

#include <ostream>
#include <vector>

#include "loader/plugin_host.hpp"

namespace crm::host {

// One aligned line per plugin; the last column is `loaded` or `refused: reason`.
void print_plugin_table(std::ostream& out, const std::vector<PluginRecord>& records);

}  // namespace crm::host
