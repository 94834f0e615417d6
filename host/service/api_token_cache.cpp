#include "service/api_token_cache.hpp"

#include <mutex>
#include <utility>

namespace crm::host {

ApiTokenCache::ApiTokenCache(const Clock& clock, Lookup lookup, std::int64_t ttl_ms, std::size_t max_entries)
    : clock_(clock), lookup_(std::move(lookup)), ttl_ms_(ttl_ms), max_entries_(max_entries) {}

std::optional<ApiCaller> ApiTokenCache::authenticate(std::string_view bearer) {
  const std::int64_t now_ms = clock_.now_ms();
  const std::string key = api_token_hash(bearer);
  {
    const std::shared_lock read(mutex_);
    if (const auto found = entries_.find(key); found != entries_.end() && found->second.expires_ms > now_ms) {
      return found->second.caller;
    }
  }
  // Two threads missing at once both ask the store; that is rarer and cheaper than holding the lock across it.
  std::optional<ApiCaller> caller = lookup_(bearer, now_ms);
  const std::unique_lock write(mutex_);
  if (entries_.size() >= max_entries_) {
    entries_.clear();
  }
  entries_.insert_or_assign(key, Entry{caller, now_ms + ttl_ms_});
  return caller;
}

void ApiTokenCache::forget_all() {
  const std::unique_lock write(mutex_);
  entries_.clear();
}

}  // namespace crm::host
