#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "crm/plugin.hpp"

namespace crm::connectors {

// The WeCom server API for one corp and one secret (../shared/wecom-api.md):
// fetches the access token, caches it until shortly before it expires, and
// fetches a new one once when the server says it expired (42001) or is
// invalid (40014). Failures become the SDK's error classes:
//   RetriableError  network errors, timeouts, HTTP 5xx, a body that is not
//                   JSON, -1 system busy, 45009 rate limit
//   ConfigError     40013/40001 (corp id or secret rejected), HTTP 404
//   FatalError      any other errcode
// Messages name the API path, never the token or the secret.
class WecomClient {
 public:
  WecomClient(std::string base_url, std::string corp_id, std::string secret, long timeout_ms);

  nlohmann::json get(const crm::Host& host, const std::string& path, const std::string& query = {});
  nlohmann::json post(const crm::Host& host, const std::string& path, const nlohmann::json& body);

 private:
  nlohmann::json call(const crm::Host& host, bool is_post, const std::string& path, const std::string& query,
                      const std::string& body);
  nlohmann::json request(bool is_post, const std::string& path, const std::string& query, const std::string& body);
  void refresh_token(const crm::Host& host);

  std::string base_url_;
  std::string corp_id_;
  std::string secret_;
  long timeout_ms_;
  std::string token_;
  std::int64_t token_expires_ms_ = 0;
};

}  // namespace crm::connectors
