#pragma once

#include <curl/curl.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "support/child_process.hpp"
#include "support/required_program.hpp"

namespace crm::host::testing {

// One of the project's loopback test servers (tests/servers/*.py, the WeCom
// double in tests/doubles), started on a free port, and its /__control/ API
// through which a test scripts faults and reads what the server saw. Tests
// that use it link libcurl.
class ControlledServer {
 public:
  // `script` is relative to the source tree, e.g. "tests/servers/webhook_receiver.py".
  explicit ControlledServer(const std::string& script)
      : process_(started({"/usr/bin/python3", std::string(CRM_SOURCE_DIR) + "/" + script, "--port", "0"})) {
    const std::string banner = process_.read_line();
    if (banner.rfind("listening ", 0) != 0) {
      throw std::runtime_error(did_not_start(kPython, script + " printed '" + banner + "'"));
    }
    base_url_ = "http://127.0.0.1:" + banner.substr(10);
  }

  // "http://127.0.0.1:PORT", without a trailing slash.
  [[nodiscard]] const std::string& base_url() const { return base_url_; }

  // GET /__control/PATH, or POST it with `body` as JSON; the reply parsed.
  nlohmann::json control(const std::string& path, const nlohmann::json& body = nullptr) {
    const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    std::string response;
    const std::string url = base_url_ + "/__control/" + path;
    const std::string text = body.is_null() ? std::string() : body.dump();
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response);
    if (!body.is_null()) {
      curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, text.c_str());
    }
    if (curl_easy_perform(curl.get()) != CURLE_OK) {
      throw std::runtime_error("control request " + path + " failed");
    }
    return nlohmann::json::parse(response);
  }

 private:
  static std::size_t append(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
  }

  static std::vector<std::string> started(std::vector<std::string> argv) {
    require(kPython);
    return argv;
  }

  ChildProcess process_;
  std::string base_url_;
};

}  // namespace crm::host::testing
