#include "app/wecom_callback.hpp"

#include <gtest/gtest.h>

#include "support/test_host.hpp"

namespace crm::host {
namespace {

constexpr const char* kAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

HostConfig config_with(const nlohmann::json& callback) {
  return parse_host_config({{"service", {{"wecom_callback", callback}}}}, ".", "test.json");
}

nlohmann::json complete_section() {
  return {{"corp_id", "ww1"},
          {"token", {{"env", "WECOM_TOKEN"}}},
          {"encoding_aes_key", {{"env", "WECOM_AES_KEY"}}},
          {"source", "im_wecom"}};
}

const EnvironmentLookup kEnvironment =
    testing::environment_of({{"WECOM_TOKEN", "QDG6eK"}, {"WECOM_AES_KEY", kAesKey}, {"BAD_KEY", "tooshort"}});

std::string config_error(const nlohmann::json& callback, const EnvironmentLookup& environment = kEnvironment) {
  try {
    (void)wecom_callback_settings(config_with(callback), environment);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(WecomCallbackSettings, AbsentSectionMeansNoEndpoint) {
  EXPECT_FALSE(wecom_callback_settings(parse_host_config(nlohmann::json::object(), ".", "test.json"), kEnvironment));
}

TEST(WecomCallbackSettings, ResolvesSecretsFromTheEnvironment) {
  nlohmann::json section = complete_section();
  section["max_clock_skew_s"] = 120;
  const std::optional<WecomCallbackSettings> settings = wecom_callback_settings(config_with(section), kEnvironment);
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->path, "/wecom/callback");
  EXPECT_EQ(settings->corp_id, "ww1");
  EXPECT_EQ(settings->token, "QDG6eK");
  EXPECT_EQ(settings->encoding_aes_key, kAesKey);
  EXPECT_EQ(settings->source, "im_wecom");
  EXPECT_EQ(settings->max_clock_skew_s, 120);
}

TEST(WecomCallbackSettings, ErrorsNameTheFieldAndNeverTheSecret) {
  nlohmann::json inline_token = complete_section();
  inline_token["token"] = "QDG6eK";
  try {
    (void)config_with(inline_token);
    FAIL() << "an inline token must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("wecom_callback/token"), std::string::npos) << e.what();
  }
  nlohmann::json unset = complete_section();
  unset["token"]["env"] = "NOT_SET_ANYWHERE";
  EXPECT_NE(config_error(unset).find("service.wecom_callback.token refers to environment variable NOT_SET_ANYWHERE"),
            std::string::npos)
      << config_error(unset);
  nlohmann::json bad_key = complete_section();
  bad_key["encoding_aes_key"]["env"] = "BAD_KEY";
  const std::string key_error = config_error(bad_key);
  EXPECT_NE(key_error.find("service.wecom_callback.encoding_aes_key"), std::string::npos) << key_error;
  EXPECT_EQ(key_error.find("tooshort"), std::string::npos) << key_error;
  nlohmann::json api_path = complete_section();
  api_path["path"] = "/api/v1/wecom";
  EXPECT_NE(config_error(api_path).find("service.wecom_callback.path"), std::string::npos);
  nlohmann::json no_source = complete_section();
  no_source.erase("source");
  try {
    (void)config_with(no_source);
    FAIL() << "a section without source must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("source"), std::string::npos) << e.what();
  }
}

TEST(WecomXml, ReadsTheFlatShapeWecomSends) {
  const auto message = parse_wecom_xml(
      "<?xml version=\"1.0\"?>\n<xml>\n  <ToUserName><![CDATA[ww1]]></ToUserName>\n"
      "  <CreateTime>1700000000</CreateTime><Event><![CDATA[a <b> & c]]></Event><Empty></Empty>\n</xml>\n");
  EXPECT_EQ(message.at("ToUserName"), "ww1");
  EXPECT_EQ(message.at("CreateTime"), "1700000000");
  EXPECT_EQ(message.at("Event"), "a <b> & c");
  EXPECT_EQ(message.at("Empty"), "");
}

TEST(WecomXml, RefusesAnythingElse) {
  for (const char* bad :
       {"", "not xml", "<root></root>", "<xml><A>1</A>", "<xml><A x=\"1\">1</A></xml>", "<xml><A><B>1</B></A></xml>",
        "<xml><A>1</B></xml>", "<xml><A>&amp;</A></xml>", "<xml><A>1</A><A>2</A></xml>", "<xml><A><![CDATA[1</A></xml>",
        "<xml></xml>trailing", "<xml><!-- c --></xml>"}) {
    EXPECT_THROW((void)parse_wecom_xml(bad), WecomMessageError) << bad;
  }
}

TEST(WecomXml, ChangeEventsAndOtherEvents) {
  const auto event = wecom_change_event(
      parse_wecom_xml("<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>"
                      "<ChangeType><![CDATA[transfer_fail]]></ChangeType><UserID><![CDATA[lisi]]></UserID>"
                      "<ExternalUserID><![CDATA[wmX]]></ExternalUserID><CreateTime>1700000123</CreateTime>"
                      "<FailReason><![CDATA[customer_refused]]></FailReason></xml>"));
  ASSERT_TRUE(event);
  EXPECT_EQ(event->change_type, "transfer_fail");
  EXPECT_EQ(event->user_id, "lisi");
  EXPECT_EQ(event->external_user_id, "wmX");
  EXPECT_EQ(event->create_time_s, 1700000123);
  EXPECT_EQ(event->fail_reason, "customer_refused");
  EXPECT_FALSE(wecom_change_event(parse_wecom_xml(
      "<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event></xml>")));
  EXPECT_THROW((void)wecom_change_event(parse_wecom_xml(
                   "<xml><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>x</ChangeType>"
                   "<UserID>u</UserID><ExternalUserID>e</ExternalUserID><CreateTime>soon</CreateTime></xml>")),
               WecomMessageError);
  EXPECT_THROW((void)wecom_change_event(parse_wecom_xml(
                   "<xml><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>x</ChangeType>"
                   "<ExternalUserID>e</ExternalUserID><CreateTime>1</CreateTime></xml>")),
               WecomMessageError);
}

TEST(WecomXml, ActivityKindsOfChangeTypes) {
  EXPECT_EQ(wecom_activity_kind("del_follow_user"), "customer_removed_owner");
  EXPECT_EQ(wecom_activity_kind("del_external_contact"), "owner_removed_customer");
  EXPECT_EQ(wecom_activity_kind("add_external_contact"), "contact_added");
  EXPECT_EQ(wecom_activity_kind("add_half_external_contact"), "contact_added");
  EXPECT_EQ(wecom_activity_kind("transfer_fail"), "handover_failed");
  EXPECT_EQ(wecom_activity_kind("edit_external_contact"), "contact_edited");
  EXPECT_EQ(wecom_activity_kind("msg_audit_approved"), "");
}

}  // namespace
}  // namespace crm::host
