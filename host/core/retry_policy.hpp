#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

namespace crm::host {

// How an operation that failed for a passing reason is tried again; one
// policy for the sync engine's fetches and the outbox's deliveries.
// The wait after the Nth failed attempt is initial_backoff_ms doubled N-1
// times and capped at max_backoff_ms, then drawn at random between half of
// it and all of it (jitter), so that clients that failed together do not
// come back together. After max_attempts attempts in all it gives up.
// Pure: the random source is the caller's (an std::mt19937_64 in the
// engines, a fixed value in tests).
struct RetryPolicy {
  // Uniformly distributed 64-bit values.
  using RandomSource = std::function<std::uint64_t()>;

  int max_attempts = 1;
  std::int64_t initial_backoff_ms = 0;
  std::int64_t max_backoff_ms = 0;

  // True once `attempts_made` attempts have been made: no more.
  [[nodiscard]] bool gives_up_after(int attempts_made) const { return attempts_made >= max_attempts; }

  // The wait before jitter after `failed_attempts` failures (1 for the first).
  [[nodiscard]] std::int64_t backoff_ms(int failed_attempts) const {
    const std::int64_t cap_ms = std::max<std::int64_t>(0, max_backoff_ms);
    std::int64_t wait_ms = std::clamp<std::int64_t>(initial_backoff_ms, 0, cap_ms);
    for (int n = 1; n < failed_attempts && wait_ms > 0 && wait_ms < cap_ms; ++n) {
      wait_ms = wait_ms > cap_ms / 2 ? cap_ms : wait_ms * 2;
    }
    return wait_ms;
  }

  // The wait after `failed_attempts` failures, in [backoff / 2, backoff].
  [[nodiscard]] std::int64_t wait_ms(int failed_attempts, const RandomSource& random) const {
    const std::int64_t full_ms = backoff_ms(failed_attempts);
    const std::int64_t half_ms = full_ms / 2;
    const auto span = static_cast<std::uint64_t>(full_ms - half_ms) + 1;
    return half_ms + static_cast<std::int64_t>(random() % span);
  }
};

}  // namespace crm::host
