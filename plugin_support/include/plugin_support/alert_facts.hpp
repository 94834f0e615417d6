#pragma once

// The facts of an alert notification as the host puts them in a message's
// labels_json (strings only, beside customer_id, reason, level, alert_id...),
// for channels that render their own form (e-mail HTML, WeCom Markdown,
// webhook JSON). The host writes them in the recipient's language, captions
// included, so a channel needs no words of its own. Keys ("" when absent):
//   facts                "1" when the facts are there at all
//   language             "en" or "zh-CN"
//   headline             the first line: who, which level, which score
//   customer_name, customer_source, customer_external_id, customer_text
//   score, level_text
//   reasons              plain-words reasons, one per line; reason_codes comma-separated
//   value_text           "1,234.00 CNY (purchases in the last 12 months)"; value_amount,
//                        value_currency, value_basis
//   deadline_text        "2026-01-02 08:00 (UTC+08:00)", with the recipient's zone when known
//                        "2026-01-02 08:00 (Asia/Shanghai, UTC+08:00)"; deadline (RFC 3339);
//                        deadline_ms; deadline_time_zone (the IANA name, when known)
//   first_action
//   customer_url, ack_url, ack_recipient
//   caption_why, caption_value, caption_deadline, caption_first_action,
//   caption_customer_page, caption_acknowledge
// Header only; pure functions, any thread.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "crm/plugin.hpp"

namespace crm::plugin_support {

class AlertFacts {
 public:
  // Facts of a message's labels_json; present() is false when it has none.
  explicit AlertFacts(std::string_view labels_json) : labels_(nlohmann::json::parse(labels_json, nullptr, false)) {
    if (!labels_.is_object()) {
      labels_ = nlohmann::json::object();
    }
  }

  [[nodiscard]] bool present() const { return get("facts") == "1"; }
  [[nodiscard]] std::string get(const std::string& key) const {
    const auto found = labels_.find(key);
    return found != labels_.end() && found->is_string() ? found->get<std::string>() : std::string();
  }
  [[nodiscard]] std::vector<std::string> reasons() const {
    std::vector<std::string> lines;
    const std::string joined = get("reasons");
    std::size_t start = 0;
    while (start < joined.size()) {
      const std::size_t end = std::min(joined.find('\n', start), joined.size());
      if (end > start) {
        lines.push_back(joined.substr(start, end - start));
      }
      start = end + 1;
    }
    return lines;
  }
  [[nodiscard]] bool chinese() const { return get("language") == "zh-CN"; }
  // "Why: " or "原因：".
  [[nodiscard]] std::string caption(const std::string& key) const {
    return get("caption_" + key) + (chinese() ? "：" : ": ");
  }
  // Every key above: what a channel carrying labels as such (a webhook) moves elsewhere.
  [[nodiscard]] static bool is_fact_key(std::string_view key) {
    static constexpr std::string_view kKeys[] = {"facts",
                                                 "language",
                                                 "headline",
                                                 "customer_name",
                                                 "customer_source",
                                                 "customer_external_id",
                                                 "customer_text",
                                                 "score",
                                                 "level_text",
                                                 "reasons",
                                                 "reason_codes",
                                                 "value_text",
                                                 "value_amount",
                                                 "value_currency",
                                                 "value_basis",
                                                 "deadline_text",
                                                 "deadline",
                                                 "deadline_ms",
                                                 "deadline_time_zone",
                                                 "first_action",
                                                 "customer_url",
                                                 "ack_url",
                                                 "ack_recipient"};
    for (const std::string_view known : kKeys) {
      if (key == known) {
        return true;
      }
    }
    return key.starts_with("caption_");
  }

  // The message in Markdown within `max_bytes`: the title in bold, the
  // headline, as many reasons as fit (the rest counted in one line), value,
  // deadline, first action and links. Reasons go first when room runs out;
  // a reason too long alone is cut at a UTF-8 boundary. `suffix` (mentions)
  // is counted in the limit and appended.
  [[nodiscard]] std::string markdown(std::string_view title, std::size_t max_bytes,
                                     std::string_view suffix = {}) const {
    std::string head = "**" + std::string(title) + "**\n" + get("headline") + "\n";
    std::string tail;
    if (!get("value_text").empty()) {
      tail += "\n**" + caption("value") + "**" + get("value_text") + "\n";
    }
    if (!get("deadline_text").empty()) {
      tail += "**" + caption("deadline") + "**<font color=\"warning\">" + get("deadline_text") + "</font>\n";
    }
    if (!get("first_action").empty()) {
      tail += "**" + caption("first_action") + "**" + get("first_action") + "\n";
    }
    std::string links;
    if (!get("customer_url").empty()) {
      links += "[" + get("caption_customer_page") + "](" + get("customer_url") + ")";
    }
    if (!get("ack_url").empty()) {
      links += (links.empty() ? "" : " · ") + ("[" + get("caption_acknowledge") + "](" + get("ack_url") + ")");
    }
    if (!links.empty()) {
      tail += "\n" + links + "\n";
    }
    tail += std::string(suffix);
    const std::vector<std::string> all = reasons();
    const auto more_line = [&](std::size_t left) {
      return left == 0 ? std::string()
                       : (chinese() ? "- ……另有 " + std::to_string(left) + " 条原因\n"
                                    : "- … and " + std::to_string(left) + " more\n");
    };
    std::string why = all.empty() ? std::string() : "\n**" + get("caption_why") + "**\n";
    std::size_t shown = 0;
    for (; shown < all.size(); ++shown) {
      const std::string line = "- " + all[shown] + "\n";
      const std::size_t need =
          head.size() + why.size() + line.size() + more_line(all.size() - shown - 1).size() + tail.size();
      if (max_bytes != 0 && need > max_bytes) {
        break;
      }
      why += line;
    }
    if (shown < all.size()) {
      const std::string more = more_line(all.size() - shown);
      const std::size_t used = head.size() + why.size() + tail.size();
      if (shown == 0 && max_bytes > used + more.size() + 8) {
        // Not even the first reason fits whole: its beginning, then the count of the rest.
        const std::string first =
            crm::truncate_utf8(all[0], max_bytes - used - more_line(all.size() - 1).size() - 3, "…");
        why += "- " + first + "\n";
        why += more_line(all.size() - 1);
      } else if (max_bytes == 0 || used + more.size() <= max_bytes) {
        why += more;
      }
    }
    return crm::truncate_utf8(head + why + tail, max_bytes, "");
  }

 private:
  nlohmann::json labels_;
};

}  // namespace crm::plugin_support
