#include "core/config.hpp"

#include <gtest/gtest.h>
#include <sstream>
#include <string>

namespace crm::host {
namespace {

// The message parse_config_json throws for `text` ("" when it parses).
std::string parse_error(const std::string& text) {
  std::istringstream input(text);
  try {
    (void)parse_config_json(input, "crmhost.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST(HostConfig, AKeyRepeatedAnywhereIsAnErrorNamingTheKeyAndItsPath) {
  EXPECT_EQ(parse_error(R"({"database": "a.db", "log_level": "info", "database": "b.db"})"),
            "crmhost.json: key \"database\" appears twice at /database; JSON keeps only the last value, so remove one "
            "of the two");
  EXPECT_EQ(parse_error(R"({"plugins": {"scorer_health": {"enabled": true, "config": {}, "enabled": false}}})"),
            "crmhost.json: key \"enabled\" appears twice at /plugins/scorer_health/enabled; JSON keeps only the last "
            "value, so remove one of the two");
  // Inside arrays, in a plugin's own configuration, and in keys that need escaping in a JSON Pointer.
  EXPECT_EQ(parse_error(R"({"plugins": {"erp_csv": {"config": {"files": [1, {"a": 1}, {"a/b": 1, "a/b": 2}]}}}})"),
            "crmhost.json: key \"a/b\" appears twice at /plugins/erp_csv/config/files/2/a~1b; JSON keeps only the "
            "last value, so remove one of the two");
  EXPECT_EQ(parse_error(R"({"alerts": {"routes": [{"levels": [["x"]], "channel": "a"}, {"channel": "b"}]},
                            "scoring": {"x": 1}, "alerts": {}})"),
            "crmhost.json: key \"alerts\" appears twice at /alerts; JSON keeps only the last value, so remove one of "
            "the two");
  // The same key in sibling objects is no repetition.
  EXPECT_EQ(parse_error(R"({"plugins": {"a": {"enabled": true}, "b": {"enabled": true}}, "x": [{"k": 1}, {"k": 2}]})"),
            "");
  EXPECT_EQ(parse_error(R"({"database": )"), "crmhost.json is not valid JSON: syntax error near byte 14");
}

}  // namespace
}  // namespace crm::host
