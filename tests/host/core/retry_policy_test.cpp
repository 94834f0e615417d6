// The one retry policy of sync and delivery: doubling waits under a cap,
// jitter between half and all of the wait from the caller's random source,
// and giving up after the last attempt.
#include "core/retry_policy.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <random>

namespace crm::host {
namespace {

constexpr std::uint64_t kLowest = 0;
constexpr std::uint64_t kHighest = std::numeric_limits<std::uint64_t>::max();

TEST(RetryPolicy, DoublesTheWaitFromTheInitialOneUpToTheCap) {
  const RetryPolicy policy{5, 1'000, 3'000};
  EXPECT_EQ(policy.backoff_ms(1), 1'000);
  EXPECT_EQ(policy.backoff_ms(2), 2'000);
  EXPECT_EQ(policy.backoff_ms(3), 3'000);
  EXPECT_EQ(policy.backoff_ms(50), 3'000);
}

TEST(RetryPolicy, TheDeliveryDefaultsReachTheirHourCapWithoutOverflowing) {
  const RetryPolicy policy{100, 30'000, 3'600'000};
  EXPECT_EQ(policy.backoff_ms(1), 30'000);
  EXPECT_EQ(policy.backoff_ms(7), 1'920'000);
  EXPECT_EQ(policy.backoff_ms(8), 3'600'000);
  EXPECT_EQ(policy.backoff_ms(100), 3'600'000);
}

TEST(RetryPolicy, JitterDrawsBetweenHalfAndAllOfTheWaitFromTheInjectedSource) {
  const RetryPolicy policy{5, 1'000, 3'000};
  EXPECT_EQ(policy.wait_ms(1, [] { return kLowest; }), 500);
  EXPECT_EQ(policy.wait_ms(1, [] { return std::uint64_t{500}; }), 1'000);  // the span holds 501 values
  EXPECT_EQ(policy.wait_ms(1, [] { return std::uint64_t{501}; }), 500);
  EXPECT_EQ(policy.wait_ms(3, [] { return std::uint64_t{1'500}; }), 3'000);
  std::mt19937_64 random(42);
  for (int attempt = 1; attempt <= 4; ++attempt) {
    for (int draw = 0; draw < 200; ++draw) {
      const std::int64_t wait_ms = policy.wait_ms(attempt, [&random] { return std::uint64_t{random()}; });
      EXPECT_GE(wait_ms, policy.backoff_ms(attempt) / 2);
      EXPECT_LE(wait_ms, policy.backoff_ms(attempt));
    }
  }
  EXPECT_LE(policy.wait_ms(2, [] { return kHighest; }), 2'000);
}

TEST(RetryPolicy, GivesUpOnceMaxAttemptsAreMade) {
  const RetryPolicy policy{4, 500, 30'000};
  EXPECT_FALSE(policy.gives_up_after(1));
  EXPECT_FALSE(policy.gives_up_after(3));
  EXPECT_TRUE(policy.gives_up_after(4));
  EXPECT_TRUE(policy.gives_up_after(5));
  EXPECT_TRUE((RetryPolicy{1, 500, 30'000}.gives_up_after(1)));
}

TEST(RetryPolicy, AZeroInitialWaitOrCapRetriesAtOnce) {
  EXPECT_EQ((RetryPolicy{3, 0, 3'000}.wait_ms(2, [] { return kHighest; })), 0);
  EXPECT_EQ((RetryPolicy{3, 1'000, 0}.wait_ms(1, [] { return kHighest; })), 0);
}

}  // namespace
}  // namespace crm::host
