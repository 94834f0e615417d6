// alert_email: one e-mail per notification through libcurl's SMTP client
// (STARTTLS when the server offers it, AUTH when a user is configured). The
// message is RFC 5322 with a multipart/alternative body (UTF-8 text and
// HTML, base64), an RFC 2047 subject, and a Message-ID derived from the
// idempotency key: a retry after a dropped connection carries the same
// Message-ID, so the recipient's mail system shows one message.
#include <algorithm>
#include <array>
#include <cstring>
#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alert_email_manifest.h"
#include "crm/plugin.hpp"
#include "plugin_support/alert_facts.hpp"
#include "plugin_support/civil_time.hpp"
#include "plugin_support/http.hpp"

namespace {

// base64 in lines of at most 76 characters (RFC 2045).
std::string base64_lines(const std::string& bytes) {
  const std::string flat = crm::plugin_support::base64_encode(bytes);
  std::string wrapped;
  for (std::size_t at = 0; at < flat.size(); at += 76) {
    wrapped += flat.substr(at, 76) + "\r\n";
  }
  return wrapped;
}

// RFC 2047 encoded words of at most 75 characters, never splitting a UTF-8 character.
std::string encode_header(const std::string& text) {
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F;
  });
  if (ascii) {
    return text;
  }
  std::string encoded;
  std::size_t start = 0;
  constexpr std::size_t kChunkBytes = 45;  // 60 base64 characters + 12 of framing < 75
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + kChunkBytes);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
      --end;
    }
    encoded += (encoded.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") +
               crm::plugin_support::base64_encode(text.substr(start, end - start)) + "?=";
    start = end;
  }
  return encoded;
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
        out += "<br>\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string rfc5322_date(std::int64_t ms) {
  const crm::plugin_support::CivilDateTime utc = crm::plugin_support::civil_from_ms(ms);
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%s, %02u %s %04lld %02u:%02u:%02u +0000", kDays.at(utc.weekday),
                utc.date.day, kMonths.at(utc.date.month - 1), static_cast<long long>(utc.date.year), utc.hour,
                utc.minute, utc.second);
  return text.data();
}

struct Upload {
  const std::string* data;
  std::size_t offset;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* source) {
  auto* upload = static_cast<Upload*>(source);
  const std::size_t left = upload->data->size() - upload->offset;
  const std::size_t chunk = std::min(left, size * count);
  std::memcpy(buffer, upload->data->data() + upload->offset, chunk);
  upload->offset += chunk;
  return chunk;
}

class EmailChannel final : public crm::Channel {
 public:
  CRM_PLUGIN_METADATA(ALERT_EMAIL)
  static constexpr std::uint32_t kMaxMessageBytes = 0;
  static constexpr std::uint32_t kMessagesPerMinute = 0;

  EmailChannel(const crm::Host& host, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    url_ = config.at("smtp_url").get<std::string>();
    from_ = config.at("from").get<std::string>();
    from_name_ = config.at("from_name").get<std::string>();
    username_ = config.value("username", "");
    starttls_ = config.at("starttls").get<std::string>();
    timeout_ms_ = config.at("timeout_ms").get<long>();
    if (config.contains("password")) {
      password_ = host.secret("/password");
    }
    domain_ = from_.substr(from_.find('@') + 1);
  }

  [[nodiscard]] std::string compose(const crm::ChannelMessage& message) const {
    const std::string key(message.idempotency_key());
    const std::string boundary = "crm-" + std::to_string(std::hash<std::string>{}(key));
    std::string to;
    for (std::size_t i = 0; i < message.recipient_count(); ++i) {
      to += (to.empty() ? "" : ", ") + std::string(message.recipient(i));
    }
    const crm::plugin_support::AlertFacts facts(message.labels_json());
    std::string html = facts.present() ? facts_html(message, facts)
                                       : "<html><body><h2>" + html_escape(message.title()) + "</h2>\n<p>" +
                                             html_escape(message.text()) + "</p>\n";
    std::string text(message.text());
    for (std::size_t i = 0; i < message.link_count(); ++i) {
      if (!facts.present()) {
        html += "<p><a href=\"" + html_escape(message.link_url(i)) + "\">" + html_escape(message.link_label(i)) +
                "</a></p>\n";
      }
      text += "\n" + std::string(message.link_label(i)) + ": " + std::string(message.link_url(i));
    }
    html += "</body></html>\n";
    return "Date: " + rfc5322_date(message.created_ms()) + "\r\n" + "From: " + encode_header(from_name_) + " <" +
           from_ + ">\r\n" + "To: " + to + "\r\n" + "Subject: " + encode_header(std::string(message.title())) + "\r\n" +
           "Message-ID: <" + key + "@" + domain_ + ">\r\n" + "MIME-Version: 1.0\r\n" +
           "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n" + "--" + boundary + "\r\n" +
           "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_lines(text) +
           "--" + boundary + "\r\n" +
           "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_lines(html) +
           "--" + boundary + "--\r\n";
  }

  // An alert's facts as HTML: who, why (a list), what is at stake, by when,
  // what to do first, and the links as buttons. Every value is escaped.
  [[nodiscard]] static std::string facts_html(const crm::ChannelMessage& message,
                                              const crm::plugin_support::AlertFacts& facts) {
    const auto row = [&](const std::string& key, const std::string& value) {
      return value.empty()
                 ? std::string()
                 : "<tr><th align=\"left\" style=\"padding-right:1em\">" + html_escape(facts.get("caption_" + key)) +
                       "</th><td>" + html_escape(value) + "</td></tr>\n";
    };
    std::string html = "<html lang=\"" + html_escape(facts.chinese() ? "zh-CN" : "en") + "\"><body>\n<h2>" +
                       html_escape(message.title()) + "</h2>\n<p><strong>" + html_escape(facts.get("headline")) +
                       "</strong></p>\n";
    const std::vector<std::string> reasons = facts.reasons();
    if (!reasons.empty()) {
      html += "<h3>" + html_escape(facts.get("caption_why")) + "</h3>\n<ul>\n";
      for (const std::string& reason : reasons) {
        html += "<li>" + html_escape(reason) + "</li>\n";
      }
      html += "</ul>\n";
    }
    html += "<table>\n" + row("value", facts.get("value_text")) + row("deadline", facts.get("deadline_text")) +
            row("first_action", facts.get("first_action")) + "</table>\n";
    std::string links;
    for (const auto& [url_key, label_key] :
         {std::pair{"customer_url", "caption_customer_page"}, std::pair{"ack_url", "caption_acknowledge"}}) {
      if (!facts.get(url_key).empty()) {
        links += "<a href=\"" + html_escape(facts.get(url_key)) +
                 "\" style=\"display:inline-block;padding:6px 12px;margin-right:8px;border:1px solid #888\">" +
                 html_escape(facts.get(label_key)) + "</a>";
      }
    }
    if (!links.empty()) {
      html += "<p>" + links + "</p>\n";
    }
    return html;
  }

  void send(const crm::Host& /*host*/, const crm::ChannelMessage& message, crm::ChannelResult& /*result*/) override {
    if (message.recipient_count() == 0) {
      throw crm::DataError("an e-mail needs at least one recipient");
    }
    const std::string payload = compose(message);
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
      throw crm::RetriableError("cannot start an SMTP session");
    }
    curl_slist* recipients = nullptr;
    for (std::size_t i = 0; i < message.recipient_count(); ++i) {
      recipients = curl_slist_append(recipients, ("<" + std::string(message.recipient(i)) + ">").c_str());
    }
    Upload upload{&payload, 0};
    const std::string mail_from = "<" + from_ + ">";
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &read_upload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USE_SSL,
                     starttls_ == "required" ? static_cast<long>(CURLUSESSL_ALL)
                     : starttls_ == "never"  ? static_cast<long>(CURLUSESSL_NONE)
                                             : static_cast<long>(CURLUSESSL_TRY));
    if (!username_.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, username_.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, password_ ? password_->c_str() : "");
    }
    const CURLcode code = curl_easy_perform(curl);
    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    curl_slist_free_all(recipients);
    curl_easy_cleanup(curl);
    if (code == CURLE_OK) {
      return;
    }
    // The reason in SMTP's terms, never the URL or the credentials.
    const std::string what = std::string("SMTP: ") + curl_easy_strerror(code) +
                             (reply > 0 ? " (server replied " + std::to_string(reply) + ")" : std::string());
    if (code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED) {
      throw crm::ConfigError(what);
    }
    if (reply >= 500 && reply < 600) {
      throw crm::DataError(what);
    }
    throw crm::RetriableError(what);
  }

 private:
  std::string url_;
  std::string from_;
  std::string from_name_;
  std::string username_;
  std::string starttls_;
  std::string domain_;
  long timeout_ms_ = 10'000;
  std::optional<std::string> password_;
};

}  // namespace

CRM_EXPORT_PLUGINS(EmailChannel)
