#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "crm/channel.h"

namespace crm::host {

// What one outbox row asks a channel to say: an alert's notification, a
// campaign's message or a revival touch. Stored as one JSON object in the
// outbox's `notification` column; to_json and from_json are the only code
// that knows that format.
struct Envelope {
  crm_severity severity = CRM_SEVERITY_WARNING;
  std::string title{};
  std::string text{};
  std::vector<std::string> recipients{};
  std::int64_t customer_id = 0;  // 0: about no one customer
  std::string reason{};          // an alert's reason, "winback:<playbook>", "revival:<why>"
  std::string level{};           // an alert's level, or "campaign"
  std::string event = "opened";  // opened, escalated, reminder, resolved; a campaign step's kind; revival
  std::int64_t created_ms = 0;
  std::vector<std::pair<std::string, std::string>> links{};  // label, url; stored only when there are some
  // The body in Markdown ("" : made from the title and text when sent), and
  // an alert's facts as one JSON object of strings (alerts/alert_message.hpp)
  // that channels render in their own form; both stored only when set.
  std::string markdown{};
  nlohmann::json details = nlohmann::json::object();
  // What routes match and digests group on besides the fields above (tier,
  // abc_class, stage, industry, account_manager), stored beside them at the
  // top level of the object. Always an object.
  nlohmann::json labels = nlohmann::json::object();

  [[nodiscard]] nlohmann::json to_json() const;
  // Missing fields keep the defaults above; unknown ones become labels.
  [[nodiscard]] static Envelope from_json(const nlohmann::json& stored);

  // The label's text, "" when absent or not a string.
  [[nodiscard]] std::string label(const std::string& name) const;
};

}  // namespace crm::host
