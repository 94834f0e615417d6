#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace crm::host {

// ABC value classes on revenue (domain.md section 4): ranked by revenue, the
// customers bringing the first `a_share` of all revenue are class A, those up
// to `b_share` B, the rest C. The host's "value_classes" configuration
// section; scorers read the same numbers through their configuration (fields
// marked "x-crm-host-setting", filled by the loader), win-back reads them here.
struct ValueClassSettings {
  double a_share = 0.80;
  double b_share = 0.95;
};

// The JSON Schema of the "value_classes" section, embedded in the host configuration's schema.
extern const char* const kValueClassSettingsSchema;

// Parses the schema-checked section; throws std::invalid_argument when b_share is below a_share.
ValueClassSettings parse_value_class_settings(const nlohmann::json& section);

// Per customer, the share of all positive revenue brought by the customers
// worth more: 0 for the best, 1 for a customer with no revenue, NaN where the
// revenue is NaN (unknown). Ties keep input order.
std::vector<double> revenue_share_above(const std::vector<double>& revenue);

// "A", "B" or "C" for a share of revenue above the customer (NaN: "C").
std::string value_class(double share_above, const ValueClassSettings& settings);

// The host settings plugins may take through "x-crm-host-setting" (a dotted
// path into this object names one): {"value_classes": {"a_share": .., "b_share": ..}}.
nlohmann::json plugin_visible_settings(const ValueClassSettings& value_classes);

}  // namespace crm::host
