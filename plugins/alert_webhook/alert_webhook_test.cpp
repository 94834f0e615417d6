// alert_webhook against a real HTTP receiver on loopback
// (tests/servers/webhook_receiver.py): Alertmanager v4 payload, HMAC-SHA256
// signature checked here with OpenSSL, 5xx retried, 4xx permanent, timeouts
// retried, and the secret nowhere in the logs or errors.
#include <array>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "loader/channel_call.hpp"
#include "support/alert_message_fixture.hpp"
#include "support/controlled_server.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

using json = nlohmann::json;
constexpr const char* kSecret = "webhook-signing-secret-7f3a";

class Receiver : public testing::ControlledServer {
 public:
  Receiver() : ControlledServer("tests/servers/webhook_receiver.py") {}
  [[nodiscard]] std::string url() const { return base_url() + "/hooks/crm?token=abc"; }
};

std::string hmac_hex(const std::string& key, const std::string& body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), digest.data(), &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    std::array<char, 3> pair{};
    std::snprintf(pair.data(), pair.size(), "%02x", digest[i]);
    hex += pair.data();
  }
  return hex;
}

Notification red_alert() {
  Notification notification;
  notification.severity = CRM_SEVERITY_CRITICAL;
  notification.idempotency_key = "crm-alert-12-1-alert_webhook";
  notification.title = "[red] customer 12: health 41.0";
  notification.text = "客户 12 进入红色区间; owner coo, respond within 24 h.";
  notification.recipients = {"coo@example.test"};
  notification.created_ms = 1'790'000'000'000;
  notification.labels_json = R"({"customer_id": "12", "reason": "band", "level": "red", "alert_id": "12"})";
  return notification;
}

class AlertWebhook : public ::testing::Test {
 protected:
  LoadedPlugin& load(const json& extra = json::object()) {
    json config = {{"url", receiver_.url()}, {"secret", {{"env", "CRM_WEBHOOK_SECRET"}}}, {"timeout_ms", 1000}};
    config.update(extra);
    test_.load({CRM_PLUGIN_DIR}, {{"alert_webhook", {{"config", config}}}}, {{"CRM_WEBHOOK_SECRET", kSecret}});
    LoadedPlugin* channel = test_.host().find("alert_webhook");
    if (channel == nullptr) {
      throw std::runtime_error(test_.record("alert_webhook")->reason);
    }
    return *channel;
  }
  void expect_no_secret_anywhere(const DeliveryResult& result) {
    EXPECT_EQ(result.error.find(kSecret), std::string::npos);
    EXPECT_EQ(result.error.find("token=abc"), std::string::npos) << result.error;
    for (const std::string& line : test_.log_lines()) {
      EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
    }
  }
  Receiver receiver_;
  testing::TestHost test_;
};

TEST_F(AlertWebhook, PostsAnAlertmanagerV4PayloadSignedWithHmacSha256) {
  LoadedPlugin& channel = load();
  const DeliveryResult result = send_notification(channel, red_alert());
  ASSERT_EQ(result.outcome, DeliveryOutcome::delivered) << result.error;
  const json requests = receiver_.control("requests");
  ASSERT_EQ(requests.size(), 1U);
  const json& request = requests[0];
  EXPECT_EQ(request["path"], "/hooks/crm?token=abc");
  const std::string body = request["body"];
  EXPECT_EQ(request["headers"]["X-CRM-Signature"], "sha256=" + hmac_hex(kSecret, body));
  EXPECT_EQ(request["headers"]["Idempotency-Key"], "crm-alert-12-1-alert_webhook");
  EXPECT_EQ(request["headers"]["Content-Type"], "application/json");
  const json payload = json::parse(body);
  EXPECT_EQ(payload["version"], "4");
  EXPECT_EQ(payload["status"], "firing");
  EXPECT_EQ(payload["receiver"], "crmhost");
  ASSERT_EQ(payload["alerts"].size(), 1U);
  const json& alert = payload["alerts"][0];
  EXPECT_EQ(alert["status"], "firing");
  EXPECT_EQ(alert["labels"]["alertname"], "band");
  EXPECT_EQ(alert["labels"]["severity"], "critical");
  EXPECT_EQ(alert["labels"]["customer_id"], "12");
  EXPECT_EQ(alert["annotations"]["summary"], "[red] customer 12: health 41.0");
  EXPECT_EQ(alert["annotations"]["description"], "客户 12 进入红色区间; owner coo, respond within 24 h.");
  EXPECT_EQ(alert["startsAt"], "2026-09-21T14:13:20Z");
  EXPECT_EQ(alert["endsAt"], "0001-01-01T00:00:00Z");
  for (const char* field :
       {"groupKey", "truncatedAlerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL"}) {
    EXPECT_TRUE(payload.contains(field)) << field;
  }

  Notification resolved = red_alert();
  resolved.event = "resolved";
  ASSERT_EQ(send_notification(channel, resolved).outcome, DeliveryOutcome::delivered);
  EXPECT_EQ(json::parse(receiver_.control("requests")[1]["body"].get<std::string>())["status"], "resolved");
}

TEST_F(AlertWebhook, ServerErrorsAndTimeoutsAreRetriedOtherClientErrorsArePermanent) {
  LoadedPlugin& channel = load();
  receiver_.control("script", {{"statuses", {503, 429, 404}}});
  DeliveryResult result = send_notification(channel, red_alert());
  EXPECT_EQ(result.outcome, DeliveryOutcome::retriable);
  EXPECT_NE(result.error.find("HTTP 503"), std::string::npos) << result.error;
  expect_no_secret_anywhere(result);
  EXPECT_EQ(send_notification(channel, red_alert()).outcome, DeliveryOutcome::retriable);  // 429
  result = send_notification(channel, red_alert());
  EXPECT_EQ(result.outcome, DeliveryOutcome::permanent);
  EXPECT_NE(result.error.find("HTTP 404"), std::string::npos) << result.error;
  expect_no_secret_anywhere(result);

  receiver_.control("script", {{"statuses", json::array()}, {"delay_s", 2.5}});
  result = send_notification(channel, red_alert());
  EXPECT_EQ(result.outcome, DeliveryOutcome::retriable);
  expect_no_secret_anywhere(result);
}

TEST_F(AlertWebhook, AnUnsetSecretVariableIsAConfigurationErrorWithoutTheValue) {
  test_.load({CRM_PLUGIN_DIR},
             {{"alert_webhook", {{"config", {{"url", receiver_.url()}, {"secret", {{"env", "NOPE"}}}}}}}});
  EXPECT_EQ(test_.host().find("alert_webhook"), nullptr);
  EXPECT_NE(test_.record("alert_webhook")->reason.find("NOPE"), std::string::npos)
      << test_.record("alert_webhook")->reason;
}

// An alert's facts as structured JSON in each alert ("crm"), out of the
// labels receivers group on; in the configured language.
TEST_F(AlertWebhook, AnAlertCarriesItsFactsAsStructuredJson) {
  LoadedPlugin& channel = load();
  for (const std::string language : {"en", "zh-CN"}) {
    ASSERT_EQ(send_notification(channel, testing::rendered_alert(language)).outcome, DeliveryOutcome::delivered);
  }
  const json requests = receiver_.control("requests");
  ASSERT_EQ(requests.size(), 2U);
  const json english = json::parse(requests[0]["body"].get<std::string>())["alerts"][0];
  EXPECT_EQ(english["labels"], json::parse(R"({"alert_id": "7", "alertname": "band", "customer_id": "7",
                                               "level": "red", "reason": "band", "severity": "critical"})"));
  const json& crm = english["crm"];
  EXPECT_EQ(crm["language"], "en");
  EXPECT_EQ(crm["customer"], json::parse(R"({"name": "Acme <Trading> & Sons", "source": "erp_csv",
                                             "external_id": "C-0042"})"));
  EXPECT_EQ(crm["score"], 42.9);
  ASSERT_EQ(crm["reasons"].size(), 3U);
  EXPECT_EQ(crm["reasons"][1], json::parse(R"({"code": "reason_2", "text": "No order in 90 days"})"));
  EXPECT_EQ(crm["value_at_stake"]["amount"], 1234567.5);
  EXPECT_EQ(crm["value_at_stake"]["currency"], "CNY");
  EXPECT_EQ(crm["value_at_stake"]["basis"], "purchases_12_months");
  EXPECT_EQ(crm["deadline"]["at"], "2026-01-02T08:00:00+08:00");
  EXPECT_EQ(crm["deadline"]["ms"], testing::kAlertDeadlineMs);
  EXPECT_EQ(crm["first_action"], "An executive-led retention team visits the customer on site within 48 h.");
  EXPECT_EQ(crm["links"]["customer"], testing::kCustomerUrl);
  EXPECT_EQ(crm["links"]["acknowledge"], testing::kAckUrl);
  EXPECT_EQ(crm["acknowledge_as"], "coo@example.test");
  const json chinese = json::parse(requests[1]["body"].get<std::string>())["alerts"][0]["crm"];
  EXPECT_EQ(chinese["language"], "zh-CN");
  EXPECT_EQ(chinese["summary"], "客户 上海华东机械有限公司（erp_csv C-0042）处于红色预警：健康分 42.9。");
  EXPECT_EQ(chinese["first_action"], "由高管牵头组建挽留小组，48 小时内上门拜访客户。");
  EXPECT_EQ(chinese["deadline"]["text"], "2026-01-02 08:00 (UTC+08:00)");
}

}  // namespace
}  // namespace crm::host
