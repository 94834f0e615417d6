#include "app/host_config.hpp"

#include <filesystem>
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

TEST(HostConfig, AllowWritablePluginsIsOffUnlessSet) {
  EXPECT_FALSE(parse_host_config(json::parse("{}"), "/", "c.json").allow_writable_plugins);
  EXPECT_TRUE(
      parse_host_config(json::parse(R"({"allow_writable_plugins": true})"), "/", "c.json").allow_writable_plugins);
}

// What notifications say: the web app's address for their links, and per
// route the language and the clock of the deadline.
TEST(HostConfig, NotificationsTakeThePublicUrlLanguageAndClock) {
  const HostConfig config = parse_host_config(json::parse(R"({
    "public_url": "https://crm.example.com/",
    "alerts": {"language": "zh-CN", "utc_offset_minutes": 480, "first_actions": {"red": "Call the CEO."},
               "max_reasons": 5,
               "routes": [{"channel": "alert_email", "language": "en", "utc_offset_minutes": -300}]}})"),
                                              "/", "c.json");
  EXPECT_EQ(config.public_url, "https://crm.example.com");
  EXPECT_EQ(config.alerts.public_url, "https://crm.example.com");
  EXPECT_EQ(config.alerts.language, "zh-CN");
  EXPECT_EQ(config.alerts.utc_offset_minutes, 480);
  EXPECT_EQ(config.alerts.first_actions.at("red"), "Call the CEO.");
  EXPECT_EQ(config.alerts.max_reasons, 5);
  EXPECT_EQ(config.alerts.routes.front().language, "en");
  EXPECT_EQ(config.alerts.routes.front().utc_offset_minutes, -300);
  EXPECT_EQ(parse_host_config(json::object(), "/", "c.json").public_url, "") << "no links by default";
  for (const char* wrong : {R"({"public_url": "crm.example.com"})", R"({"public_url": "https://crm.example.com?x=1"})",
                            R"({"alerts": {"language": "fr"}})", R"({"alerts": {"utc_offset_minutes": 900}})"}) {
    EXPECT_THROW((void)parse_host_config(json::parse(wrong), "/", "c.json"), ConfigError) << wrong;
  }
}

// Deadlines on a person's own clock: IANA zones for the section, a route and
// each recipient address (matched whatever its case); a name that is no zone
// is refused naming where it is.
TEST(HostConfig, AlertTimeZonesComeFromTheSectionARouteAndEachRecipient) {
  const HostConfig config = parse_host_config(json::parse(R"({
    "alerts": {"time_zone": "Asia/Shanghai",
               "routes": [{"channel": "alert_email", "time_zone": "Europe/Berlin"}],
               "recipient_settings": {"Li.Na@Example.com": {"time_zone": "America/New_York", "language": "zh-CN"},
                                      "ops": {"language": "en"}}}})"),
                                              "/", "c.json");
  ASSERT_NE(config.alerts.time_zone, nullptr);
  EXPECT_EQ(config.alerts.time_zone->name(), "Asia/Shanghai");
  ASSERT_NE(config.alerts.routes.front().time_zone, nullptr);
  EXPECT_EQ(config.alerts.routes.front().time_zone->name(), "Europe/Berlin");
  const RecipientSettings& li = config.alerts.recipient_settings.at("li.na@example.com");
  ASSERT_NE(li.time_zone, nullptr);
  EXPECT_EQ(li.time_zone->name(), "America/New_York");
  EXPECT_EQ(li.language, "zh-CN");
  EXPECT_EQ(config.alerts.recipient_settings.at("ops").time_zone, nullptr);
  for (const auto& [wrong, where] :
       {std::pair{R"({"alerts": {"time_zone": "Mars/Olympus"}})", "alerts.time_zone"},
        std::pair{R"({"alerts": {"routes": [{"channel": "c"}, {"channel": "d", "time_zone": "../../etc/passwd"}]}})",
                  "alerts.routes[1].time_zone"},
        std::pair{R"({"alerts": {"recipient_settings": {"bob": {"time_zone": "Nowhere"}}}})",
                  "alerts.recipient_settings.bob.time_zone"}}) {
    try {
      (void)parse_host_config(json::parse(wrong), "/", "c.json");
      ADD_FAILURE() << "accepted " << wrong;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace crm::host
