#pragma once

#include <string>
#include <vector>

namespace crm::connectors {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// One HTTP request with libcurl, for connector plugins (which cannot use the
// host's HTTP stack). Throws crm::RetriableError on network errors and
// timeouts, naming `what` (never the URL: it may carry a token).
HttpResponse http_request(const std::string& what, const std::string& url, const std::string* post_body,
                          const std::vector<std::string>& headers, long timeout_ms);

std::string base64_encode(const std::string& bytes);

// A CURLOPT_WRITEFUNCTION that appends to the std::string given as CURLOPT_WRITEDATA.
std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target);

}  // namespace crm::connectors
