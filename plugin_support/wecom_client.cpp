#include "plugin_support/wecom_client.hpp"

#include <algorithm>
#include <curl/curl.h>
#include <memory>
#include <mutex>

#include "plugin_support/http.hpp"

namespace crm::plugin_support {
namespace {

// Refresh this long before the server's expiry, so a token never dies mid-sync.
constexpr std::int64_t kTokenMarginMs = std::int64_t{5} * 60 * 1000;
// 45009 (frequency) and 45033 (concurrency) blocks lift after a minute.
constexpr std::int64_t kRateWindowMs = 60'000;

std::string escape(CURL* curl, const std::string& text) {
  std::unique_ptr<char, decltype(&curl_free)> escaped(
      curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size())), &curl_free);
  return escaped ? std::string(escaped.get()) : std::string();
}

}  // namespace

WecomClient::WecomClient(std::string base_url, std::string corp_id, std::string secret, std::string secret_field,
                         long timeout_ms)
    : base_url_(std::move(base_url)),
      corp_id_(std::move(corp_id)),
      secret_(std::move(secret)),
      secret_field_(std::move(secret_field)),
      timeout_ms_(timeout_ms) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

nlohmann::json WecomClient::request(bool is_post, const std::string& path, const std::string& query,
                                    const std::string& body) {
  const std::string url = base_url_ + path + (query.empty() ? "" : "?" + query);
  const HttpResponse response = http_.request("WeCom " + path, url, is_post ? &body : nullptr,
                                              {"Content-Type: application/json; charset=utf-8"}, timeout_ms_);
  if (response.status >= 500) {
    throw crm::RetriableError("WeCom " + path + " returned HTTP " + std::to_string(response.status));
  }
  if (response.status == 404) {
    throw crm::ConfigError("WeCom " + path + " returned HTTP 404; check base_url");
  }
  if (response.status != 200) {
    throw crm::FatalError("WeCom " + path + " returned HTTP " + std::to_string(response.status));
  }
  nlohmann::json parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    throw crm::RetriableError("WeCom " + path + " answered with something that is not JSON");
  }
  return parsed;
}

void WecomClient::refresh_token(const crm::Host& host) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  const nlohmann::json reply = request(
      false, "gettoken", "corpid=" + escape(curl.get(), corp_id_) + "&corpsecret=" + escape(curl.get(), secret_), {});
  const int errcode = reply.value("errcode", -1);
  if (errcode == 40013 || errcode == 40001) {
    throw crm::ConfigError("WeCom rejected corp_id or " + secret_field_ + " (errcode " + std::to_string(errcode) + ")");
  }
  if (errcode != 0 || !reply.contains("access_token")) {
    throw_for_errcode("gettoken", reply);
  }
  token_ = reply["access_token"].get<std::string>();
  token_expires_ms_ = host.now_ms() + reply.value("expires_in", 7200) * 1000LL - kTokenMarginMs;
}

void WecomClient::throw_for_errcode(const std::string& path, const nlohmann::json& reply) {
  const int errcode = reply.value("errcode", -1);
  const std::string what =
      "WeCom " + path + " errcode " + std::to_string(errcode) + " (" + reply.value("errmsg", std::string()) + ")";
  switch (errcode) {
    case 45009:
    case 45033:
      throw crm::RetryAfterError(what, kRateWindowMs);
    case 60020:
      throw crm::ConfigError(what +
                             ": this server's IP address is not among the app's trusted IPs; add it in the "
                             "WeCom admin console (the app's page, trusted IPs) and send again");
    case 48002:
      throw crm::ConfigError(what +
                             ": the app has no permission for this API; grant it in the WeCom admin console "
                             "(the app's API permissions, or the apps allowed to call the customer-contact "
                             "APIs) and send again");
    case -1:
    case 42001:
    case 40014:
      throw crm::RetriableError(what);
    case 40013:
    case 40001:
    case 93000:
      throw crm::ConfigError(what);
    case 40008:
    case 44004:
    case 40058:
    case 81013:
      throw crm::DataError(what);
    default:
      throw crm::FatalError(what);
  }
}

nlohmann::json WecomClient::call(const crm::Host& host, bool is_post, const std::string& path, const std::string& query,
                                 const std::string& body, const std::vector<int>& returned_errcodes) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (token_.empty() || host.now_ms() >= token_expires_ms_) {
      refresh_token(host);
    }
    const std::string full_query = "access_token=" + token_ + (query.empty() ? "" : "&" + query);
    nlohmann::json reply = request(is_post, path, full_query, body);
    const int errcode = reply.value("errcode", 0);
    if (errcode == 0 ||
        std::find(returned_errcodes.begin(), returned_errcodes.end(), errcode) != returned_errcodes.end()) {
      return reply;
    }
    if ((errcode == 42001 || errcode == 40014 || errcode == 41001) && attempt == 0) {
      token_.clear();  // expired or revoked: fetch a new one once
      continue;
    }
    throw_for_errcode(path, reply);
  }
  throw crm::RetriableError("WeCom " + path + " kept rejecting fresh tokens");
}

nlohmann::json WecomClient::post_keyed(const std::string& path, const std::string& query, const nlohmann::json& body) {
  nlohmann::json reply = request(true, path, query, body.dump());
  if (reply.value("errcode", 0) != 0) {
    throw_for_errcode(path, reply);
  }
  return reply;
}

nlohmann::json WecomClient::get(const crm::Host& host, const std::string& path, const std::string& query) {
  return call(host, false, path, query, {});
}

nlohmann::json WecomClient::post(const crm::Host& host, const std::string& path, const nlohmann::json& body) {
  return call(host, true, path, {}, body.dump());
}

nlohmann::json WecomClient::post_returning(const crm::Host& host, const std::string& path, const nlohmann::json& body,
                                           const std::vector<int>& returned_errcodes) {
  return call(host, true, path, {}, body.dump(), returned_errcodes);
}

}  // namespace crm::plugin_support
