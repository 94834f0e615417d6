#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time_zone.hpp"

namespace crm::host {

// What an alert notification tells the person it reaches, before it is put in
// words: who the customer is, why, what is at stake, by when and what to do.
struct AlertFacts {
  std::int64_t alert_id = 0;
  std::int64_t customer_id = 0;  // 0: an alert about no one customer (no customer facts)
  std::string level;
  std::string event = "opened";
  std::string customer_name;         // "" when the store has none
  std::string customer_source;       // "erp_csv"
  std::string customer_external_id;  // the customer's number in that source
  std::optional<double> score;
  std::vector<std::string> reason_codes;
  std::vector<std::string> reasons;  // in plain words, as `crmhost explain` gives them
  // The value at stake: purchases of the last 12 months in the customer's main currency.
  std::optional<double> value_amount;
  std::string value_currency;
  std::string abc_class;
  std::int64_t deadline_ms = 0;  // 0: none
  std::string summary;           // the first line instead of the customer's (alerts about no one customer)
};

// How one route's notification reads.
struct MessageStyle {
  std::string language = "en";  // "en" or "zh-CN"
  // The deadline's clock: this zone at the deadline (daylight saving time
  // included) when set, else UTC plus utc_offset_minutes.
  std::shared_ptr<const TimeZone> time_zone;
  int utc_offset_minutes = 0;
  std::string first_action;  // "" : none for this level
  std::string customer_url;  // "" : no link
  std::string ack_url;       // "" : no link
  std::string recipient;     // whom the acknowledge link is for ("" : none)
};

// The notification in words: a plain-text body, the same in Markdown, its
// links (label, url) and its facts as one JSON object of strings for channels
// that render their own form (the keys are listed in plugin_support/alert_facts.hpp).
struct AlertMessage {
  std::string text;
  std::string markdown;
  std::vector<std::pair<std::string, std::string>> links;
  nlohmann::json facts = nlohmann::json::object();
};

// The default first action of a level (domain.md section 5's tiered
// response), in `language`; "" for a level without one.
std::string default_first_action(const std::string& level, const std::string& language);

// "2026-01-02 08:00 (UTC+08:00)": `ms` on the clock of UTC plus the offset;
// with the zone that offset is in force in, "2026-01-02 08:00 (Asia/Shanghai, UTC+08:00)".
std::string local_time_text(std::int64_t ms, int utc_offset_minutes, const TimeZone* zone = nullptr);
// "2026-01-02T08:00:00+08:00" (RFC 3339).
std::string local_time_rfc3339(std::int64_t ms, int utc_offset_minutes);
// "1,234,567.89 CNY" (no currency: the amount alone).
std::string money_text(double amount, const std::string& currency);

// Puts an alert's facts in words in the style's language.
AlertMessage render_alert_message(const AlertFacts& facts, const MessageStyle& style);

}  // namespace crm::host
