#pragma once

#include <curl/curl.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/controlled_server.hpp"

namespace crm::host::testing {

// The local WeCom double (tests/doubles/wecom_double.py, ../shared/wecom-api.md).
class WecomDouble : public ControlledServer {
 public:
  WecomDouble() : ControlledServer("tests/doubles/wecom_double.py") {}

  // The base URL clients are configured with: ".../cgi-bin/".
  [[nodiscard]] std::string api_base() const { return base_url() + "/cgi-bin/"; }

  // Requests whose path contains `path_part`, oldest first.
  std::vector<nlohmann::json> requests_to(const std::string& path_part) {
    std::vector<nlohmann::json> found;
    for (const nlohmann::json& request : control("requests")) {
      if (request["path"].get<std::string>().find(path_part) != std::string::npos) {
        found.push_back(request);
      }
    }
    return found;
  }

  // Application messages the double dropped past a member's limits (the sender got errcode 0), oldest first.
  nlohmann::json dropped() { return control("dropped"); }

  // Calls the double's WeCom API as a client would: GET `path_and_query`
  // (".../cgi-bin/" + it), or POST it with `body` as JSON; the reply parsed.
  nlohmann::json call_api(const std::string& path_and_query, const nlohmann::json& body = nullptr) {
    const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    std::string response;
    const std::string url = api_base() + path_and_query;
    const std::string text = body.is_null() ? std::string() : body.dump();
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &append_reply);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response);
    if (!body.is_null()) {
      curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, text.c_str());
    }
    if (curl_easy_perform(curl.get()) != CURLE_OK) {
      throw std::runtime_error("WeCom double request " + path_and_query + " failed");
    }
    return nlohmann::json::parse(response);
  }

 private:
  static std::size_t append_reply(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
  }
};

}  // namespace crm::host::testing
