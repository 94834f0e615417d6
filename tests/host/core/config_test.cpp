#include "core/config.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace crm::host
