// alert_console: the channel for development and the demo. Each notification
// is one block of text (or one JSON line) appended to a file or stderr; a
// notification already written (same idempotency key, same file) is not
// written again, so the host's at-least-once delivery shows exactly once.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "alert_console_manifest.h"
#include "crm/plugin.hpp"

namespace {

const char* severity_name(crm_severity severity) {
  switch (severity) {
    case CRM_SEVERITY_CRITICAL:
      return "CRITICAL";
    case CRM_SEVERITY_WARNING:
      return "WARNING";
    default:
      return "INFO";
  }
}

class ConsoleChannel final : public crm::Channel {
 public:
  CRM_PLUGIN_METADATA(ALERT_CONSOLE)
  static constexpr std::uint32_t kMaxMessageBytes = 0;
  static constexpr std::uint32_t kMessagesPerMinute = 0;

  ConsoleChannel(const crm::Host& /*host*/, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    path_ = config.value("path", "");
    json_ = config.at("format") == "json";
    if (!path_.empty()) {
      // Keys already in the file: a re-run after a crash does not print twice.
      std::ifstream existing(path_);
      std::string line;
      while (std::getline(existing, line)) {
        if (line.rfind("key: ", 0) == 0) {
          written_.insert(line.substr(5));
        } else if (json_ && !line.empty()) {
          const auto parsed = nlohmann::json::parse(line, nullptr, false);
          if (parsed.is_object() && parsed.contains("idempotency_key")) {
            written_.insert(parsed["idempotency_key"].get<std::string>());
          }
        }
      }
    }
  }

  void send(const crm::Host& /*host*/, const crm::ChannelMessage& message, crm::ChannelResult& /*result*/) override {
    const std::string key(message.idempotency_key());
    if (!key.empty() && written_.count(key) != 0) {
      return;
    }
    std::string block;
    if (json_) {
      nlohmann::json recipients = nlohmann::json::array();
      for (std::size_t i = 0; i < message.recipient_count(); ++i) {
        recipients.push_back(std::string(message.recipient(i)));
      }
      block = nlohmann::json{{"idempotency_key", key},
                             {"severity", severity_name(message.severity())},
                             {"title", std::string(message.title())},
                             {"text", std::string(message.text())},
                             {"recipients", recipients},
                             {"created_ms", message.created_ms()}}
                  .dump() +
              "\n";
    } else {
      block = std::string("[") + severity_name(message.severity()) + "] " + std::string(message.title()) + "\n";
      if (message.recipient_count() > 0) {
        block += "to:";
        for (std::size_t i = 0; i < message.recipient_count(); ++i) {
          block += " " + std::string(message.recipient(i));
        }
        block += "\n";
      }
      block += std::string(message.text()) + "\n";
      for (std::size_t i = 0; i < message.link_count(); ++i) {
        block += std::string(message.link_label(i)) + ": " + std::string(message.link_url(i)) + "\n";
      }
      block += "key: " + key + "\n\n";
    }
    if (path_.empty()) {
      std::fputs(block.c_str(), stderr);
    } else {
      std::ofstream out(path_, std::ios::app | std::ios::binary);
      out << block;
      out.flush();
      if (!out) {
        throw crm::RetriableError("cannot append to " + path_);
      }
    }
    written_.insert(key);
  }

 private:
  std::string path_;
  bool json_ = false;
  std::set<std::string> written_;
};

}  // namespace

CRM_EXPORT_PLUGINS(ConsoleChannel)
