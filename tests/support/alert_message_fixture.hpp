#pragma once

// A red alert's notification rendered as the host renders it
// (render_alert_message, then the outbox's render of one envelope), for the
// channels' tests: every channel gets the same facts in English or Chinese.

#include <cstddef>
#include <string>
#include <vector>

#include "alerts/alert_message.hpp"
#include "loader/channel_call.hpp"
#include "outbox/digest.hpp"
#include "outbox/outbox_types.hpp"

namespace crm::host::testing {

constexpr std::int64_t kAlertDeadlineMs = 1'767'312'000'000;  // 2026-01-02T00:00:00Z
constexpr const char* kAckUrl = "https://crm.example.test/ack/AQAAAAAAAAAH-mac_of_the_token";
constexpr const char* kCustomerUrl = "https://crm.example.test/app/customers/7";

// `reasons` reasons (the three plain ones first, then long numbered ones),
// `language` "en" or "zh-CN", deadline shown on UTC+08:00.
inline Notification rendered_alert(const std::string& language = "en", std::size_t reasons = 3,
                                   std::size_t max_bytes = 0) {
  const bool zh = language == "zh-CN";
  AlertFacts facts;
  facts.alert_id = 7;
  facts.customer_id = 7;
  facts.level = "red";
  facts.customer_name = zh ? "上海华东机械有限公司" : "Acme <Trading> & Sons";
  facts.customer_source = "erp_csv";
  facts.customer_external_id = "C-0042";
  facts.score = 42.94;
  facts.value_amount = 1234567.5;
  facts.value_currency = "CNY";
  facts.deadline_ms = kAlertDeadlineMs;
  const std::vector<std::string> plain =
      zh ? std::vector<std::string>{"采购量比去年同期下降超过一半", "90 天内没有下单", "投诉未在承诺时间内解决"}
         : std::vector<std::string>{"Order volume fell by more than half year on year", "No order in 90 days",
                                    "A complaint was not resolved in time"};
  for (std::size_t i = 0; i < reasons; ++i) {
    facts.reason_codes.push_back("reason_" + std::to_string(i + 1));
    facts.reasons.push_back(
        i < plain.size()
            ? plain[i]
            : (zh ? "第 " + std::to_string(i + 1) + " 条原因：关键联系人离职，竞争对手报价更低，交付多次延误"
                  : "Reason " + std::to_string(i + 1) +
                        ": the key contact left, a competitor quoted lower, deliveries "
                        "were late several times"));
  }
  MessageStyle style;
  style.language = language;
  style.utc_offset_minutes = 480;
  style.first_action = default_first_action("red", language);
  style.customer_url = kCustomerUrl;
  style.ack_url = kAckUrl;
  style.recipient = "coo@example.test";
  AlertMessage message = render_alert_message(facts, style);
  OutboxItem item;
  item.id = 1;
  item.alert_id = 7;
  item.key = "crm-alert-7-1-" + language;
  item.envelope.severity = CRM_SEVERITY_CRITICAL;
  item.envelope.title = "[red] customer 7: health 42.9";
  item.envelope.text = message.text;
  item.envelope.markdown = message.markdown;
  item.envelope.links = message.links;
  item.envelope.details = message.facts;
  item.envelope.recipients = {"coo@example.test"};
  item.envelope.customer_id = 7;
  item.envelope.reason = "band";
  item.envelope.level = "red";
  item.envelope.created_ms = kAlertDeadlineMs - 86'400'000;
  return render(Batch{item.key, {&item}}, max_bytes);
}

}  // namespace crm::host::testing
