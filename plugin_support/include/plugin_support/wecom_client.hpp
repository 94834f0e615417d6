#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crm/plugin.hpp"
#include "plugin_support/http.hpp"

namespace crm::plugin_support {

// The WeCom server API (../shared/wecom-api.md) for connectors and channels.
// With a corp id and secret it fetches the access token, caches it until
// shortly before it expires, and fetches a new one once when the server says
// it expired (42001) or is invalid (40014, 41001); robot webhooks
// (post_keyed) need neither. Failures become the SDK's error classes, as the
// contract says:
//   RetryAfterError  45009 frequency limit, 45033 concurrency limit: retry
//                    after the 60-second window the block lasts
//   RetriableError   network errors, timeouts, HTTP 5xx, a body that is not
//                    JSON, -1 system busy, a token still refused after a refresh
//   ConfigError      40013/40001 (corp id or secret rejected), 93000 (robot key
//                    bad or reset), 60020 (this server's IP is not among the
//                    app's trusted IPs), 48002 (the app lacks the API's
//                    permission), HTTP 404; the message says what to fix
//   DataError        40008 bad message type, 44004 empty content, 40058 too
//                    long or an invalid parameter, 81013 no valid recipient
//                    (every member invalid or unlicensed): this message never
//                    goes through
//   FatalError       any other errcode
// Messages name the API path, never the token, the key or the secret.
// One instance is used by one thread at a time (the plugin's call lock).
class WecomClient {
 public:
  // `secret_field` names the configuration field of the secret in errors ("contact_secret").
  WecomClient(std::string base_url, std::string corp_id, std::string secret, std::string secret_field, long timeout_ms);

  nlohmann::json get(const crm::Host& host, const std::string& path, const std::string& query = {});
  nlohmann::json post(const crm::Host& host, const std::string& path, const nlohmann::json& body);
  // Like post, but a reply whose errcode is one of `returned_errcodes` is
  // returned instead of thrown, for callers that handle it themselves (the
  // channel's 81013: every recipient refused, which it reports per recipient).
  nlohmann::json post_returning(const crm::Host& host, const std::string& path, const nlohmann::json& body,
                                const std::vector<int>& returned_errcodes);
  // A POST authenticated by `query` (a robot's key=...) instead of a token.
  nlohmann::json post_keyed(const std::string& path, const std::string& query, const nlohmann::json& body);

 private:
  nlohmann::json call(const crm::Host& host, bool is_post, const std::string& path, const std::string& query,
                      const std::string& body, const std::vector<int>& returned_errcodes = {});
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
