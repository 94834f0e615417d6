#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crm/plugin.hpp"
#include "crm/record_layout.hpp"

namespace crm::connectors {

// Where one record field's value comes from in a row.
struct FieldSource {
  const crm::RecordField* field = nullptr;
  std::vector<std::string> columns;  // one column, or the factors of a product
  std::vector<std::size_t> indexes;  // their positions in the current file, resolved once per file
  bool is_product = false;
  std::optional<std::string> constant;
  bool integer = false;                            // "17850.0" -> "17850"
  std::map<std::string, std::string> when_prefix;  // value starts with key -> this text
  std::optional<std::string> otherwise;
  std::vector<std::string> date_formats;  // empty: the connector's
};

// Parses "%Y-%m-%d %H:%M:%S"-style text (%Y %m %d %H %M %S and literal
// characters) into milliseconds since the Unix epoch, UTC.
std::optional<std::int64_t> parse_time_ms(std::string_view text, std::string_view format, int utc_offset_minutes);

std::optional<double> parse_number(std::string_view text);

std::string_view trim(std::string_view text);

// "17850.0" -> "17850"; anything else unchanged.
std::string_view strip_zero_fraction(std::string_view text);

}  // namespace crm::connectors
