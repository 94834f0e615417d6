#include "core/config.hpp"

#include <gtest/gtest.h>
#include <sstream>
#include <string>

namespace crm::host {
namespace {

using nlohmann::json;

TEST(HostConfig, ResolvesRelativePathsAgainstTheFile) {
  const HostConfig config = parse_host_config(
      json::parse(R"({"database": "data/crm.db", "plugin_dirs": ["vendor", "/opt/crm/plugins"], "log_level": "warn",
                      "plugins": {"scorer_x": {"enabled": false}}})"),
      "/etc/crm", "crmhost.json");
  EXPECT_EQ(config.database, std::filesystem::path("/etc/crm/data/crm.db"));
  ASSERT_EQ(config.plugin_dirs.size(), 2U);
  EXPECT_EQ(config.plugin_dirs[0], std::filesystem::path("/etc/crm/vendor"));
  EXPECT_EQ(config.plugin_dirs[1], std::filesystem::path("/opt/crm/plugins"));
  EXPECT_EQ(config.log_level, "warn");
  EXPECT_FALSE(config.plugins["scorer_x"]["enabled"].get<bool>());
}

TEST(HostConfig, NamesTheFileAndFieldOfAMistake) {
  try {
    (void)parse_host_config(json::parse(R"({"plugins": {"x": {"enable": true}}, "databse": "a.db"})"), "/", "c.json");
    FAIL() << "expected a configuration error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "c.json: /databse: is not an allowed property; /plugins/x/enable: is not an allowed property");
  }
  EXPECT_THROW(load_host_config("/nonexistent/crmhost.json"), ConfigError);
}

// One configuration of the ABC shares, read by win-back and handed to scorers.
TEST(HostConfig, ValueClassSharesAreOneSectionForScorersAndWinback) {
  HostConfig config = parse_host_config(json::object(), "/", "c.json");
  EXPECT_EQ(config.value_classes.a_share, 0.80);
  EXPECT_EQ(config.value_classes.b_share, 0.95);
  config = parse_host_config(json::parse(R"({"value_classes": {"a_share": 0.7, "b_share": 0.9}})"), "/", "c.json");
  EXPECT_EQ(config.winback.value_classes.a_share, 0.7);
  EXPECT_EQ(config.winback.value_classes.b_share, 0.9);
  EXPECT_EQ(plugin_visible_settings(config.value_classes), json::parse(R"({"value_classes": {"a_share": 0.7,
                                                                           "b_share": 0.9}})"));
  try {
    (void)parse_host_config(json::parse(R"({"value_classes": {"a_share": 0.9, "b_share": 0.8}})"), "/", "c.json");
    FAIL() << "expected a configuration error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "c.json: value_classes: b_share must be at least a_share (defaults 0.8 and 0.95)");
  }
  EXPECT_THROW((void)parse_host_config(json::parse(R"({"value_classes": {"a_share": 1.5}})"), "/", "c.json"),
               ConfigError);
}

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

TEST(HostConfig, AllowWritablePluginsIsOffUnlessSet) {
  EXPECT_FALSE(parse_host_config(json::parse("{}"), "/", "c.json").allow_writable_plugins);
  EXPECT_TRUE(
      parse_host_config(json::parse(R"({"allow_writable_plugins": true})"), "/", "c.json").allow_writable_plugins);
}

}  // namespace
}  // namespace crm::host
