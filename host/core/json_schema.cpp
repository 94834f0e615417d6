#include "core/json_schema.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <regex>
#include <string_view>

namespace crm::host {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 12> kAnnotationKeywords = {
    "title", "description", "default",  "examples",  "$comment",         "$schema",
    "$id",   "format",      "readOnly", "writeOnly", "contentMediaType", "contentEncoding"};

constexpr std::array<std::string_view, 17> kValueKeywords = {"type",
                                                             "enum",
                                                             "const",
                                                             "required",
                                                             "minimum",
                                                             "maximum",
                                                             "exclusiveMinimum",
                                                             "exclusiveMaximum",
                                                             "multipleOf",
                                                             "minLength",
                                                             "maxLength",
                                                             "pattern",
                                                             "minItems",
                                                             "maxItems",
                                                             "uniqueItems",
                                                             "minProperties",
                                                             "maxProperties"};

constexpr std::array<std::string_view, 8> kSchemaKeywords = {
    "additionalProperties", "additionalItems", "contains", "propertyNames", "not", "if", "then", "else"};

constexpr std::array<std::string_view, 3> kSchemaArrayKeywords = {"allOf", "anyOf", "oneOf"};

constexpr std::array<std::string_view, 7> kTypeNames = {"null",   "boolean", "object", "array",
                                                        "number", "string",  "integer"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string escape_pointer_token(std::string_view token) {
  std::string escaped;
  for (const char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string child_pointer(const std::string& parent, std::string_view token) {
  return parent + "/" + escape_pointer_token(token);
}

std::string child_pointer(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

void check_schema(const json& schema, const std::string& at);

void check_schema_array(const json& schemas, const std::string& at) {
  if (!schemas.is_array() || schemas.empty()) {
    throw SchemaError(fmt::format("schema {}: must be a non-empty array of schemas", at));
  }
  for (std::size_t i = 0; i < schemas.size(); ++i) {
    check_schema(schemas[i], child_pointer(at, i));
  }
}

void check_number(const json& value, const std::string& at) {
  if (!value.is_number()) {
    throw SchemaError(fmt::format("schema {}: must be a number", at));
  }
}

void check_schema(const json& schema, const std::string& at) {
  if (schema.is_boolean()) {
    return;
  }
  if (!schema.is_object()) {
    throw SchemaError(fmt::format("schema {}: must be an object or a boolean", at.empty() ? "/" : at));
  }
  for (const auto& [keyword, value] : schema.items()) {
    const std::string here = child_pointer(at, keyword);
    if (contains(kAnnotationKeywords, keyword) || keyword.rfind("x-", 0) == 0) {
      continue;
    }
    if (contains(kSchemaKeywords, keyword)) {
      check_schema(value, here);
    } else if (contains(kSchemaArrayKeywords, keyword)) {
      check_schema_array(value, here);
    } else if (keyword == "properties" || keyword == "patternProperties") {
      if (!value.is_object()) {
        throw SchemaError(fmt::format("schema {}: must be an object", here));
      }
      for (const auto& [name, subschema] : value.items()) {
        if (keyword == "patternProperties") {
          try {
            std::regex(name, std::regex::ECMAScript);
          } catch (const std::regex_error&) {
            throw SchemaError(fmt::format("schema {}: \"{}\" is not a valid regular expression", here, name));
          }
        }
        check_schema(subschema, child_pointer(here, name));
      }
    } else if (keyword == "items") {
      if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          check_schema(value[i], child_pointer(here, i));
        }
      } else {
        check_schema(value, here);
      }
    } else if (keyword == "dependencies") {
      if (!value.is_object()) {
        throw SchemaError(fmt::format("schema {}: must be an object", here));
      }
      for (const auto& [name, dependency] : value.items()) {
        if (!dependency.is_array()) {
          check_schema(dependency, child_pointer(here, name));
        }
      }
    } else if (contains(kValueKeywords, keyword)) {
      if (keyword == "pattern") {
        if (!value.is_string()) {
          throw SchemaError(fmt::format("schema {}: must be a string", here));
        }
        try {
          std::regex(value.get<std::string>(), std::regex::ECMAScript);
        } catch (const std::regex_error&) {
          throw SchemaError(fmt::format("schema {}: not a valid regular expression", here));
        }
      } else if (keyword == "minimum" || keyword == "maximum" || keyword == "exclusiveMinimum" ||
                 keyword == "exclusiveMaximum" || keyword == "multipleOf" || keyword.rfind("min", 0) == 0 ||
                 keyword.rfind("max", 0) == 0) {
        check_number(value, here);
      } else if (keyword == "required" &&
                 (!value.is_array() ||
                  !std::all_of(value.begin(), value.end(), [](const json& name) { return name.is_string(); }))) {
        throw SchemaError(fmt::format("schema {}: must be an array of property names", here));
      } else if (keyword == "uniqueItems" && !value.is_boolean()) {
        throw SchemaError(fmt::format("schema {}: must be a boolean", here));
      } else if (keyword == "type") {
        const auto is_type_name = [](const json& name) {
          return name.is_string() && contains(kTypeNames, name.get<std::string>());
        };
        if (!(is_type_name(value) || (value.is_array() && std::all_of(value.begin(), value.end(), is_type_name)))) {
          throw SchemaError(fmt::format("schema {}: must be a type name or an array of type names", here));
        }
      } else if (keyword == "enum" && !value.is_array()) {
        throw SchemaError(fmt::format("schema {}: must be an array", here));
      }
    } else {
      throw SchemaError(fmt::format("schema {}: keyword \"{}\" is not supported by this host", here, keyword));
    }
  }
}

std::string_view type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

bool has_type(const json& value, std::string_view type) {
  if (type == "integer") {
    if (value.is_number_integer()) {
      return true;
    }
    if (value.is_number_float()) {
      const double number = value.get<double>();
      return std::isfinite(number) && std::floor(number) == number;
    }
    return false;
  }
  if (type == "number") return value.is_number();
  if (type == "string") return value.is_string();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

std::size_t code_point_count(const std::string& text) {
  std::size_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
      ++count;
    }
  }
  return count;
}

bool regex_search(const std::string& pattern, const std::string& text) {
  return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
}

class Validator {
 public:
  explicit Validator(std::vector<SchemaViolation>& out) : out_(out) {}

  void check(const json& schema, const json& instance, const std::string& at) {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) {
        fail(at, "no value is allowed here");
      }
      return;
    }
    check_type(schema, instance, at);
    check_enum_const(schema, instance, at);
    check_combinators(schema, instance, at);
    if (instance.is_number()) {
      check_number(schema, instance.get<double>(), at);
    } else if (instance.is_string()) {
      check_string(schema, instance.get_ref<const std::string&>(), at);
    } else if (instance.is_array()) {
      check_array(schema, instance, at);
    } else if (instance.is_object()) {
      check_object(schema, instance, at);
    }
  }

 private:
  void fail(const std::string& at, std::string message) { out_.push_back({at, std::move(message)}); }

  static bool passes(const json& schema, const json& instance, const std::string& at) {
    std::vector<SchemaViolation> scratch;
    Validator(scratch).check(schema, instance, at);
    return scratch.empty();
  }

  void check_type(const json& schema, const json& instance, const std::string& at) {
    const auto type = schema.find("type");
    if (type == schema.end()) {
      return;
    }
    if (type->is_string()) {
      if (!has_type(instance, type->get<std::string>())) {
        fail(at, fmt::format("must be of type {}, not {}", type->get<std::string>(), type_name(instance)));
      }
      return;
    }
    for (const auto& candidate : *type) {
      if (has_type(instance, candidate.get<std::string>())) {
        return;
      }
    }
    fail(at, fmt::format("must be of type {}, not {}", type->dump(), type_name(instance)));
  }

  void check_enum_const(const json& schema, const json& instance, const std::string& at) {
    if (const auto allowed = schema.find("enum"); allowed != schema.end()) {
      bool found = false;
      for (const auto& candidate : *allowed) {
        found = found || candidate == instance;
      }
      if (!found) {
        fail(at, fmt::format("must be one of {}", allowed->dump()));
      }
    }
    if (const auto expected = schema.find("const"); expected != schema.end() && !(*expected == instance)) {
      fail(at, fmt::format("must be {}", expected->dump()));
    }
  }

  void check_combinators(const json& schema, const json& instance, const std::string& at) {
    if (const auto all = schema.find("allOf"); all != schema.end()) {
      for (const auto& subschema : *all) {
        check(subschema, instance, at);
      }
    }
    if (const auto any = schema.find("anyOf"); any != schema.end()) {
      bool matched = false;
      for (const auto& subschema : *any) {
        matched = matched || passes(subschema, instance, at);
      }
      if (!matched) {
        fail(at, "must match at least one schema of anyOf");
      }
    }
    if (const auto one = schema.find("oneOf"); one != schema.end()) {
      std::size_t matches = 0;
      for (const auto& subschema : *one) {
        matches += passes(subschema, instance, at) ? 1 : 0;
      }
      if (matches != 1) {
        fail(at, fmt::format("must match exactly one schema of oneOf, matches {}", matches));
      }
    }
    if (const auto negated = schema.find("not"); negated != schema.end() && passes(*negated, instance, at)) {
      fail(at, "must not match the schema of \"not\"");
    }
    if (const auto condition = schema.find("if"); condition != schema.end()) {
      const bool holds = passes(*condition, instance, at);
      const auto branch = schema.find(holds ? "then" : "else");
      if (branch != schema.end()) {
        check(*branch, instance, at);
      }
    }
  }

  void check_number(const json& schema, double value, const std::string& at) {
    if (const auto limit = schema.find("minimum"); limit != schema.end() && value < limit->get<double>()) {
      fail(at, fmt::format("must be >= {}", limit->dump()));
    }
    if (const auto limit = schema.find("maximum"); limit != schema.end() && value > limit->get<double>()) {
      fail(at, fmt::format("must be <= {}", limit->dump()));
    }
    if (const auto limit = schema.find("exclusiveMinimum"); limit != schema.end() && value <= limit->get<double>()) {
      fail(at, fmt::format("must be > {}", limit->dump()));
    }
    if (const auto limit = schema.find("exclusiveMaximum"); limit != schema.end() && value >= limit->get<double>()) {
      fail(at, fmt::format("must be < {}", limit->dump()));
    }
    if (const auto divisor = schema.find("multipleOf"); divisor != schema.end()) {
      const double quotient = value / divisor->get<double>();
      // A relative tolerance, because 0.0075 / 0.0001 is 74.99999999999999 in binary floating point.
      const bool is_multiple = std::isfinite(quotient) &&
                               std::fabs(quotient - std::round(quotient)) <= 1e-9 * std::max(1.0, std::fabs(quotient));
      if (!is_multiple) {
        fail(at, fmt::format("must be a multiple of {}", divisor->dump()));
      }
    }
  }

  void check_string(const json& schema, const std::string& value, const std::string& at) {
    const auto length = static_cast<double>(code_point_count(value));
    if (const auto limit = schema.find("minLength"); limit != schema.end() && length < limit->get<double>()) {
      fail(at, fmt::format("must be at least {} characters long", limit->dump()));
    }
    if (const auto limit = schema.find("maxLength"); limit != schema.end() && length > limit->get<double>()) {
      fail(at, fmt::format("must be at most {} characters long", limit->dump()));
    }
    if (const auto pattern = schema.find("pattern");
        pattern != schema.end() && !regex_search(pattern->get<std::string>(), value)) {
      fail(at, fmt::format("must match the pattern {}", pattern->dump()));
    }
  }

  void check_array(const json& schema, const json& instance, const std::string& at) {
    const auto size = static_cast<double>(instance.size());
    if (const auto limit = schema.find("minItems"); limit != schema.end() && size < limit->get<double>()) {
      fail(at, fmt::format("must have at least {} items", limit->dump()));
    }
    if (const auto limit = schema.find("maxItems"); limit != schema.end() && size > limit->get<double>()) {
      fail(at, fmt::format("must have at most {} items", limit->dump()));
    }
    if (const auto unique = schema.find("uniqueItems"); unique != schema.end() && unique->get<bool>()) {
      for (std::size_t i = 0; i < instance.size(); ++i) {
        for (std::size_t j = i + 1; j < instance.size(); ++j) {
          if (instance[i] == instance[j]) {
            fail(at, fmt::format("items {} and {} must not be equal", i, j));
          }
        }
      }
    }
    if (const auto items = schema.find("items"); items != schema.end()) {
      if (items->is_array()) {
        for (std::size_t i = 0; i < instance.size(); ++i) {
          if (i < items->size()) {
            check((*items)[i], instance[i], child_pointer(at, i));
          } else if (const auto extra = schema.find("additionalItems"); extra != schema.end()) {
            check(*extra, instance[i], child_pointer(at, i));
          }
        }
      } else {
        for (std::size_t i = 0; i < instance.size(); ++i) {
          check(*items, instance[i], child_pointer(at, i));
        }
      }
    }
    if (const auto contains = schema.find("contains"); contains != schema.end()) {
      bool found = false;
      for (std::size_t i = 0; i < instance.size() && !found; ++i) {
        found = passes(*contains, instance[i], child_pointer(at, i));
      }
      if (!found) {
        fail(at, "must contain an item matching \"contains\"");
      }
    }
  }

  void check_object(const json& schema, const json& instance, const std::string& at) {
    const auto size = static_cast<double>(instance.size());
    if (const auto limit = schema.find("minProperties"); limit != schema.end() && size < limit->get<double>()) {
      fail(at, fmt::format("must have at least {} properties", limit->dump()));
    }
    if (const auto limit = schema.find("maxProperties"); limit != schema.end() && size > limit->get<double>()) {
      fail(at, fmt::format("must have at most {} properties", limit->dump()));
    }
    if (const auto required = schema.find("required"); required != schema.end()) {
      for (const auto& name : *required) {
        if (!instance.contains(name.get<std::string>())) {
          fail(at, fmt::format("missing required property \"{}\"", name.get<std::string>()));
        }
      }
    }
    if (const auto dependencies = schema.find("dependencies"); dependencies != schema.end()) {
      for (const auto& [name, dependency] : dependencies->items()) {
        if (!instance.contains(name)) {
          continue;
        }
        if (dependency.is_array()) {
          for (const auto& needed : dependency) {
            if (!instance.contains(needed.get<std::string>())) {
              fail(at, fmt::format("property \"{}\" requires property \"{}\"", name, needed.get<std::string>()));
            }
          }
        } else {
          check(dependency, instance, at);
        }
      }
    }
    const auto properties = schema.find("properties");
    const auto patterns = schema.find("patternProperties");
    const auto additional = schema.find("additionalProperties");
    const auto names = schema.find("propertyNames");
    for (const auto& [name, value] : instance.items()) {
      const std::string here = child_pointer(at, name);
      if (names != schema.end() && !passes(*names, json(name), here)) {
        fail(here, "property name does not match \"propertyNames\"");
      }
      bool matched = false;
      if (properties != schema.end()) {
        if (const auto property = properties->find(name); property != properties->end()) {
          matched = true;
          check(*property, value, here);
        }
      }
      if (patterns != schema.end()) {
        for (const auto& [pattern, subschema] : patterns->items()) {
          if (regex_search(pattern, name)) {
            matched = true;
            check(subschema, value, here);
          }
        }
      }
      if (!matched && additional != schema.end()) {
        if (additional->is_boolean() && !additional->get<bool>()) {
          fail(here, "is not an allowed property");
        } else {
          check(*additional, value, here);
        }
      }
    }
  }

  std::vector<SchemaViolation>& out_;
};

void apply_defaults_at(const json& schema, json& instance) {
  if (!schema.is_object()) {
    return;
  }
  if (instance.is_object()) {
    if (const auto properties = schema.find("properties"); properties != schema.end()) {
      for (const auto& [name, subschema] : properties->items()) {
        if (!instance.contains(name) && subschema.is_object() && subschema.contains("default")) {
          instance[name] = subschema["default"];
        }
        if (instance.contains(name)) {
          apply_defaults_at(subschema, instance[name]);
        }
      }
    }
  } else if (instance.is_array()) {
    if (const auto items = schema.find("items"); items != schema.end() && items->is_object()) {
      for (auto& item : instance) {
        apply_defaults_at(*items, item);
      }
    }
  }
}

void collect_annotated(const json& schema, const json& instance, const json::json_pointer& at,
                       const std::string& annotation, std::vector<json::json_pointer>& out) {
  if (!schema.is_object()) {
    return;
  }
  if (const auto marked = schema.find(annotation); marked != schema.end() && *marked == true) {
    out.push_back(at);
    return;
  }
  if (instance.is_object()) {
    const auto properties = schema.find("properties");
    const auto additional = schema.find("additionalProperties");
    for (const auto& [name, value] : instance.items()) {
      if (properties != schema.end() && properties->contains(name)) {
        collect_annotated((*properties)[name], value, at / name, annotation, out);
      } else if (additional != schema.end()) {
        collect_annotated(*additional, value, at / name, annotation, out);
      }
    }
  } else if (instance.is_array()) {
    if (const auto items = schema.find("items"); items != schema.end() && items->is_object()) {
      for (std::size_t i = 0; i < instance.size(); ++i) {
        collect_annotated(*items, instance[i], at / i, annotation, out);
      }
    }
  }
}

void collect_host_settings(const json& schema, const json::json_pointer& at,
                           std::vector<JsonSchema::HostSettingField>& out) {
  if (!schema.is_object()) {
    return;
  }
  if (const auto setting = schema.find("x-crm-host-setting"); setting != schema.end()) {
    out.push_back({at, *setting});
    return;
  }
  if (const auto properties = schema.find("properties"); properties != schema.end() && properties->is_object()) {
    for (const auto& [name, property] : properties->items()) {
      collect_host_settings(property, at / name, out);
    }
  }
}

}  // namespace

std::vector<JsonSchema::HostSettingField> JsonSchema::host_setting_fields() const {
  std::vector<HostSettingField> fields;
  collect_host_settings(schema_, json::json_pointer(), fields);
  return fields;
}

JsonSchema::JsonSchema(nlohmann::json schema) : schema_(std::move(schema)) {
  check_schema(schema_, "");
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json& instance) const {
  std::vector<SchemaViolation> violations;
  Validator(violations).check(schema_, instance, "");
  return violations;
}

void JsonSchema::apply_defaults(nlohmann::json& instance) const {
  apply_defaults_at(schema_, instance);
}

std::vector<nlohmann::json::json_pointer> JsonSchema::annotated_pointers(const nlohmann::json& instance,
                                                                         const std::string& annotation) const {
  std::vector<nlohmann::json::json_pointer> pointers;
  collect_annotated(schema_, instance, nlohmann::json::json_pointer(), annotation, pointers);
  return pointers;
}

std::string describe_violations(const std::vector<SchemaViolation>& violations) {
  std::string text;
  for (const SchemaViolation& violation : violations) {
    if (!text.empty()) {
      text += "; ";
    }
    text +=
        (violation.instance_pointer.empty() ? std::string("/") : violation.instance_pointer) + ": " + violation.message;
  }
  return text;
}

}  // namespace crm::host
