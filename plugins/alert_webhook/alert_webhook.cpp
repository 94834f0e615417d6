// alert_webhook: one JSON POST per notification, in the shape of
// Alertmanager's webhook payload (version 4) so that existing receivers work,
// signed with HMAC-SHA256 over the exact body when a secret is configured.
// 2xx is delivered; 5xx, 408, 429 and network errors or timeouts are retried;
// any other answer is permanent. Errors never name the URL (it may carry a token).
// Declares thread_safe: the host keeps several sends in flight, each on a
// kept-alive connection of its own.
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <optional>
#include <string>
#include <vector>

#include "alert_webhook_manifest.h"
#include "crm/plugin.hpp"
#include "plugin_support/alert_facts.hpp"
#include "plugin_support/civil_time.hpp"
#include "plugin_support/http.hpp"

namespace {

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
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

const char* severity_label(crm_severity severity) {
  return severity == CRM_SEVERITY_CRITICAL ? "critical" : severity == CRM_SEVERITY_WARNING ? "warning" : "info";
}

// The facts as JSON: numbers as numbers, reasons as a list, absent ones left out.
nlohmann::json facts_json(const crm::plugin_support::AlertFacts& facts) {
  nlohmann::json out = {{"language", facts.get("language")}, {"summary", facts.get("headline")}};
  if (!facts.get("customer_source").empty() || !facts.get("customer_name").empty()) {
    out["customer"] = {{"name", facts.get("customer_name")},
                       {"source", facts.get("customer_source")},
                       {"external_id", facts.get("customer_external_id")}};
  }
  const auto number = [](const std::string& text) {
    return text.empty() ? nlohmann::json() : nlohmann::json::parse(text, nullptr, false);
  };
  if (!facts.get("score").empty()) {
    out["score"] = number(facts.get("score"));
  }
  nlohmann::json reasons = nlohmann::json::array();
  const std::vector<std::string> texts = facts.reasons();
  std::vector<std::string> codes;
  const std::string joined = facts.get("reason_codes");
  for (std::size_t start = 0; start < joined.size();) {
    const std::size_t end = std::min(joined.find(',', start), joined.size());
    codes.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  for (std::size_t i = 0; i < texts.size(); ++i) {
    reasons.push_back({{"code", i < codes.size() ? codes[i] : std::string()}, {"text", texts[i]}});
  }
  out["reasons"] = reasons;
  if (!facts.get("value_amount").empty()) {
    out["value_at_stake"] = {{"amount", number(facts.get("value_amount"))},
                             {"currency", facts.get("value_currency")},
                             {"basis", facts.get("value_basis")},
                             {"text", facts.get("value_text")}};
  }
  if (!facts.get("deadline").empty()) {
    out["deadline"] = {
        {"at", facts.get("deadline")}, {"ms", number(facts.get("deadline_ms"))}, {"text", facts.get("deadline_text")}};
  }
  if (!facts.get("first_action").empty()) {
    out["first_action"] = facts.get("first_action");
  }
  nlohmann::json links = nlohmann::json::object();
  if (!facts.get("customer_url").empty()) {
    links["customer"] = facts.get("customer_url");
  }
  if (!facts.get("ack_url").empty()) {
    links["acknowledge"] = facts.get("ack_url");
    out["acknowledge_as"] = facts.get("ack_recipient");
  }
  out["links"] = links;
  return out;
}

class WebhookChannel final : public crm::Channel {
 public:
  CRM_PLUGIN_METADATA(ALERT_WEBHOOK)
  static constexpr std::uint32_t kMaxMessageBytes = 0;
  static constexpr std::uint32_t kMessagesPerMinute = 0;

  WebhookChannel(const crm::Host& host, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    url_ = config.at("url").get<std::string>();
    signature_header_ = config.at("signature_header").get<std::string>();
    receiver_ = config.at("receiver").get<std::string>();
    timeout_ms_ = config.at("timeout_ms").get<long>();
    if (config.contains("secret")) {
      secret_ = host.secret("/secret");
      if (!secret_ || secret_->empty()) {
        throw crm::ConfigError("secret: the referenced environment variable is empty or unset");
      }
    }
  }

  void send(const crm::Host& /*host*/, const crm::ChannelMessage& message, crm::ChannelResult& /*result*/) override {
    auto labels = nlohmann::json::parse(message.labels_json(), nullptr, false);
    if (!labels.is_object()) {
      labels = nlohmann::json::object();
    }
    // An alert's facts leave the labels (strings receivers group on) for a
    // structured object of their own, "crm", in each alert.
    const crm::plugin_support::AlertFacts facts(message.labels_json());
    for (auto item = labels.begin(); item != labels.end();) {
      item = crm::plugin_support::AlertFacts::is_fact_key(item.key()) ? labels.erase(item) : std::next(item);
    }
    labels["alertname"] = labels.value("reason", std::string("crm_alert"));
    labels["severity"] = severity_label(message.severity());
    const bool resolved = message.event() == "resolved";
    const std::string status = resolved ? "resolved" : "firing";
    nlohmann::json recipients = nlohmann::json::array();
    for (std::size_t i = 0; i < message.recipient_count(); ++i) {
      recipients.push_back(std::string(message.recipient(i)));
    }
    nlohmann::json annotations = {{"summary", std::string(message.title())},
                                  {"description", std::string(message.text())},
                                  {"recipients", recipients.dump()}};
    for (std::size_t i = 0; i < message.link_count(); ++i) {
      annotations[std::string(message.link_label(i))] = std::string(message.link_url(i));
    }
    const std::string key(message.idempotency_key());
    nlohmann::json alert = {
        {"status", status},
        {"labels", labels},
        {"annotations", annotations},
        {"startsAt", crm::plugin_support::rfc3339_utc(message.created_ms())},
        {"endsAt", resolved ? crm::plugin_support::rfc3339_utc(message.created_ms()) : "0001-01-01T00:00:00Z"},
        {"generatorURL", ""},
        {"fingerprint", key}};
    if (facts.present()) {
      alert["crm"] = facts_json(facts);
    }
    const nlohmann::json payload = {{"version", "4"},         {"groupKey", key},
                                    {"truncatedAlerts", 0},   {"status", status},
                                    {"receiver", receiver_},  {"groupLabels", {{"alertname", labels["alertname"]}}},
                                    {"commonLabels", labels}, {"commonAnnotations", annotations},
                                    {"externalURL", ""},      {"alerts", nlohmann::json::array({alert})}};
    const std::string body = payload.dump();
    std::vector<std::string> headers = {"Content-Type: application/json", "Idempotency-Key: " + key};
    if (secret_) {
      headers.push_back(signature_header_ + ": sha256=" + hmac_sha256_hex(*secret_, body));
    }
    const crm::plugin_support::HttpResponse response = http_.request("the webhook", url_, &body, headers, timeout_ms_);
    if (response.status >= 200 && response.status < 300) {
      return;
    }
    const std::string what = "the webhook answered HTTP " + std::to_string(response.status);
    if (response.status >= 500 || response.status == 408 || response.status == 429) {
      throw crm::RetriableError(what);
    }
    throw crm::DataError(what + "; the receiver refuses this message");
  }

 private:
  std::string url_;
  std::string signature_header_;
  std::string receiver_;
  long timeout_ms_ = 5000;
  std::optional<std::string> secret_;
  // Connections to the receiver stay open between notifications, one per concurrent send.
  crm::plugin_support::HttpClientPool http_;
};

}  // namespace

CRM_EXPORT_PLUGINS(WebhookChannel)
