// alert_wecom: a notification to WeCom (../shared/wecom-api.md sections 1-2),
// either to a group robot's webhook or as an application message to members.
// The host paces to kMessagesPerMinute (a robot's 20 per minute) and digests
// what does not fit; bodies longer than WeCom takes are cut at a UTF-8
// boundary with a marker. Errcodes map to retriable or permanent through the
// shared WecomClient; application messages report refused members (invalid or
// unlicensed, matched case-insensitively) as a partial delivery, a message
// nobody can receive (81013) as permanent, and go out in sends of at most
// 1,000 members. The host also paces each member to WeCom's 30 a minute and
// 1,000 an hour (kRecipientMessagesPer*), past which WeCom drops silently.
// Text is the default message type: markdown is invisible to members reading
// WeCom through the WeChat plug-in. No error or log line carries the robot key, the secret or
// a token: WecomClient names API paths only.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert_wecom_manifest.h"
#include "crm/plugin.hpp"
#include "plugin_support/alert_facts.hpp"
#include "plugin_support/wecom_client.hpp"

namespace {

using nlohmann::json;

// Content limits of section 1 (application messages take the text limit).
constexpr std::size_t kTextLimitBytes = 2048;
constexpr std::size_t kRobotMarkdownLimitBytes = 4096;
constexpr std::string_view kCutMarker = "\n……(内容过长，已截断)";
// touser takes at most this many members per message/send.
constexpr std::size_t kMaxMembersPerSend = 1000;
// message/send's "no valid recipient": every member invalid or unlicensed.
constexpr int kNoValidRecipient = 81013;

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    if (end > start) {
      parts.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return parts;
}

// WeCom member ids compare case-insensitively (ASCII).
std::string lower_ascii(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return lowered;
}

bool is_mobile_number(std::string_view recipient) {
  return recipient.size() == 11 && recipient.find_first_not_of("0123456789") == std::string_view::npos;
}

class WecomChannel final : public crm::Channel {
 public:
  CRM_PLUGIN_METADATA(ALERT_WECOM)
  // The smaller of the limits, so that a body the host fits is accepted in every mode.
  static constexpr std::uint32_t kMaxMessageBytes = kTextLimitBytes;
  static constexpr std::uint32_t kMessagesPerMinute = 20;
  // WeCom drops (silently) application messages past 30 a minute or 1,000 an
  // hour from one app to one member: the host holds what is over (ABI 1.3).
  static constexpr std::uint32_t kRecipientMessagesPerMinute = 30;
  static constexpr std::uint32_t kRecipientMessagesPerHour = 1000;

  WecomChannel(const crm::Host& host, std::string_view config_json) {
    const auto config = json::parse(config_json);
    robot_ = config.at("mode").get<std::string>() == "robot";
    markdown_ = config.at("msgtype").get<std::string>() == "markdown";
    const auto base_url = config.at("base_url").get<std::string>();
    const long timeout_ms = config.at("timeout_ms").get<long>();
    if (robot_) {
      const std::optional<std::string> key = host.secret("/robot_key");
      if (!key || key->empty()) {
        throw crm::ConfigError("robot_key is required in robot mode (as {\"env\": \"VARIABLE\"}, set and not empty)");
      }
      robot_query_ = "key=" + *key;
      client_.emplace(base_url, "", "", "corp_secret", timeout_ms);
      return;
    }
    for (const char* field : {"corp_id", "agent_id"}) {
      if (!config.contains(field)) {
        throw crm::ConfigError(std::string(field) + " is required in app mode");
      }
    }
    const std::optional<std::string> secret = host.secret("/corp_secret");
    if (!secret || secret->empty()) {
      throw crm::ConfigError("corp_secret is required in app mode (as {\"env\": \"VARIABLE\"}, set and not empty)");
    }
    agent_id_ = config.at("agent_id").get<std::int64_t>();
    client_.emplace(base_url, config.at("corp_id").get<std::string>(), *secret, "corp_secret", timeout_ms);
  }

  void send(const crm::Host& host, const crm::ChannelMessage& message, crm::ChannelResult& result) override {
    if (robot_) {
      send_to_robot(message);
    } else {
      send_to_members(host, message, result);
    }
  }

 private:
  [[nodiscard]] std::string content(const crm::ChannelMessage& message, std::size_t limit_bytes) const {
    // An alert's facts are rendered here, to the limit of the message type:
    // reasons give way before the deadline, the action and the links do.
    const crm::plugin_support::AlertFacts facts(message.labels_json());
    if (markdown_ && facts.present()) {
      return facts.markdown(message.title(), limit_bytes);
    }
    std::string body = markdown_ ? std::string(message.markdown())
                                 : std::string(message.title()) + "\n\n" + std::string(message.text());
    if (!markdown_) {
      std::string links;
      for (std::size_t i = 0; i < message.link_count(); ++i) {
        links += "\n" + std::string(message.link_label(i)) + ": " + std::string(message.link_url(i));
      }
      if (!links.empty() && links.size() < limit_bytes / 2) {
        return crm::truncate_utf8(body, limit_bytes - links.size(), kCutMarker) + links;
      }
    }
    return crm::truncate_utf8(body, limit_bytes, kCutMarker);
  }

  void send_to_robot(const crm::ChannelMessage& message) {
    json body;
    if (markdown_) {
      // Markdown robot messages mention members inline; mobile numbers cannot be mentioned there.
      std::string mentions;
      for (std::size_t i = 0; i < message.recipient_count(); ++i) {
        if (!is_mobile_number(message.recipient(i))) {
          mentions += "<@" + std::string(message.recipient(i)) + ">";
        }
      }
      const std::string suffix = mentions.empty() ? std::string() : "\n" + mentions;
      body = {{"msgtype", "markdown"},
              {"markdown", {{"content", content(message, kRobotMarkdownLimitBytes - suffix.size()) + suffix}}}};
    } else {
      json users = json::array();
      json mobiles = json::array();
      for (std::size_t i = 0; i < message.recipient_count(); ++i) {
        (is_mobile_number(message.recipient(i)) ? mobiles : users).push_back(std::string(message.recipient(i)));
      }
      body = {{"msgtype", "text"},
              {"text",
               {{"content", content(message, kTextLimitBytes)},
                {"mentioned_list", users},
                {"mentioned_mobile_list", mobiles}}}};
    }
    client_->post_keyed("webhook/send", robot_query_, body);
  }

  void send_to_members(const crm::Host& host, const crm::ChannelMessage& message, crm::ChannelResult& result) {
    if (message.recipient_count() == 0) {
      throw crm::DataError("an application message needs at least one member as recipient");
    }
    const char* msgtype = markdown_ ? "markdown" : "text";
    const std::string body_content = content(message, kTextLimitBytes);
    // touser takes at most 1,000 members: more go in several sends of the same
    // content. Each asks WeCom's duplicate check to drop a repeat of the same
    // content to the same members within the interval, so a retry after some
    // sends went through (or after a crash) reaches nobody twice.
    std::vector<bool> refused(message.recipient_count(), false);
    for (std::size_t first = 0; first < message.recipient_count(); first += kMaxMembersPerSend) {
      const std::size_t end = std::min(message.recipient_count(), first + kMaxMembersPerSend);
      std::string to_users;
      for (std::size_t i = first; i < end; ++i) {
        to_users += (i == first ? "" : "|") + std::string(message.recipient(i));
      }
      const json body = {{"touser", to_users},
                         {"toparty", ""},
                         {"totag", ""},
                         {"msgtype", msgtype},
                         {"agentid", agent_id_},
                         {msgtype, {{"content", body_content}}},
                         {"safe", 0},
                         {"enable_duplicate_check", 1},
                         {"duplicate_check_interval", 1800}};
      const json reply = client_->post_returning(host, "message/send", body, {kNoValidRecipient});
      if (reply.value("errcode", 0) == kNoValidRecipient) {
        std::fill(refused.begin() + static_cast<std::ptrdiff_t>(first),
                  refused.begin() + static_cast<std::ptrdiff_t>(end), true);
        continue;
      }
      // WeCom reports member ids lower-cased (ZhangSan comes back as zhangsan);
      // unlicensed members are not delivered either.
      std::set<std::string> reported;
      for (const char* field : {"invaliduser", "unlicenseduser"}) {
        for (const std::string& member : split(reply.value(field, std::string()), '|')) {
          reported.insert(lower_ascii(member));
        }
      }
      for (std::size_t i = first; i < end; ++i) {
        if (reported.contains(lower_ascii(message.recipient(i)))) {
          refused[i] = true;
        }
      }
    }
    std::size_t refused_count = 0;
    for (std::size_t i = 0; i < refused.size(); ++i) {
      if (refused[i]) {
        result.fail_recipient(i);
        ++refused_count;
      }
    }
    if (refused_count == message.recipient_count()) {
      // Permanent for this message (81013 or every member listed as refused): never retried.
      throw crm::DataError(
          "WeCom refused every member of the message (invalid or unlicensed members; errcode 81013 "
          "or invaliduser/unlicenseduser)");
    }
  }

  bool robot_ = true;
  bool markdown_ = false;
  std::string robot_query_;
  std::int64_t agent_id_ = 0;
  std::optional<crm::plugin_support::WecomClient> client_;
};

}  // namespace

CRM_EXPORT_PLUGINS(WecomChannel)
