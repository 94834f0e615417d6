#pragma once

#include <curl/curl.h>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace crm::plugin_support {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// HTTP requests with libcurl, for plugins (which cannot use the host's HTTP
// stack). One client keeps its connection open between requests to the same
// server (keep-alive), which matters when a channel sends thousands of
// notifications; not for concurrent use (a plugin instance is called one at a
// time). Throws crm::RetriableError on network errors and timeouts, naming
// `what` (never the URL: it may carry a token).
class HttpClient {
 public:
  HttpClient();
  HttpResponse request(const std::string& what, const std::string& url, const std::string* post_body,
                       const std::vector<std::string>& headers, long timeout_ms);

 private:
  std::unique_ptr<CURL, void (*)(CURL*)> curl_;
};

// HttpClients for concurrent callers (a plugin declaring CRM_CAP_THREAD_SAFE):
// each request borrows an idle client (its connection still open) or makes
// one, and gives it back afterwards. Thread-safe.
class HttpClientPool {
 public:
  HttpResponse request(const std::string& what, const std::string& url, const std::string* post_body,
                       const std::vector<std::string>& headers, long timeout_ms);

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<HttpClient>> idle_;
};

// One request on a connection of its own.
HttpResponse http_request(const std::string& what, const std::string& url, const std::string* post_body,
                          const std::vector<std::string>& headers, long timeout_ms);

std::string base64_encode(const std::string& bytes);

// A CURLOPT_WRITEFUNCTION that appends to the std::string given as CURLOPT_WRITEDATA.
std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target);

}  // namespace crm::plugin_support
