#include "alerts/alert_message.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace crm::host {
namespace {

bool chinese(const std::string& language) {
  return language == "zh-CN";
}

// The words of a notification, per language. The channels' own renderings
// (plugin_support/alert_facts.hpp) carry the same captions.
struct Words {
  const char* why;
  const char* value;
  const char* value_basis;
  const char* deadline;
  const char* first_action;
  const char* customer_page;
  const char* acknowledge;
  const char* score;
  const char* no_name;
};

constexpr Words kEnglish = {"Why",         "Value at stake", "purchases in the last 12 months",
                            "Respond by",  "First action",   "Customer page",
                            "Acknowledge", "health score",   "(no name)"};
constexpr Words kChinese = {"原因",     "涉及价值", "近 12 个月采购额", "响应期限",  "首要行动",
                            "客户页面", "确认处理", "健康分",           "（无名称）"};

const Words& words(const std::string& language) {
  return chinese(language) ? kChinese : kEnglish;
}

std::string level_name(const std::string& level, const std::string& language) {
  if (!chinese(language)) {
    return level;
  }
  if (level == "red") {
    return "红色";
  }
  if (level == "orange") {
    return "橙色";
  }
  if (level == "yellow") {
    return "黄色";
  }
  if (level == "green") {
    return "绿色";
  }
  if (level == "signal") {
    return "流失信号";
  }
  return level;
}

std::string offset_text(int utc_offset_minutes, const char* separator) {
  const int magnitude = std::abs(utc_offset_minutes);
  return fmt::format("{}{:02}{}{:02}", utc_offset_minutes < 0 ? '-' : '+', magnitude / 60, separator, magnitude % 60);
}

struct LocalTime {
  int year;
  unsigned month;
  unsigned day;
  std::int64_t hour;
  std::int64_t minute;
  std::int64_t second;
};

LocalTime local_time(std::int64_t ms, int utc_offset_minutes) {
  const std::chrono::sys_time<std::chrono::milliseconds> moment{
      std::chrono::milliseconds{ms + static_cast<std::int64_t>(utc_offset_minutes) * 60'000}};
  const auto day = std::chrono::floor<std::chrono::days>(moment);
  const std::chrono::year_month_day date{day};
  const std::int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(moment - day).count();
  return {static_cast<int>(date.year()),
          static_cast<unsigned>(date.month()),
          static_cast<unsigned>(date.day()),
          seconds / 3600,
          (seconds / 60) % 60,
          seconds % 60};
}

std::string source_id(const AlertFacts& facts) {
  return facts.customer_source.empty() ? std::string() : facts.customer_source + " " + facts.customer_external_id;
}

// "Acme Trading (erp_csv C-0042)": the name people use, and the number its source gives it.
std::string customer_text(const AlertFacts& facts, const std::string& language) {
  const std::string name = facts.customer_name.empty() ? words(language).no_name : facts.customer_name;
  const std::string id = source_id(facts);
  if (id.empty()) {
    return name;
  }
  return chinese(language) ? name + "（" + id + "）" : name + " (" + id + ")";
}

std::string headline(const AlertFacts& facts, const std::string& language) {
  if (!facts.summary.empty()) {
    return facts.summary;
  }
  const std::string score = facts.score ? fmt::format("{:.1f}", *facts.score) : std::string("-");
  const std::string level = level_name(facts.level, language);
  if (facts.event == "resolved") {
    return chinese(language) ? fmt::format("客户 {} 的预警已解除。", customer_text(facts, language))
                             : fmt::format("The alert about {} has ended.", customer_text(facts, language));
  }
  return chinese(language) ? fmt::format("客户 {}处于{}预警：健康分 {}。", customer_text(facts, language), level, score)
                           : fmt::format("{} is {}: health score {}.", customer_text(facts, language), level, score);
}

std::string caption(const char* text, const std::string& language) {
  return std::string(text) + (chinese(language) ? "：" : ": ");
}

}  // namespace

std::string default_first_action(const std::string& level, const std::string& language) {
  // domain.md section 5: the tiered response to risk, and the 15-minute confirmation of signals.
  const bool zh = chinese(language);
  if (level == "red") {
    return zh ? "由高管牵头组建挽留小组，48 小时内上门拜访客户。"
              : "An executive-led retention team visits the customer on site within 48 h.";
  }
  if (level == "orange") {
    return zh ? "销售与服务负责人 72 小时内与客户共同制定改进计划。"
              : "Sales and service lead an improvement plan with the customer within 72 h.";
  }
  if (level == "yellow") {
    return zh ? "客户经理本周内联系客户，了解情况并每周跟进。"
              : "The account manager calls the customer this week and follows up weekly.";
  }
  if (level == "signal") {
    return zh ? "15 分钟内确认预警，然后联系客户的关键联系人。"
              : "Confirm within 15 min, then contact the customer's key person.";
  }
  return "";
}

std::string local_time_text(std::int64_t ms, int utc_offset_minutes, const TimeZone* zone) {
  const LocalTime t = local_time(ms, utc_offset_minutes);
  if (zone != nullptr) {
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02} ({}, UTC{})", t.year, t.month, t.day, t.hour, t.minute,
                       zone->name(), offset_text(utc_offset_minutes, ":"));
  }
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02} (UTC{})", t.year, t.month, t.day, t.hour, t.minute,
                     offset_text(utc_offset_minutes, ":"));
}

std::string local_time_rfc3339(std::int64_t ms, int utc_offset_minutes) {
  const LocalTime t = local_time(ms, utc_offset_minutes);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}", t.year, t.month, t.day, t.hour, t.minute, t.second,
                     utc_offset_minutes == 0 ? std::string("Z") : offset_text(utc_offset_minutes, ":"));
}

std::string money_text(double amount, const std::string& currency) {
  const auto cents = static_cast<std::int64_t>(std::llround(std::fabs(amount) * 100.0));
  std::string whole = std::to_string(cents / 100);
  for (int at = static_cast<int>(whole.size()) - 3; at > 0; at -= 3) {
    whole.insert(static_cast<std::size_t>(at), ",");
  }
  const std::string number = fmt::format("{}{}.{:02}", amount < 0 ? "-" : "", whole, cents % 100);
  return currency.empty() ? number : number + " " + currency;
}

AlertMessage render_alert_message(const AlertFacts& facts, const MessageStyle& style) {
  const std::string& language = style.language;
  const Words& w = words(language);
  AlertMessage message;
  nlohmann::json& out = message.facts;
  out["facts"] = "1";
  out["language"] = language;
  out["level_text"] = level_name(facts.level, language);
  out["headline"] = headline(facts, language);
  std::string text = headline(facts, language) + "\n";
  std::string markdown = headline(facts, language) + "\n";
  if (facts.customer_id != 0) {
    out["customer_name"] = facts.customer_name;
    out["customer_source"] = facts.customer_source;
    out["customer_external_id"] = facts.customer_external_id;
    out["customer_text"] = customer_text(facts, language);
  }
  if (facts.score) {
    out["score"] = fmt::format("{:.1f}", *facts.score);
  }
  if (facts.event != "resolved" && !facts.reasons.empty()) {
    std::string joined;
    text += std::string(w.why) + (chinese(language) ? "：" : ":") + "\n";
    markdown += "\n**" + std::string(w.why) + "**\n";
    for (const std::string& reason : facts.reasons) {
      joined += (joined.empty() ? "" : "\n") + reason;
      text += "- " + reason + "\n";
      markdown += "- " + reason + "\n";
    }
    out["reasons"] = joined;
    std::string codes;
    for (const std::string& code : facts.reason_codes) {
      codes += (codes.empty() ? "" : ",") + code;
    }
    out["reason_codes"] = codes;
  }
  if (facts.value_amount) {
    const std::string value = money_text(*facts.value_amount, facts.value_currency);
    const std::string basis =
        chinese(language) ? std::string("（") + w.value_basis + "）" : std::string(" (") + w.value_basis + ")";
    out["value_text"] = value + basis;
    out["value_amount"] = fmt::format("{:.2f}", *facts.value_amount);
    out["value_currency"] = facts.value_currency;
    out["value_basis"] = "purchases_12_months";
    text += caption(w.value, language) + value + basis + "\n";
    markdown += "\n**" + caption(w.value, language) + "**" + value + basis + "\n";
  }
  if (facts.deadline_ms > 0 && facts.event != "resolved") {
    const int offset_minutes =
        style.time_zone ? style.time_zone->offset_seconds_at(facts.deadline_ms / 1000) / 60 : style.utc_offset_minutes;
    const std::string deadline = local_time_text(facts.deadline_ms, offset_minutes, style.time_zone.get());
    out["deadline_text"] = deadline;
    out["deadline"] = local_time_rfc3339(facts.deadline_ms, offset_minutes);
    if (style.time_zone) {
      out["deadline_time_zone"] = style.time_zone->name();
    }
    out["deadline_ms"] = std::to_string(facts.deadline_ms);
    text += caption(w.deadline, language) + deadline + "\n";
    markdown += "**" + caption(w.deadline, language) + "**" + deadline + "\n";
  }
  if (!style.first_action.empty() && facts.event != "resolved") {
    out["first_action"] = style.first_action;
    text += caption(w.first_action, language) + style.first_action + "\n";
    markdown += "**" + caption(w.first_action, language) + "**" + style.first_action + "\n";
  }
  out["caption_why"] = w.why;
  out["caption_value"] = w.value;
  out["caption_deadline"] = w.deadline;
  out["caption_first_action"] = w.first_action;
  std::string link_line;
  if (!style.customer_url.empty()) {
    out["customer_url"] = style.customer_url;
    message.links.emplace_back(w.customer_page, style.customer_url);
    link_line += "[" + std::string(w.customer_page) + "](" + style.customer_url + ")";
  }
  if (!style.ack_url.empty()) {
    out["ack_url"] = style.ack_url;
    out["ack_recipient"] = style.recipient;
    message.links.emplace_back(w.acknowledge, style.ack_url);
    link_line += (link_line.empty() ? "" : " · ") + ("[" + std::string(w.acknowledge) + "](" + style.ack_url + ")");
  }
  if (!link_line.empty()) {
    markdown += "\n" + link_line + "\n";
    out["caption_customer_page"] = w.customer_page;
    out["caption_acknowledge"] = w.acknowledge;
  }
  message.text = text;
  message.markdown = markdown;
  return message;
}

}  // namespace crm::host
