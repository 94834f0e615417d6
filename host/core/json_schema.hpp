#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace crm::host {

// One way an instance breaks a schema. `message` names the rule, never the
// instance's value (the value may be a secret).
struct SchemaViolation {
  std::string instance_pointer;  // RFC 6901, "" for the root
  std::string message;
};

// The schema itself uses a keyword this validator does not implement, or is
// malformed. Thrown by the constructor, so a plugin whose schema cannot be
// checked is refused rather than silently half-validated.
class SchemaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A JSON Schema validator for the draft-7 subset documented in README.md
// (every validation keyword except $ref/definitions; "format" is an
// annotation). Proven on the official JSON-Schema-Test-Suite, see
// tests/host/core/json_schema_suite_test.cpp.
class JsonSchema {
 public:
  explicit JsonSchema(nlohmann::json schema);

  [[nodiscard]] std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;
  [[nodiscard]] bool is_valid(const nlohmann::json& instance) const { return validate(instance).empty(); }

  // Fills absent object properties whose schema has a "default".
  void apply_defaults(nlohmann::json& instance) const;

  // Pointers of the values in `instance` whose schema says "x-crm-secret": true.
  [[nodiscard]] std::vector<nlohmann::json::json_pointer> secret_pointers(const nlohmann::json& instance) const {
    return annotated_pointers(instance, "x-crm-secret");
  }
  // Pointers of the values in `instance` whose schema has `annotation`: true.
  [[nodiscard]] std::vector<nlohmann::json::json_pointer> annotated_pointers(const nlohmann::json& instance,
                                                                             const std::string& annotation) const;

  // A field whose schema says "x-crm-host-setting": "<dotted path>": the loader fills it
  // from that host setting (e.g. "value_classes.a_share").
  struct HostSettingField {
    nlohmann::json::json_pointer pointer;  // in the plugin's configuration
    nlohmann::json setting;                // the annotation's value, as written
  };
  // Every such field of the schema's nested "properties", present in an instance or not.
  [[nodiscard]] std::vector<HostSettingField> host_setting_fields() const;

 private:
  nlohmann::json schema_;
};

// "/a/b: message; /c: message" for one-line reports.
std::string describe_violations(const std::vector<SchemaViolation>& violations);

}  // namespace crm::host
