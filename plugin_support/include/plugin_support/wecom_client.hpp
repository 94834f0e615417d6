#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "crm/plugin.hpp"
#include "plugin_support/http.hpp"

namespace crm::plugin_support {

// The WeCom server API (../shared/wecom-api.md) for connectors and channels.
// With a corp id and secret it fetches the access token, caches it until
// shortly before it expires, and fetches a new one once when the server says
// it expired (42001) or is invalid (40014); robot webhooks (post_keyed) need
// neither. Failures become the SDK's error classes, as the contract says:
//   RetryAfterError  45009 rate limited: after the 60-second window
//   RetriableError   network errors, timeouts, HTTP 5xx, a body that is not
//                    JSON, -1 system busy, a token still refused after a refresh
//   ConfigError      40013/40001 (corp id or secret rejected), 93000 (robot key
//                    bad or reset), HTTP 404
//   DataError        40008 bad message type, 44004 empty content, 40058 too
//                    long: this message never goes through
//   FatalError       any other errcode
// Messages name the API path, never the token, the key or the secret.
class WecomClient {
 public:
  // `secret_field` names the configuration field of the secret in errors ("contact_secret").
  WecomClient(std::string base_url, std::string corp_id, std::string secret, std::string secret_field, long timeout_ms);

  nlohmann::json get(const crm::Host& host, const std::string& path, const std::string& query = {});
  nlohmann::json post(const crm::Host& host, const std::string& path, const nlohmann::json& body);
  // A POST authenticated by `query` (a robot's key=...) instead of a token.
  nlohmann::json post_keyed(const std::string& path, const std::string& query, const nlohmann::json& body);

 private:
  nlohmann::json call(const crm::Host& host, bool is_post, const std::string& path, const std::string& query,
                      const std::string& body);
  nlohmann::json request(bool is_post, const std::string& path, const std::string& query, const std::string& body);
  void refresh_token(const crm::Host& host);
  [[noreturn]] static void throw_for_errcode(const std::string& path, const nlohmann::json& reply);

  std::string base_url_;
  std::string corp_id_;
  std::string secret_;
  std::string secret_field_;
  long timeout_ms_;
  std::string token_;
  HttpClient http_;
  std::int64_t token_expires_ms_ = 0;
};

}  // namespace crm::plugin_support
