#include "plugin_support/http.hpp"

#include <curl/curl.h>
#include <memory>
#include <mutex>

#include "crm/plugin.hpp"

namespace crm::plugin_support {
std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

HttpClient::HttpClient() : curl_(nullptr, &curl_easy_cleanup) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_.reset(curl_easy_init());
  if (!curl_) {
    throw crm::FatalError("cannot start an HTTP client");
  }
}

HttpResponse HttpClient::request(const std::string& what, const std::string& url, const std::string* post_body,
                                 const std::vector<std::string>& headers, long timeout_ms) {
  CURL* curl = curl_.get();
  curl_easy_reset(curl);  // options of the last request go; its open connection stays for reuse
  curl_slist* header_list = nullptr;
  for (const std::string& header : headers) {
    header_list = curl_slist_append(header_list, header.c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_owner(header_list, &curl_slist_free_all);
  HttpResponse response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  if (post_body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  const CURLcode result = curl_easy_perform(curl);
  if (result != CURLE_OK) {
    throw crm::RetriableError(what + " failed: " + curl_easy_strerror(result));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

HttpResponse HttpClientPool::request(const std::string& what, const std::string& url, const std::string* post_body,
                                     const std::vector<std::string>& headers, long timeout_ms) {
  std::unique_ptr<HttpClient> client;
  {
    const std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) {
    client = std::make_unique<HttpClient>();
  }
  HttpResponse response = client->request(what, url, post_body, headers, timeout_ms);
  const std::lock_guard lock(mutex_);
  idle_.push_back(std::move(client));  // a client whose request threw is dropped with its connection
  return response;
}

HttpResponse http_request(const std::string& what, const std::string& url, const std::string* post_body,
                          const std::vector<std::string>& headers, long timeout_ms) {
  HttpClient client;
  return client.request(what, url, post_body, headers, timeout_ms);
}

std::string base64_encode(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto triple = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16U |
                                                   static_cast<unsigned char>(bytes[i + 1]) << 8U |
                                                   static_cast<unsigned char>(bytes[i + 2]));
    encoded += kAlphabet[(triple >> 18U) & 63U];
    encoded += kAlphabet[(triple >> 12U) & 63U];
    encoded += kAlphabet[(triple >> 6U) & 63U];
    encoded += kAlphabet[triple & 63U];
  }
  if (i < bytes.size()) {
    std::uint32_t triple = static_cast<unsigned char>(bytes[i]) << 16U;
    if (i + 1 < bytes.size()) {
      triple |= static_cast<unsigned char>(bytes[i + 1]) << 8U;
    }
    encoded += kAlphabet[(triple >> 18U) & 63U];
    encoded += kAlphabet[(triple >> 12U) & 63U];
    encoded += i + 1 < bytes.size() ? kAlphabet[(triple >> 6U) & 63U] : '=';
    encoded += '=';
  }
  return encoded;
}

}  // namespace crm::plugin_support
