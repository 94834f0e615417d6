#include "imap_client.hpp"

#include <curl/curl.h>
#include <mutex>
#include <regex>

#include "crm/plugin.hpp"
#include "plugin_support/http.hpp"

namespace crm::connectors {
namespace {}  // namespace

struct ImapClient::Handle {
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { curl_easy_cleanup(curl); }
  CURL* curl = nullptr;
  std::string response;
};

ImapClient::ImapClient(std::string url, std::string mailbox, const std::string& username, const std::string& password,
                       bool require_tls, long timeout_ms)
    : handle_(std::make_unique<Handle>()), mailbox_(std::move(mailbox)) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  handle_->curl = curl_easy_init();
  if (handle_->curl == nullptr) {
    throw crm::FatalError("cannot start an IMAP client");
  }
  std::unique_ptr<char, decltype(&curl_free)> escaped(
      curl_easy_escape(handle_->curl, mailbox_.c_str(), static_cast<int>(mailbox_.size())), &curl_free);
  mailbox_url_ = url + (url.empty() || url.back() != '/' ? "/" : "") + escaped.get();
  CURL* curl = handle_->curl;
  curl_easy_setopt(curl, CURLOPT_USERNAME, username.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, password.c_str());
  curl_easy_setopt(curl, CURLOPT_USE_SSL, require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &plugin_support::append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &handle_->response);
}

ImapClient::~ImapClient() = default;

std::string ImapClient::command(const std::string& request) {
  handle_->response.clear();
  curl_easy_setopt(handle_->curl, CURLOPT_URL, mailbox_url_.c_str());
  curl_easy_setopt(handle_->curl, CURLOPT_CUSTOMREQUEST, request.c_str());
  const CURLcode result = curl_easy_perform(handle_->curl);
  if (result == CURLE_LOGIN_DENIED) {
    throw crm::ConfigError("the IMAP server refused the login; check username and password");
  }
  if (result == CURLE_USE_SSL_FAILED) {
    throw crm::ConfigError("the IMAP server does not offer TLS, and tls is required");
  }
  if (result != CURLE_OK) {
    throw crm::RetriableError(std::string("IMAP ") + request.substr(0, request.find(' ', 4)) +
                              " failed: " + curl_easy_strerror(result));
  }
  return handle_->response;
}

std::uint64_t ImapClient::uid_validity() {
  const std::string response = command("EXAMINE \"" + mailbox_ + "\"");
  static const std::regex kValidity("UIDVALIDITY ([0-9]+)");
  std::smatch match;
  if (!std::regex_search(response, match, kValidity)) {
    throw crm::RetriableError("the IMAP server did not report UIDVALIDITY");
  }
  return std::stoull(match[1].str());
}

std::vector<std::uint64_t> ImapClient::uids_from(std::uint64_t first_uid) {
  const std::string response = command("UID SEARCH UID " + std::to_string(first_uid) + ":*");
  std::vector<std::uint64_t> uids;
  const std::size_t search = response.find("* SEARCH");
  if (search == std::string::npos) {
    return uids;
  }
  const std::size_t end = response.find('\n', search);
  std::string numbers = response.substr(search + 8, end == std::string::npos ? std::string::npos : end - search - 8);
  std::size_t at = 0;
  while (at < numbers.size()) {
    while (at < numbers.size() && (numbers[at] < '0' || numbers[at] > '9')) ++at;
    std::size_t digits = at;
    while (digits < numbers.size() && numbers[digits] >= '0' && numbers[digits] <= '9') ++digits;
    if (digits > at) {
      const std::uint64_t uid = std::stoull(numbers.substr(at, digits - at));
      // "n:*" always includes the highest UID, even when it is below n.
      if (uid >= first_uid) {
        uids.push_back(uid);
      }
    }
    at = digits;
  }
  return uids;
}

std::string ImapClient::fetch(std::uint64_t uid) {
  // libcurl hands custom FETCH responses over without their literal, and its
  // own ;UID= fetch reads BODY[], which marks the message as read. So: note
  // the flags, fetch, and take \Seen away again from mail that was unread.
  const std::string id = std::to_string(uid);
  const bool was_seen = command("UID FETCH " + id + " FLAGS").find("\\Seen") != std::string::npos;
  handle_->response.clear();
  const std::string url = mailbox_url_ + ";UID=" + id;
  curl_easy_setopt(handle_->curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle_->curl, CURLOPT_CUSTOMREQUEST, nullptr);
  const CURLcode result = curl_easy_perform(handle_->curl);
  if (result != CURLE_OK) {
    throw crm::RetriableError("IMAP FETCH of UID " + id + " failed: " + curl_easy_strerror(result));
  }
  std::string message = std::move(handle_->response);
  if (!was_seen) {
    command("UID STORE " + id + " -FLAGS.SILENT (\\Seen)");
  }
  return message;
}

}  // namespace crm::connectors
