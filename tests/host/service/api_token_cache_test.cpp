#include "service/api_token_cache.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <string>

#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// A real store with real tokens; the cache asks it through authenticate_api_token
// and the fixture counts how often it does.
class ApiTokenCacheTest : public ::testing::Test {
 protected:
  ApiTokenCacheTest()
      : dir_(fs::temp_directory_path() / fmt::format("crm-token-cache-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
    session_ = std::make_unique<Session>(options_, LogLevel::error, cancelled_);
    store_ = std::make_unique<Store>(options_.db_path);
  }
  ApiTokenCacheTest(const ApiTokenCacheTest&) = delete;
  ApiTokenCacheTest& operator=(const ApiTokenCacheTest&) = delete;
  ~ApiTokenCacheTest() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  ApiTokenCache::Lookup counted_lookup() {
    return [this](std::string_view bearer, std::int64_t now_ms) {
      ++lookups_;
      return authenticate_api_token(*store_, bearer, now_ms);
    };
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<Session> session_;
  std::unique_ptr<Store> store_;
  int lookups_ = 0;
};

TEST_F(ApiTokenCacheTest, AnswersFromMemoryUntilTheTtlSoARevocationElsewhereTakesEffectWithinIt) {
  const CreatedApiToken token = create_api_token(*session_, "ci", {Scope::write});
  ManualClock clock(1'000'000);
  ApiTokenCache cache(clock, counted_lookup());
  ASSERT_TRUE(cache.authenticate(token.token));
  EXPECT_EQ(cache.authenticate(token.token)->token_name, "ci");
  EXPECT_TRUE(cache.authenticate(token.token)->allows(Scope::write));
  EXPECT_EQ(lookups_, 1);

  revoke_api_token(*session_, "ci");  // as `crmhost tokens revoke` does, from its own connection
  clock.advance_ms(ApiTokenCache::kDefaultTtlMs - 1);
  EXPECT_TRUE(cache.authenticate(token.token));
  clock.advance_ms(1);
  EXPECT_FALSE(cache.authenticate(token.token));
  EXPECT_EQ(lookups_, 2);
}

TEST_F(ApiTokenCacheTest, UnknownTokensAreRememberedTooAndForgetAllAsksTheStoreAgain) {
  const CreatedApiToken token = create_api_token(*session_, "ci", {Scope::read});
  ManualClock clock(0);
  ApiTokenCache cache(clock, counted_lookup());
  const std::string unknown = "crm_" + std::string(43, 'A');
  EXPECT_FALSE(cache.authenticate(unknown));
  EXPECT_FALSE(cache.authenticate(unknown));
  EXPECT_EQ(lookups_, 1);

  EXPECT_TRUE(cache.authenticate(token.token));
  revoke_api_token(*session_, "ci");
  cache.forget_all();  // what the service does when it revokes a token itself
  EXPECT_FALSE(cache.authenticate(token.token));
  EXPECT_EQ(lookups_, 3);
}

TEST_F(ApiTokenCacheTest, HoldsAtMostMaxEntries) {
  ManualClock clock(0);
  ApiTokenCache cache(clock, counted_lookup(), 60'000, 2);
  cache.authenticate("crm_1");
  cache.authenticate("crm_2");
  cache.authenticate("crm_3");  // full: emptied, then holds crm_3
  EXPECT_EQ(lookups_, 3);
  cache.authenticate("crm_3");
  EXPECT_EQ(lookups_, 3);
  cache.authenticate("crm_1");
  EXPECT_EQ(lookups_, 4);
}

}  // namespace
}  // namespace crm::host
