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
  if (record.state == PluginState::loaded) {
    return "loaded";
  }
  return fmt::format("{}: {}", plugin_state_name(record.state), record.reason);
}

}  // namespace

void print_plugin_table(std::ostream& out, const std::vector<PluginRecord>& records) {
  if (records.empty()) {
    out << "no plugins found\n";
    return;
  }
  // ID is the instance name, PLUGIN the plugin it runs (the same but for entries of "instances").
  const std::array<std::string, 6> header = {"ID", "PLUGIN", "KIND", "VERSION", "ABI", "FILE"};
  std::array<std::size_t, 6> width{};
  for (std::size_t column = 0; column < header.size(); ++column) {
    width[column] = header[column].size();
  }
  std::vector<std::array<std::string, 6>> rows;
  for (const PluginRecord& record : records) {
    rows.push_back({or_dash(record.id), or_dash(record.plugin_id.empty() ? record.id : record.plugin_id),
                    or_dash(record.kind), or_dash(record.version), or_dash(record.abi),
                    record.file.filename().string()});
    for (std::size_t column = 0; column < header.size(); ++column) {
      width[column] = std::max(width[column], rows.back()[column].size());
    }
  }
  const auto print_row = [&](const std::array<std::string, 6>& row, const std::string& state) {
    out << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row[0], width[0], row[1], width[1],
                       row[2], width[2], row[3], width[3], row[4], width[4], row[5], width[5], state);
  };
  print_row(header, "STATE");
  for (std::size_t i = 0; i < records.size(); ++i) {
    print_row(rows[i], state_text(records[i]));
  }
}

}  // namespace crm::host
