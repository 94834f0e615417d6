#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "app/plugin_validation.hpp"
#include "loader/plugin_host.hpp"

namespace crm::host {

// One aligned line per plugin; the last column is `loaded` or `refused: reason`.
void print_plugin_table(std::ostream& out, const std::vector<PluginRecord>& records);

// "PASS scorer_rfm: empty batch", "FAIL my_scorer: same input same output: customer c17 scored 41.2 then 40.9",
// "SKIPPED erp_csv: cursor round trip: needs --config (...)".
std::string format_check_line(const CheckResult& check);
// One line per plugin with its counts, then the whole file's.
void print_plugin_validation_summary(std::ostream& out, const PluginValidation& validation);

}  // namespace crm::host
