#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "app/api_tokens.hpp"
#include "core/clock.hpp"

namespace crm::host {

// What the service asks on every API request: who does this bearer token
// stand for? Answers from memory for `ttl_ms` after the store last answered
// for the same token, so that 5,000 requests a second cost 5,000 SHA-256
// digests and hash-map reads, not 5,000 store lookups.
//
// Revocation: a token revoked through this process (the API) stops working
// at once if the caller calls forget_all(); one revoked by another process
// (`crmhost tokens revoke`) stops working within `ttl_ms` (5 s by default).
// Unknown tokens are remembered as unknown for the same time, so a flood of
// bad tokens does not reach the store either; at most `max_entries` answers
// are kept (the cache is emptied when full). Keys are hashes: no plaintext
// token is kept in memory.
//
// Thread-safe: any thread may call authenticate() and forget_all(). `lookup`
// is called without the cache's lock held, from the requesting thread; it
// must be safe to call from several threads (the service serialises its
// store behind it), and the clock must outlive the cache.
class ApiTokenCache {
 public:
  // Asks the store, e.g. [&](std::string_view bearer, std::int64_t now_ms) {
  //   return authenticate_api_token(store, bearer, now_ms); } under the store's lock.
  using Lookup = std::function<std::optional<ApiCaller>(std::string_view bearer, std::int64_t now_ms)>;

  static constexpr std::int64_t kDefaultTtlMs = 5'000;
  static constexpr std::size_t kDefaultMaxEntries = 10'000;

  ApiTokenCache(const Clock& clock, Lookup lookup, std::int64_t ttl_ms = kDefaultTtlMs,
                std::size_t max_entries = kDefaultMaxEntries);

  std::optional<ApiCaller> authenticate(std::string_view bearer);
  // Drops every remembered answer: the next request of each token asks the store.
  void forget_all();

 private:
  struct Entry {
    std::optional<ApiCaller> caller;
    std::int64_t expires_ms = 0;
  };

  const Clock& clock_;
  Lookup lookup_;
  std::int64_t ttl_ms_;
  std::size_t max_entries_;
  std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // by api_token_hash
};

}  // namespace crm::host
