#include "app/api_tokens.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

#include "app/errors.hpp"
#include "app/result_json.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

class ApiTokens : public ::testing::Test {
 protected:
  ApiTokens()
      : dir_(fs::temp_directory_path() / fmt::format("crm-tokens-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
  }
  ApiTokens(const ApiTokens&) = delete;
  ApiTokens& operator=(const ApiTokens&) = delete;
  ~ApiTokens() override { fs::remove_all(dir_); }

  CreatedApiToken create(const std::string& name, const std::vector<Scope>& scopes) {
    Session session(options_, LogLevel::error, cancelled_);
    return create_api_token(session, name, scopes);
  }
  std::vector<ApiTokenInfo> list() {
    Session session(options_, LogLevel::error, cancelled_);
    return list_api_tokens(session);
  }
  void revoke(const std::string& name) {
    Session session(options_, LogLevel::error, cancelled_);
    revoke_api_token(session, name);
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(ApiTokens, ATokenIsShownOnceStoredOnlyAsItsHashAndAuthenticatesWithItsScopes) {
  const CreatedApiToken created = create("ci", {Scope::write});
  EXPECT_TRUE(created.token.starts_with("crm_"));
  EXPECT_EQ(created.token.size(), 4U + 43U);
  EXPECT_EQ(created.scopes, (std::vector<Scope>{Scope::read, Scope::write}));

  Store store(options_.db_path);
  // Nothing of the store holds the token: only its SHA-256.
  Statement rows = store.database().prepare("SELECT token_hash, scopes FROM api_tokens");
  ASSERT_TRUE(rows.step());
  EXPECT_EQ(rows.column_text(0), api_token_hash(created.token));
  EXPECT_EQ(rows.column_text(0).size(), 64U);
  EXPECT_NE(rows.column_text(0), created.token);
  EXPECT_EQ(rows.column_text(1), "read,write");

  const std::optional<ApiCaller> caller = authenticate_api_token(store, created.token, 1'000'000);
  ASSERT_TRUE(caller.has_value());
  EXPECT_EQ(caller->token_name, "ci");
  EXPECT_TRUE(caller->allows(Scope::read));
  EXPECT_TRUE(caller->allows(Scope::write));
  EXPECT_FALSE(caller->allows(Scope::admin));

  // The listing and its JSON never hold the token nor its hash.
  const std::string listed = api_tokens_json(list()).dump();
  EXPECT_EQ(listed.find(created.token), std::string::npos);
  EXPECT_EQ(listed.find(api_token_hash(created.token)), std::string::npos);
  EXPECT_NE(created_api_token_json(created).dump().find(created.token), std::string::npos);
}

TEST_F(ApiTokens, TokensAreRandomAndAdminImpliesEverything) {
  const CreatedApiToken a = create("a", {Scope::admin});
  const CreatedApiToken b = create("b", {Scope::read});
  EXPECT_NE(a.token, b.token);
  EXPECT_EQ(a.scopes, (std::vector<Scope>{Scope::read, Scope::write, Scope::admin}));
  EXPECT_EQ(b.scopes, (std::vector<Scope>{Scope::read}));
  Store store(options_.db_path);
  EXPECT_TRUE(authenticate_api_token(store, a.token, 0)->allows(Scope::write));
  EXPECT_FALSE(authenticate_api_token(store, b.token, 0)->allows(Scope::write));
}

TEST_F(ApiTokens, MalformedUnknownAndRevokedTokensAreRefused) {
  const CreatedApiToken created = create("ci", {Scope::read});
  Store store(options_.db_path);
  EXPECT_FALSE(authenticate_api_token(store, "", 0));
  EXPECT_FALSE(authenticate_api_token(store, "crm_", 0));
  EXPECT_FALSE(authenticate_api_token(store, created.token.substr(0, created.token.size() - 1), 0));
  EXPECT_FALSE(authenticate_api_token(store, created.token + "A", 0));
  std::string other = created.token;
  other.back() = other.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(authenticate_api_token(store, other, 0));
  std::string bad_alphabet = created.token;
  bad_alphabet[10] = '+';
  EXPECT_FALSE(authenticate_api_token(store, bad_alphabet, 0));
  EXPECT_FALSE(authenticate_api_token(store, "xyz_" + created.token.substr(4), 0));
  EXPECT_TRUE(authenticate_api_token(store, created.token, 0));

  revoke("ci");
  EXPECT_FALSE(authenticate_api_token(store, created.token, 0));
  EXPECT_THROW(revoke("ci"), NotFound);
  EXPECT_THROW(revoke("nobody"), NotFound);
  const std::vector<ApiTokenInfo> tokens = list();
  ASSERT_EQ(tokens.size(), 1U);
  EXPECT_TRUE(tokens[0].revoked_ms.has_value());
}

TEST_F(ApiTokens, ANameIsUniqueAmongLiveTokensAndFreeAgainOnceRevoked) {
  const CreatedApiToken first = create("ci", {Scope::read});
  EXPECT_THROW(create("ci", {Scope::write}), InvalidRequest);
  revoke("ci");
  const CreatedApiToken second = create("ci", {Scope::write});
  Store store(options_.db_path);
  EXPECT_FALSE(authenticate_api_token(store, first.token, 0));
  EXPECT_TRUE(authenticate_api_token(store, second.token, 0)->allows(Scope::write));
  const std::vector<ApiTokenInfo> tokens = list();
  ASSERT_EQ(tokens.size(), 2U);
  EXPECT_TRUE(tokens[0].revoked_ms.has_value());
  EXPECT_FALSE(tokens[1].revoked_ms.has_value());
}

TEST_F(ApiTokens, BadNamesAndScopesAreRefusedNamingTheRule) {
  for (const char* name : {"", "has space", "semi;colon", "ünïcode"}) {
    EXPECT_THROW(create(name, {Scope::read}), InvalidRequest) << name;
  }
  EXPECT_THROW(create(std::string(65, 'a'), {Scope::read}), InvalidRequest);
  EXPECT_NO_THROW(create(std::string(64, 'a'), {Scope::read}));
  EXPECT_NO_THROW(create("ci.bot-1_x", {Scope::read}));
  EXPECT_THROW(create("none", {}), InvalidRequest);

  EXPECT_EQ(parse_scopes("read, write"), (std::vector<Scope>{Scope::read, Scope::write}));
  EXPECT_EQ(parse_scopes("admin"), (std::vector<Scope>{Scope::admin}));
  try {
    parse_scopes("read,Write");
    ADD_FAILURE() << "Write was accepted";
  } catch (const InvalidRequest& e) {
    EXPECT_NE(std::string(e.what()).find("'Write' is not a scope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_scopes(""), InvalidRequest);
  EXPECT_THROW(parse_scopes("read,"), InvalidRequest);
}

TEST_F(ApiTokens, LastUseIsRecordedAtMostOncePerMinute) {
  const CreatedApiToken created = create("ci", {Scope::read});
  EXPECT_FALSE(list()[0].last_used_ms.has_value());
  Store store(options_.db_path);
  constexpr std::int64_t kStart = 1'700'000'000'000;
  ASSERT_TRUE(authenticate_api_token(store, created.token, kStart));
  EXPECT_EQ(list()[0].last_used_ms, kStart);
  ASSERT_TRUE(authenticate_api_token(store, created.token, kStart + 59'999));
  EXPECT_EQ(list()[0].last_used_ms, kStart);
  ASSERT_TRUE(authenticate_api_token(store, created.token, kStart + 60'000));
  EXPECT_EQ(list()[0].last_used_ms, kStart + 60'000);
}

}  // namespace
}  // namespace crm::host
