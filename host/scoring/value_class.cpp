#include "scoring/value_class.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace crm::host {

const char* const kValueClassSettingsSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "a_share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "b_share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
  }
})";

ValueClassSettings parse_value_class_settings(const nlohmann::json& section) {
  ValueClassSettings settings;
  if (!section.is_object()) {
    return settings;
  }
  settings.a_share = section.value("a_share", settings.a_share);
  settings.b_share = section.value("b_share", settings.b_share);
  if (settings.b_share < settings.a_share) {
    throw std::invalid_argument("value_classes: b_share must be at least a_share (defaults 0.8 and 0.95)");
  }
  return settings;
}

std::vector<double> revenue_share_above(const std::vector<double>& revenue) {
  std::vector<std::size_t> order;
  double total = 0;
  for (std::size_t i = 0; i < revenue.size(); ++i) {
    if (!std::isnan(revenue[i]) && revenue[i] > 0) {
      order.push_back(i);
      total += revenue[i];
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t left, std::size_t right) { return revenue[left] > revenue[right]; });
  std::vector<double> shares(revenue.size(), std::numeric_limits<double>::quiet_NaN());
  double above = 0;
  for (const std::size_t i : order) {
    shares[i] = above / total;
    above += revenue[i];
  }
  for (std::size_t i = 0; i < revenue.size(); ++i) {
    if (!std::isnan(revenue[i]) && revenue[i] <= 0) {
      shares[i] = 1.0;
    }
  }
  return shares;
}

std::string value_class(double share_above, const ValueClassSettings& settings) {
  if (std::isnan(share_above) || share_above >= settings.b_share) {
    return "C";
  }
  return share_above >= settings.a_share ? "B" : "A";
}

nlohmann::json plugin_visible_settings(const ValueClassSettings& value_classes) {
  return {{"value_classes", {{"a_share", value_classes.a_share}, {"b_share", value_classes.b_share}}}};
}

}  // namespace crm::host
