#include "http.hpp"

#include <curl/curl.h>
#include <memory>
#include <mutex>

#include "crm/plugin.hpp"

namespace crm::connectors {
std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

HttpResponse http_request(const std::string& what, const std::string& url, const std::string* post_body,
                          const std::vector<std::string>& headers, long timeout_ms) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    throw crm::FatalError("cannot start an HTTP client");
  }
  curl_slist* header_list = nullptr;
  for (const std::string& header : headers) {
    header_list = curl_slist_append(header_list, header.c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_owner(header_list, &curl_slist_free_all);
  HttpResponse response;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &append_to_string);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, header_list);
  if (post_body != nullptr) {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  const CURLcode result = curl_easy_perform(curl.get());
  if (result != CURLE_OK) {
    throw crm::RetriableError(what + " failed: " + curl_easy_strerror(result));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  return response;
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

}  // namespace crm::connectors
