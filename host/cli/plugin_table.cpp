#include "cli/plugin_table.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <string>

namespace crm::host {
namespace {

std::string or_dash(const std::string& text) {
  return text.empty() ? "-" : text;
}

std::string state_text(const PluginRecord& record) {
  if (record.state != PluginState::loaded) {
    return fmt::format("{}: {}", plugin_state_name(record.state), record.reason);
  }
  for (const PluginRuntimeStatus& runtime : plugin_runtime_statuses()) {
    if (runtime.plugin != record.id || runtime.failures == 0) {
      continue;
    }
    if (runtime.disabled_reason) {
      return fmt::format("disabled: {}", *runtime.disabled_reason);
    }
    return fmt::format("running, restarted {} time{} (last failure: {})", runtime.restarts,
                       runtime.restarts == 1 ? "" : "s", runtime.last_failure);
  }
  return "loaded";
}

}  // namespace

void print_plugin_table(std::ostream& out, const std::vector<PluginRecord>& records) {
  if (records.empty()) {
    out << "no plugins found\n";
    return;
  }
  // ID is the instance name, PLUGIN the plugin it runs (the same but for entries of "instances").
  const std::array<std::string, 7> header = {"ID", "PLUGIN", "KIND", "VERSION", "ABI", "ISOLATION", "FILE"};
  std::array<std::size_t, 7> width{};
  for (std::size_t column = 0; column < header.size(); ++column) {
    width[column] = header[column].size();
  }
  std::vector<std::array<std::string, 7>> rows;
  for (const PluginRecord& record : records) {
    rows.push_back({or_dash(record.id), or_dash(record.plugin_id.empty() ? record.id : record.plugin_id),
                    or_dash(record.kind), or_dash(record.version), or_dash(record.abi), or_dash(record.isolation),
                    record.file.filename().string()});
    for (std::size_t column = 0; column < header.size(); ++column) {
      width[column] = std::max(width[column], rows.back()[column].size());
    }
  }
  const auto print_row = [&](const std::array<std::string, 7>& row, const std::string& state) {
    out << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row[0], width[0], row[1],
                       width[1], row[2], width[2], row[3], width[3], row[4], width[4], row[5], width[5], row[6],
                       width[6], state);
  };
  print_row(header, "STATE");
  for (std::size_t i = 0; i < records.size(); ++i) {
    print_row(rows[i], state_text(records[i]));
  }
}

}  // namespace crm::host

namespace crm::host {

std::string format_check_line(const CheckResult& check) {
  const char* label = check.outcome == CheckOutcome::pass   ? "PASS"
                      : check.outcome == CheckOutcome::fail ? "FAIL"
                                                            : "SKIPPED";
  return fmt::format("{} {}: {}{}", label, check.plugin, check.check, check.detail.empty() ? "" : ": " + check.detail);
}

void print_plugin_validation_summary(std::ostream& out, const PluginValidation& validation) {
  std::vector<std::string> plugins;
  for (const CheckResult& check : validation.checks) {
    if (std::find(plugins.begin(), plugins.end(), check.plugin) == plugins.end()) {
      plugins.push_back(check.plugin);
    }
  }
  for (const std::string& plugin : plugins) {
    std::array<std::size_t, 3> counts{};
    for (const CheckResult& check : validation.checks) {
      if (check.plugin == plugin) {
        ++counts[static_cast<std::size_t>(check.outcome)];
      }
    }
    out << fmt::format("{}: {} passed, {} failed, {} skipped\n", plugin, counts[0], counts[1], counts[2]);
  }
  out << fmt::format("{}: {} checks, {} passed, {} failed, {} skipped: {}\n", validation.file.filename().string(),
                     validation.checks.size(), validation.count(CheckOutcome::pass),
                     validation.count(CheckOutcome::fail), validation.count(CheckOutcome::skip),
                     validation.passed() ? "conforms" : "FAILED");
}

}  // namespace crm::host
