// alert_wecom against the local WeCom double (tests/doubles/wecom_double.py),
// through the real loader: robot and application messages, byte limits,
// every errcode and fault of the contract, token refresh, partial delivery,
// a burst of 100 alerts through the alert engine paced and digested, and the
// double's (and so the real service's) inconvenient parts: lower-cased member
// lists, unlicensed members, 81013, silent drops past a member's limits.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>

#include "alerts/alert_engine.hpp"
#include "loader/channel_call.hpp"
#include "outbox/dispatcher.hpp"
#include "outbox/outbox.hpp"
#include "support/alert_message_fixture.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/test_host.hpp"
#include "support/wecom_double.hpp"

namespace crm::host {
namespace {

using json = nlohmann::json;
constexpr const char* kRobotKey = "robot-key-5d1e77a0";
constexpr const char* kCorpSecret = "corp-app-secret-91b2c4";
constexpr std::int64_t kAgentId = 1000002;

Notification alert(const std::string& key = "crm-alert-7-1-alert_wecom") {
  Notification notification;
  notification.severity = CRM_SEVERITY_CRITICAL;
  notification.idempotency_key = key;
  notification.title = "[red] 客户 7: health 38.0";
  notification.text = "客户 7 进入红色区间，请 24 小时内响应。";
  notification.markdown = "**" + notification.title + "**\n\n" + notification.text;
  notification.recipients = {"zhangsan", "13800000000"};
  notification.created_ms = 1'790'000'000'000;
  return notification;
}

bool valid_utf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    if (length == 0 || i + length > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0U) != 0x80U) {
        return false;
      }
    }
    i += length;
  }
  return true;
}

class AlertWecom : public ::testing::Test {
 protected:
  AlertWecom() {
    wecom_.control("state", {{"corps", {{"ww-corp", kCorpSecret}}},
                             {"robot_keys", {kRobotKey}},
                             {"members", {"zhangsan", "lisi", "wangwu"}},
                             {"unlicensed_members", {"wangwu"}},
                             {"agent_id", kAgentId},
                             {"token_lifetime_s", 7200}});
  }

  LoadedPlugin& load(json config) {
    config["base_url"] = wecom_.api_base();
    config["timeout_ms"] = 1000;
    test_.load({CRM_PLUGIN_DIR}, {{"alert_wecom", {{"config", config}}}},
               {{"CRM_ROBOT_KEY", kRobotKey}, {"CRM_CORP_SECRET", kCorpSecret}});
    LoadedPlugin* channel = test_.host().find("alert_wecom");
    if (channel == nullptr) {
      throw std::runtime_error(test_.record("alert_wecom")->reason);
    }
    return *channel;
  }
  LoadedPlugin& robot(const std::string& msgtype = "markdown") {
    return load({{"mode", "robot"}, {"robot_key", {{"env", "CRM_ROBOT_KEY"}}}, {"msgtype", msgtype}});
  }
  LoadedPlugin& app(const std::string& msgtype = "text") {
    json config = {
        {"mode", "app"}, {"corp_id", "ww-corp"}, {"corp_secret", {{"env", "CRM_CORP_SECRET"}}}, {"agent_id", kAgentId}};
    if (!msgtype.empty()) {
      config["msgtype"] = msgtype;
    }
    return load(config);
  }
  void expect_no_secret(const std::string& text) {
    for (const char* secret : {kRobotKey, kCorpSecret, "access_token="}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
  }
  void expect_no_secret_in_logs() {
    for (const std::string& line : test_.log_lines()) {
      expect_no_secret(line);
    }
  }

  testing::WecomDouble wecom_;
  testing::TestHost test_;
};

TEST_F(AlertWecom, RobotMarkdownCarriesTheBodyAndMentionsMembers) {
  LoadedPlugin& channel = robot();
  ASSERT_EQ(send_notification(channel, alert()).outcome, DeliveryOutcome::delivered);
  const auto requests = wecom_.requests_to("webhook/send");
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0]["query"]["key"], kRobotKey);
  EXPECT_EQ(json::parse(requests[0]["body"].get<std::string>()),
            json::parse(R"({"msgtype":"markdown","markdown":{"content":
              "**[red] 客户 7: health 38.0**\n\n客户 7 进入红色区间，请 24 小时内响应。\n<@zhangsan>"}})"));
  EXPECT_EQ(wecom_.control("messages").size(), 1U);
  expect_no_secret_in_logs();
}

TEST_F(AlertWecom, RobotTextMentionsByIdAndMobileAndCutsLongContentAtACharacter) {
  LoadedPlugin& channel = robot("text");
  Notification long_alert = alert();
  for (int i = 0; i < 1000; ++i) {
    long_alert.text += "流";  // 3 bytes each: 3,000 bytes, over the 2,048 of a text message
  }
  ASSERT_EQ(send_notification(channel, long_alert).outcome, DeliveryOutcome::delivered);
  const json messages = wecom_.control("messages");
  ASSERT_EQ(messages.size(), 1U);
  const auto content = messages[0]["content"].get<std::string>();
  EXPECT_LE(content.size(), 2048U);
  EXPECT_GT(content.size(), 2000U);
  EXPECT_TRUE(valid_utf8(content));
  EXPECT_NE(content.find("[red] 客户 7"), std::string::npos);
  EXPECT_EQ(content.substr(content.size() - std::string("(内容过长，已截断)").size()), "(内容过长，已截断)");
  EXPECT_EQ(messages[0]["mentioned_list"], json({"zhangsan"}));
  const json body = json::parse(wecom_.requests_to("webhook/send")[0]["body"].get<std::string>());
  EXPECT_EQ(body["text"]["mentioned_mobile_list"], json({"13800000000"}));
}

TEST_F(AlertWecom, ErrcodesAndFaultsMapToRetriableOrPermanentAsTheContractSays) {
  LoadedPlugin& channel = robot();
  const auto send_with_fault = [&](const std::string& kind) {
    // libcurl retries a request once by itself when a kept-alive connection turns out dead:
    // a dropped connection is only the channel's failure when the fresh one drops too.
    wecom_.control("fault", {{"kind", kind}, {"path", "webhook/send"}, {"count", kind == "drop" ? 2 : 1}});
    DeliveryResult result = send_notification(channel, alert());
    expect_no_secret(result.error);
    return result;
  };
  const DeliveryResult limited = send_with_fault("freq_limit");
  EXPECT_EQ(limited.outcome, DeliveryOutcome::retriable);
  EXPECT_EQ(limited.retry_after_ms, 60'000);  // after the robot's minute window
  for (const char* kind : {"busy", "http_500", "http_502", "not_json", "drop", "slow"}) {
    const DeliveryResult result = send_with_fault(kind);
    EXPECT_EQ(result.outcome, DeliveryOutcome::retriable) << kind << ": " << result.error;
    EXPECT_EQ(result.retry_after_ms, 0) << kind;
  }
  for (const char* kind : {"errcode:93000", "errcode:40008", "errcode:44004"}) {
    const DeliveryResult result = send_with_fault(kind);
    EXPECT_EQ(result.outcome, DeliveryOutcome::permanent) << kind << ": " << result.error;
  }
  EXPECT_NE(send_with_fault("errcode:93000").error.find("errcode 93000"), std::string::npos);
  EXPECT_TRUE(wecom_.control("messages").empty()) << "nothing got through a fault";
  expect_no_secret_in_logs();
}

TEST_F(AlertWecom, AResetRobotKeyIsPermanentAndNotNamed) {
  wecom_.control("state", {{"robot_keys", json::array()}});  // the key was reset
  const DeliveryResult result = send_notification(robot(), alert());
  EXPECT_EQ(result.outcome, DeliveryOutcome::permanent);
  EXPECT_NE(result.error.find("93000"), std::string::npos) << result.error;
  expect_no_secret(result.error);
}

TEST_F(AlertWecom, AppMessagesCacheTheTokenRefreshItOnceAndReportRefusedMembers) {
  LoadedPlugin& channel = app();
  Notification notification = alert();
  notification.recipients = {"zhangsan", "ghost", "lisi"};
  DeliveryResult result = send_notification(channel, notification);
  EXPECT_EQ(result.outcome, DeliveryOutcome::partial);
  EXPECT_EQ(result.failed_recipients, std::vector<std::string>{"ghost"});
  const json sent = json::parse(wecom_.requests_to("message/send")[0]["body"].get<std::string>());
  EXPECT_EQ(sent["touser"], "zhangsan|ghost|lisi");
  EXPECT_EQ(sent["agentid"], kAgentId);
  EXPECT_EQ(sent["enable_duplicate_check"], 1);

  notification.recipients = {"zhangsan"};
  notification.text = "second";
  EXPECT_EQ(send_notification(channel, notification).outcome, DeliveryOutcome::delivered);
  EXPECT_EQ(wecom_.requests_to("gettoken").size(), 1U) << "the token is cached";

  // Expired (42001), then revoked (40014): one new token each, and the message goes through.
  notification.text = "third";
  wecom_.control("fault", {{"kind", "expire_tokens"}, {"path", "message/send"}});
  EXPECT_EQ(send_notification(channel, notification).outcome, DeliveryOutcome::delivered);
  EXPECT_EQ(wecom_.requests_to("gettoken").size(), 2U);
  notification.text = "fourth";
  wecom_.control("fault", {{"kind", "invalid_token"}, {"path", "message/send"}});
  EXPECT_EQ(send_notification(channel, notification).outcome, DeliveryOutcome::delivered);
  EXPECT_EQ(wecom_.requests_to("gettoken").size(), 3U);
  std::set<long> errcodes;
  for (const json& request : wecom_.requests_to("message/send")) {
    errcodes.insert(request.value("errcode", 0L));
  }
  EXPECT_EQ(errcodes, (std::set<long>{0, 42001, 40014}));
  for (const json& request : wecom_.requests_to("")) {
    EXPECT_EQ(request.dump().find(kCorpSecret) != std::string::npos, request["path"] == "/cgi-bin/gettoken");
  }
  expect_no_secret_in_logs();
}

TEST_F(AlertWecom, AppMessageRepeatedAfterACrashReachesNobodyTwice) {
  LoadedPlugin& channel = app();
  Notification notification = alert();
  notification.recipients = {"lisi"};
  ASSERT_EQ(send_notification(channel, notification).outcome, DeliveryOutcome::delivered);
  ASSERT_EQ(send_notification(channel, notification).outcome, DeliveryOutcome::delivered);
  EXPECT_EQ(wecom_.control("messages").size(), 1U);
}

TEST_F(AlertWecom, AppErrorsEmptyContentEveryMemberRefusedAndAWrongSecretArePermanent) {
  LoadedPlugin& channel = app("markdown");
  Notification empty = alert();
  empty.markdown.clear();
  const DeliveryResult no_content = send_notification(channel, empty);
  EXPECT_EQ(no_content.outcome, DeliveryOutcome::permanent);
  EXPECT_NE(no_content.error.find("44004"), std::string::npos) << no_content.error;
  Notification nobody = alert();
  nobody.recipients = {"ghost"};
  EXPECT_EQ(send_notification(channel, nobody).outcome, DeliveryOutcome::permanent);
  wecom_.control("fault", {{"kind", "busy"}, {"path", "message/send"}, {"skip", 1}});  // -1 on the 2nd call
  EXPECT_EQ(send_notification(channel, alert()).outcome, DeliveryOutcome::partial);    // 13800000000 is no member
  EXPECT_EQ(send_notification(channel, alert()).outcome, DeliveryOutcome::retriable);

  wecom_.control("state", {{"corps", {{"ww-corp", "rotated-secret"}}}});
  testing::TestHost fresh;
  fresh.load({CRM_PLUGIN_DIR},
             {{"alert_wecom",
               {{"config",
                 {{"mode", "app"},
                  {"base_url", wecom_.api_base()},
                  {"corp_id", "ww-corp"},
                  {"corp_secret", {{"env", "CRM_CORP_SECRET"}}},
                  {"agent_id", kAgentId}}}}}},
             {{"CRM_CORP_SECRET", kCorpSecret}});
  const DeliveryResult wrong = send_notification(*fresh.host().find("alert_wecom"), alert());
  EXPECT_EQ(wrong.outcome, DeliveryOutcome::permanent);
  EXPECT_NE(wrong.error.find("corp_secret (errcode 40001)"), std::string::npos) << wrong.error;
  expect_no_secret(wrong.error);
}

TEST_F(AlertWecom, AMissingCredentialRefusesThePluginNamingTheField) {
  test_.load({CRM_PLUGIN_DIR}, {{"alert_wecom", {{"config", {{"mode", "app"}, {"corp_id", "ww-corp"}}}}}});
  EXPECT_EQ(test_.host().find("alert_wecom"), nullptr);
  EXPECT_NE(test_.record("alert_wecom")->reason.find("agent_id"), std::string::npos)
      << test_.record("alert_wecom")->reason;
}

// A burst of alerts to one robot, through the alert engine and its outbox.
class AlertWecomBurst : public AlertWecom {
 protected:
  AlertWecomBurst() : dir_("alert-wecom-burst"), store_(testing::store_locator(dir_ / "crm.db")) {
    robot("text");
    settings_.routes = {{.channel = "alert_wecom", .recipients = {"zhangsan"}}};
  }

  // Customers 1..count are red.
  std::int64_t scoring_run(std::int64_t count) {
    std::vector<testing::ScoredCustomer> customers;
    for (std::int64_t customer = 1; customer <= count; ++customer) {
      customers.push_back({customer, "red", "", 35});
    }
    return testing::insert_scoring_run(store_, test_.clock().now_ms(), customers);
  }
  void advance(std::int64_t ms) {
    test_.clock().advance_ms(ms);
    wecom_.control("clock", {{"advance_s", static_cast<double>(ms) / 1000.0}});
  }
  // How often each customer's alert reached the robot, over every message it got.
  std::map<int, int> customers_delivered() {
    std::map<int, int> seen;
    for (const json& message : wecom_.control("messages")) {
      const auto content = message["content"].get<std::string>();
      for (std::size_t at = content.find("[red] customer "); at != std::string::npos;
           at = content.find("[red] customer ", at + 1)) {
        ++seen[std::stoi(content.substr(at + 15))];
      }
    }
    return seen;
  }
  void expect_never_over_the_robot_limit() {
    std::vector<double> times;
    for (const json& message : wecom_.control("messages")) {
      times.push_back(message["time"].get<double>());
    }
    for (std::size_t i = 20; i < times.size(); ++i) {
      EXPECT_GE(times[i] - times[i - 20], 60.0) << "21 messages within a minute at message " << i;
    }
    for (const json& request : wecom_.requests_to("webhook/send")) {
      EXPECT_NE(request.value("errcode", 0), 45009) << "the double had to refuse a message";
    }
  }

  testing::TempDir dir_;
  Store store_;
  AlertSettings settings_;
};

TEST_F(AlertWecomBurst, OneHundredAlertsAtOnceAreDigestedWithinTheRobotsMinute) {
  AlertEngine alerts(store_, test_.host(), test_.logger(), test_.clock(), settings_, {});
  EXPECT_EQ(alerts.evaluate(scoring_run(100)).opened, 100U);
  const DeliveryCounts counts = alerts.deliver();
  EXPECT_EQ(counts.delivered, 100U);
  EXPECT_LE(counts.messages, 20U);
  EXPECT_EQ(counts.digested, 100U);
  const auto seen = customers_delivered();
  ASSERT_EQ(seen.size(), 100U);
  for (const auto& [customer, times] : seen) {
    EXPECT_EQ(times, 1) << "customer " << customer;
  }
  for (const json& message : wecom_.control("messages")) {
    EXPECT_LE(message["content"].get<std::string>().size(), 2048U);
  }
  expect_never_over_the_robot_limit();
  EXPECT_EQ(alerts.deliver().messages, 0U);
}

TEST_F(AlertWecomBurst, AlertsArrivingEverySecondArePacedToTwentyAMinuteThenDigested) {
  AlertEngine alerts(store_, test_.host(), test_.logger(), test_.clock(), settings_, {});
  std::size_t messages = 0;
  for (std::int64_t second = 0; second < 100; ++second) {
    alerts.evaluate(scoring_run(second + 1));  // one new red customer each second
    messages += alerts.deliver().messages;
    advance(1'000);
  }
  for (int minute = 0; minute < 3; ++minute) {
    messages += alerts.deliver().messages;
    advance(60'000);
  }
  EXPECT_TRUE(alerts.outbox("pending").empty());
  EXPECT_TRUE(alerts.outbox("dead").empty());
  const auto seen = customers_delivered();
  ASSERT_EQ(seen.size(), 100U);
  for (const auto& [customer, times] : seen) {
    EXPECT_EQ(times, 1) << "customer " << customer;
  }
  EXPECT_LT(messages, 100U) << "some alerts went out in digests";
  EXPECT_GE(messages, 20U);
  expect_never_over_the_robot_limit();
}

// An alert's facts in WeCom Markdown, rendered by the channel to the
// robot's 4,096-byte limit: with many reasons, reasons give way (counted in
// one line) and the deadline, first action and both links stay whole.
TEST_F(AlertWecom, RobotMarkdownSaysWhoWhyWhatIsAtStakeByWhenAndWhatToDo) {
  LoadedPlugin& channel = robot();
  ASSERT_EQ(send_notification(channel, testing::rendered_alert("zh-CN")).outcome, DeliveryOutcome::delivered);
  ASSERT_EQ(send_notification(channel, testing::rendered_alert("en")).outcome, DeliveryOutcome::delivered);
  const auto requests = wecom_.requests_to("webhook/send");
  ASSERT_EQ(requests.size(), 2U);
  const std::string chinese = json::parse(requests[0]["body"].get<std::string>())["markdown"]["content"];
  EXPECT_EQ(chinese,
            "**[red] customer 7: health 42.9**\n"
            "客户 上海华东机械有限公司（erp_csv C-0042）处于红色预警：健康分 42.9。\n"
            "\n**原因**\n"
            "- 采购量比去年同期下降超过一半\n"
            "- 90 天内没有下单\n"
            "- 投诉未在承诺时间内解决\n"
            "\n**涉及价值：**1,234,567.50 CNY（近 12 个月采购额）\n"
            "**响应期限：**<font color=\"warning\">2026-01-02 08:00 (UTC+08:00)</font>\n"
            "**首要行动：**由高管牵头组建挽留小组，48 小时内上门拜访客户。\n"
            "\n[客户页面](https://crm.example.test/app/customers/7) · "
            "[确认处理](https://crm.example.test/ack/AQAAAAAAAAAH-mac_of_the_token)\n"
            "\n<@coo@example.test>");
  const std::string english = json::parse(requests[1]["body"].get<std::string>())["markdown"]["content"];
  for (const char* expected :
       {"Acme <Trading> & Sons (erp_csv C-0042) is red: health score 42.9.", "- No order in 90 days",
        "**Value at stake: **1,234,567.50 CNY", "2026-01-02 08:00 (UTC+08:00)", "**First action: **An executive-led",
        "[Customer page](https://crm.example.test/app/customers/7)",
        "[Acknowledge](https://crm.example.test/ack/AQAAAAAAAAAH-mac_of_the_token)"}) {
    EXPECT_NE(english.find(expected), std::string::npos) << expected << "\n" << english;
  }
}

TEST_F(AlertWecom, ALongReasonListGivesWayWithinTheMarkdownByteLimit) {
  LoadedPlugin& channel = robot();
  for (const std::string language : {"zh-CN", "en"}) {
    SCOPED_TRACE(language);
    ASSERT_EQ(send_notification(channel, testing::rendered_alert(language, 80)).outcome, DeliveryOutcome::delivered);
  }
  const auto requests = wecom_.requests_to("webhook/send");
  ASSERT_EQ(requests.size(), 2U);
  for (const auto& request : requests) {
    const std::string content = json::parse(request["body"].get<std::string>())["markdown"]["content"];
    EXPECT_LE(content.size(), 4096U);
    EXPECT_GT(content.size(), 3000U) << "the room is used";
    EXPECT_TRUE(valid_utf8(content));
    const bool zh = content.find("原因") != std::string::npos;
    EXPECT_NE(content.find(zh ? "条原因" : " more\n"), std::string::npos) << content;
    EXPECT_NE(content.find("2026-01-02 08:00 (UTC+08:00)"), std::string::npos);
    EXPECT_NE(content.find(zh ? "首要行动" : "First action"), std::string::npos);
    EXPECT_NE(content.find(testing::kAckUrl), std::string::npos);
    EXPECT_NE(content.find(testing::kCustomerUrl), std::string::npos);
    EXPECT_TRUE(content.ends_with("<@coo@example.test>")) << "the mention survives";
  }
}

// ---------------------------------------------------------------- the real service's inconvenient parts

TEST_F(AlertWecom, TheDoubleAnswersApplicationMessagesAsTheRealServiceDoes) {
  const json token = wecom_.call_api(std::string("gettoken?corpid=ww-corp&corpsecret=") + kCorpSecret);
  const std::string send = "message/send?access_token=" + token["access_token"].get<std::string>();
  const auto message = [](const std::string& touser) {
    return json{{"touser", touser},
                {"msgtype", "text"},
                {"agentid", kAgentId},
                {"text", {{"content", "hello " + touser.substr(0, 20)}}}};
  };
  const json partial = wecom_.call_api(send, message("ZhangSan|Ghost|WangWu"));
  EXPECT_EQ(partial["errcode"], 0);
  EXPECT_EQ(partial["invaliduser"], "ghost") << "member lists come back lower-cased";
  EXPECT_EQ(partial["unlicenseduser"], "wangwu");
  ASSERT_EQ(wecom_.control("messages").size(), 1U);
  EXPECT_EQ(wecom_.control("messages")[0]["to"], "zhangsan");
  EXPECT_EQ(wecom_.call_api(send, message("Ghost|WangWu"))["errcode"], 81013) << "nobody valid";
  std::string thousand_and_one = "zhangsan";
  for (int i = 0; i < 1000; ++i) {
    thousand_and_one += "|m" + std::to_string(i);
  }
  EXPECT_EQ(wecom_.call_api(send, message(thousand_and_one))["errcode"], 40058) << "touser takes 1,000 members";
  wecom_.control("fault", {{"kind", "errcode:60020"}, {"path", "message/send"}, {"count", 2}});
  EXPECT_EQ(wecom_.call_api(send, message("lisi"))["errcode"], 60020);
  EXPECT_EQ(wecom_.call_api(send, message("lisi"))["errcode"], 60020);
  EXPECT_EQ(wecom_.call_api(send, message("lisi"))["errcode"], 0) << "injected for the next 2 calls only";
}

TEST_F(AlertWecom, TheDoubleDropsWhatPassesAMembersMinuteAndHourSilently) {
  LoadedPlugin& channel = app();
  Notification notification = alert();
  notification.recipients = {"zhangsan"};
  int sent = 0;
  const auto send_next = [&] {
    notification.text = "alert " + std::to_string(++sent);  // distinct, past the duplicate check
    return send_notification(channel, notification).outcome;
  };
  for (int i = 0; i < 31; ++i) {
    ASSERT_EQ(send_next(), DeliveryOutcome::delivered) << "errcode 0 even when dropped";
  }
  EXPECT_EQ(wecom_.control("messages").size(), 30U);
  ASSERT_EQ(wecom_.dropped().size(), 1U);
  EXPECT_EQ(wecom_.dropped()[0]["why"], "member limit per minute");
  // 30 a minute for the rest of the hour: the 1,001st within the hour is dropped too.
  for (int delivered = 30; delivered < 1000;) {
    wecom_.control("clock", {{"advance_s", 61}});
    for (int i = 0; i < 30 && delivered < 1000; ++i, ++delivered) {
      ASSERT_EQ(send_next(), DeliveryOutcome::delivered);
    }
  }
  EXPECT_EQ(wecom_.control("messages").size(), 1000U);
  EXPECT_EQ(wecom_.dropped().size(), 1U);
  wecom_.control("clock", {{"advance_s", 61}});
  ASSERT_EQ(send_next(), DeliveryOutcome::delivered);
  ASSERT_EQ(wecom_.dropped().size(), 2U);
  EXPECT_EQ(wecom_.dropped()[1]["why"], "member limit per hour");
  for (const json& request : wecom_.requests_to("message/send")) {
    EXPECT_EQ(request.value("errcode", 0), 0) << "a drop is silent";
  }
}

TEST_F(AlertWecom, RefusedAndUnlicensedMembersMatchWhateverTheirCaseAndFailAsRecipients) {
  LoadedPlugin& channel = app();
  Notification notification = alert();
  notification.recipients = {"ZhangSan", "Ghost", "WangWu", "lisi"};
  const DeliveryResult result = send_notification(channel, notification);
  EXPECT_EQ(result.outcome, DeliveryOutcome::partial);
  EXPECT_EQ(result.failed_recipients, (std::vector<std::string>{"Ghost", "WangWu"}));
  std::set<std::string> reached;
  for (const json& message : wecom_.control("messages")) {
    reached.insert(message["to"].get<std::string>());
  }
  EXPECT_EQ(reached, (std::set<std::string>{"zhangsan", "lisi"}));
}

TEST_F(AlertWecom, AMessageNoMemberCanReceiveIsPermanentWithEveryRecipientFailedAndTheChannelKept) {
  LoadedPlugin& channel = app();
  Notification nobody = alert();
  nobody.recipients = {"Ghost", "WangWu"};
  const DeliveryResult result = send_notification(channel, nobody);
  EXPECT_EQ(result.outcome, DeliveryOutcome::permanent);
  EXPECT_FALSE(result.stopped_channel) << result.error;
  EXPECT_EQ(result.failed_recipients, (std::vector<std::string>{"Ghost", "WangWu"}));
  EXPECT_NE(result.error.find("81013"), std::string::npos) << result.error;
  EXPECT_EQ(wecom_.requests_to("message/send").size(), 1U);
  EXPECT_EQ(send_notification(channel, alert()).outcome, DeliveryOutcome::partial) << "the channel goes on";
}

TEST_F(AlertWecom, UntrustedIpAndMissingPermissionSayWhatToFixAndConcurrencyBacksOffAMinute) {
  LoadedPlugin& channel = app();
  const auto send_with = [&](int errcode) {
    wecom_.control("fault", {{"kind", "errcode:" + std::to_string(errcode)}, {"path", "message/send"}});
    const DeliveryResult result = send_notification(channel, alert());
    expect_no_secret(result.error);
    return result;
  };
  const DeliveryResult untrusted = send_with(60020);
  EXPECT_EQ(untrusted.outcome, DeliveryOutcome::permanent);
  EXPECT_FALSE(untrusted.stopped_channel);
  EXPECT_NE(untrusted.error.find("config error"), std::string::npos) << untrusted.error;
  EXPECT_NE(untrusted.error.find("trusted IPs"), std::string::npos) << untrusted.error;
  EXPECT_NE(untrusted.error.find("admin console"), std::string::npos) << untrusted.error;
  const DeliveryResult forbidden = send_with(48002);
  EXPECT_EQ(forbidden.outcome, DeliveryOutcome::permanent);
  EXPECT_FALSE(forbidden.stopped_channel);
  EXPECT_NE(forbidden.error.find("config error"), std::string::npos) << forbidden.error;
  EXPECT_NE(forbidden.error.find("no permission for this API"), std::string::npos) << forbidden.error;
  const DeliveryResult concurrent = send_with(45033);
  EXPECT_EQ(concurrent.outcome, DeliveryOutcome::retriable) << concurrent.error;
  EXPECT_EQ(concurrent.retry_after_ms, 60'000);
  EXPECT_EQ(send_notification(channel, alert()).outcome, DeliveryOutcome::partial);
}

TEST_F(AlertWecom, MoreThanAThousandMembersGoInSendsOfAThousandAndARetryReachesNobodyTwice) {
  json members = json::array();
  Notification notification = alert();
  notification.recipients.clear();
  for (int i = 0; i < 2'500; ++i) {
    const std::string member = "member" + std::to_string(i);
    if (i % 25 != 0) {
      members.push_back(member);
    }
    notification.recipients.push_back(i % 2 == 0 ? member : "Member" + std::to_string(i));
  }
  wecom_.control("state", {{"members", members}});
  LoadedPlugin& channel = app();
  // -1 on the second send: the first thousand got it, the message is retried whole.
  wecom_.control("fault", {{"kind", "busy"}, {"path", "message/send"}, {"skip", 1}});
  EXPECT_EQ(send_notification(channel, notification).outcome, DeliveryOutcome::retriable);
  EXPECT_EQ(wecom_.control("messages").size(), members.size() * 1000 / 2'500);
  const DeliveryResult result = send_notification(channel, notification);
  EXPECT_EQ(result.outcome, DeliveryOutcome::partial);
  EXPECT_EQ(result.failed_recipients.size(), 100U);
  EXPECT_EQ(result.failed_recipients.front(), "member0");
  EXPECT_EQ(result.failed_recipients.back(), "Member2475");
  const auto sends = wecom_.requests_to("message/send");
  ASSERT_EQ(sends.size(), 5U);  // 1 + the failed one, then 3
  for (const json& request : sends) {
    const json body = json::parse(request["body"].get<std::string>());
    const auto touser = body["touser"].get<std::string>();
    EXPECT_LE(std::count(touser.begin(), touser.end(), '|'), 999);
    EXPECT_EQ(body["enable_duplicate_check"], 1);
  }
  std::map<std::string, int> reached;
  for (const json& message : wecom_.control("messages")) {
    ++reached[message["to"].get<std::string>()];
  }
  EXPECT_EQ(reached.size(), members.size());
  for (const auto& [member, times] : reached) {
    EXPECT_EQ(times, 1) << member << " got the message twice";
  }
}

TEST_F(AlertWecom, TextIsTheDefaultMessageTypeAndMarkdownAChoice) {
  ASSERT_EQ(send_notification(app(""), alert()).outcome, DeliveryOutcome::partial);  // 13800000000 is no member
  const json sent = json::parse(wecom_.requests_to("message/send")[0]["body"].get<std::string>());
  EXPECT_EQ(sent["msgtype"], "text");
  EXPECT_EQ(sent["text"]["content"], "[red] 客户 7: health 38.0\n\n客户 7 进入红色区间，请 24 小时内响应。");
  EXPECT_EQ(test_.host().find("alert_wecom")->channel_api()->recipient_messages_per_minute, 30U);
  EXPECT_EQ(test_.host().find("alert_wecom")->channel_api()->recipient_messages_per_hour, 1000U);
  EXPECT_EQ(test_.record("alert_wecom")->abi, "1.3");
}

// Alerts to one member through the real dispatcher and outbox, paced per member.
class AlertWecomMemberPacing : public AlertWecom {
 protected:
  AlertWecomMemberPacing() : dir_("alert-wecom-member-pacing"), store_(testing::store_locator(dir_ / "crm.db")) {
    app();
  }

  void enqueue(int customer, const std::string& recipient) {
    OutboxMessage message;
    message.channel_id = "alert_wecom";
    message.idempotency_key = "crm-alert-" + std::to_string(customer) + "-1-alert_wecom";
    message.envelope.severity = CRM_SEVERITY_CRITICAL;
    message.envelope.level = "red";
    message.envelope.title = "[red] customer " + std::to_string(customer);
    message.envelope.text = "Customer " + std::to_string(customer) + " turned red.";
    message.envelope.recipients = {recipient};
    message.envelope.customer_id = customer;
    message.envelope.created_ms = test_.clock().now_ms();
    Outbox(store_.database()).enqueue(message, test_.clock().now_ms());
  }
  void advance(std::int64_t ms) {
    test_.clock().advance_ms(ms);
    wecom_.control("clock", {{"advance_s", static_cast<double>(ms) / 1000.0}});
  }
  std::map<int, int> customers_delivered() {
    std::map<int, int> seen;
    for (const json& message : wecom_.control("messages")) {
      const auto content = message["content"].get<std::string>();
      for (std::size_t at = content.find("[red] customer "); at != std::string::npos;
           at = content.find("[red] customer ", at + 1)) {
        ++seen[std::stoi(content.substr(at + 15))];
      }
    }
    return seen;
  }

  testing::TempDir dir_;
  Store store_;
};

TEST_F(AlertWecomMemberPacing, PastAThousandAnHourToOneMemberAlertsAreHeldAndDigestedNeverDropped) {
  // 20 a minute (the channel's own pace) for 55 minutes: 1,100 red alerts to
  // one member, written ZhangSan or zhangsan. WeCom would drop all past the
  // 1,000th within the hour; the host holds them until the hour allows.
  Dispatcher dispatcher(store_.database(), test_.host(), test_.logger(), test_.clock(), DeliveryPolicy{});
  DeliveryCounts counts;
  int customer = 0;
  for (int minute = 0; minute < 55; ++minute) {
    for (int i = 0; i < 20; ++i) {
      ++customer;
      enqueue(customer, customer % 2 == 0 ? "zhangsan" : "ZhangSan");
    }
    counts += dispatcher.deliver_due();
    advance(60'000);
  }
  EXPECT_EQ(counts.held, 100U) << "the 1,001st to 1,100th of the hour";
  for (int minute = 55; minute < 62; ++minute) {
    counts += dispatcher.deliver_due();
    advance(60'000);
  }
  EXPECT_TRUE(wecom_.dropped().empty()) << wecom_.dropped().size()
                                        << " dropped by WeCom, first: " << wecom_.dropped()[0].dump();
  EXPECT_EQ(counts.dead, 0U);
  EXPECT_GE(counts.digested, 100U);
  EXPECT_LE(counts.messages, 1'010U);
  Outbox outbox(store_.database());
  EXPECT_TRUE(outbox.list("pending").empty());
  const auto seen = customers_delivered();
  ASSERT_EQ(seen.size(), 1'100U);
  for (const auto& [number, times] : seen) {
    EXPECT_EQ(times, 1) << "customer " << number;
  }
}

}  // namespace
}  // namespace crm::host
