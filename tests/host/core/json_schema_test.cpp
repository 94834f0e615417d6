#include "core/json_schema.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

using nlohmann::json;

TEST(JsonSchema, RefusesKeywordsOutsideTheSubset) {
  try {
    JsonSchema schema(json::parse(R"({"properties": {"a": {"$ref": "#/definitions/x"}}})"));
    FAIL() << "a $ref must be refused, not ignored";
  } catch (const SchemaError& e) {
    EXPECT_STREQ(e.what(), "schema /properties/a/$ref: keyword \"$ref\" is not supported by this host");
  }
  EXPECT_THROW(JsonSchema(json::parse(R"({"type": "sting"})")), SchemaError);
  EXPECT_THROW(JsonSchema(json::parse(R"({"pattern": "("})")), SchemaError);
  EXPECT_NO_THROW(JsonSchema(json::parse(R"({"x-crm-secret": true, "description": "d", "format": "uri"})")));
}

TEST(JsonSchema, ViolationsNameThePlaceButNotTheValue) {
  const JsonSchema schema(json::parse(R"({
    "type": "object",
    "required": ["url"],
    "properties": {"port": {"type": "integer", "maximum": 65535}, "tags": {"type": "array", "items": {"type": "string"}}}
  })"));
  const auto violations = schema.validate(json::parse(R"({"port": 70000, "tags": ["a", 12345678]})"));
  EXPECT_EQ(describe_violations(violations),
            "/: missing required property \"url\"; /port: must be <= 65535; /tags/1: must be of type string, not "
            "integer");
  EXPECT_EQ(describe_violations(violations).find("70000"), std::string::npos);
}

TEST(JsonSchema, AppliesDefaultsAndFindsSecrets) {
  const JsonSchema schema(json::parse(R"({
    "type": "object",
    "properties": {
      "timeout_ms": {"type": "integer", "default": 5000},
      "auth": {"type": "object", "properties": {"password": {"type": "string", "x-crm-secret": true}}},
      "robots": {"type": "array", "items": {"type": "object", "properties": {"key": {"x-crm-secret": true}}}}
    }
  })"));
  json config = json::parse(R"({"auth": {"password": {"env": "P"}}, "robots": [{"key": {"env": "K1"}}, {}]})");
  schema.apply_defaults(config);
  EXPECT_EQ(config["timeout_ms"], 5000);
  const auto secrets = schema.secret_pointers(config);
  ASSERT_EQ(secrets.size(), 2U);
  EXPECT_EQ(secrets[0].to_string(), "/auth/password");
  EXPECT_EQ(secrets[1].to_string(), "/robots/0/key");
}

TEST(JsonSchema, FindsFieldsTakenFromHostSettingsPresentOrNot) {
  const JsonSchema schema(json::parse(R"({
    "type": "object",
    "properties": {
      "abc_a_share": {"type": "number", "default": 0.8, "x-crm-host-setting": "value_classes.a_share"},
      "nested": {"type": "object", "properties": {"b": {"x-crm-host-setting": "value_classes.b_share"}}},
      "plain": {"type": "number"}
    }
  })"));
  const auto fields = schema.host_setting_fields();
  ASSERT_EQ(fields.size(), 2U);
  EXPECT_EQ(fields[0].pointer.to_string(), "/abc_a_share");
  EXPECT_EQ(fields[0].setting, "value_classes.a_share");
  EXPECT_EQ(fields[1].pointer.to_string(), "/nested/b");
  EXPECT_EQ(fields[1].setting, "value_classes.b_share");
}

}  // namespace
}  // namespace crm::host
