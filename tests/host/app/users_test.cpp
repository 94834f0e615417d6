#include "app/users.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "app/errors.hpp"
#include "app/password_hash.hpp"
#include "app/result_json.hpp"
#include "core/base64url.hpp"
#include "store/store.hpp"
#include "store/user_repository.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

std::string hex_bytes(std::string_view hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

// RFC 7914 section 12, the vector OpenSSL's own scrypt test uses: P="password", S="NaCl", N=1024, r=8, p=16.
constexpr std::string_view kRfc7914Key =
    "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d"
    "8360cbdfa2cc0640";

TEST(PasswordHash, ScryptMatchesTheRfc7914KnownAnswer) {
  EXPECT_EQ(scrypt_derive("password", "NaCl", {10, 8, 16}, 64), hex_bytes(kRfc7914Key));
}

TEST(PasswordHash, AStoredFormWithOtherParametersVerifiesTheKnownAnswer) {
  const std::string stored =
      fmt::format("$scrypt$ln=10,r=8,p=16${}${}", base64url_encode("NaCl"), base64url_encode(hex_bytes(kRfc7914Key)));
  EXPECT_TRUE(verify_password("password", stored));
  EXPECT_FALSE(verify_password("Password", stored));
}

TEST(PasswordHash, HashesAreSaltedSelfDescribingAndVerifyOnlyTheirPassword) {
  const std::string a = hash_password("correct horse");
  const std::string b = hash_password("correct horse");
  EXPECT_TRUE(a.starts_with("$scrypt$ln=15,r=8,p=1$")) << a;
  EXPECT_NE(a, b);  // a fresh salt each time
  EXPECT_EQ(a.find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password("correct horse", a));
  EXPECT_TRUE(verify_password("correct horse", b));
  EXPECT_FALSE(verify_password("correct horsE", a));
  EXPECT_FALSE(verify_password("", a));
}

TEST(PasswordHash, MalformedOrExcessiveStoredFormsVerifyNothing) {
  for (const char* stored : {"", "plain", "$scrypt$", "$scrypt$ln=15,r=8,p=1$", "$scrypt$ln=15,r=8$AAAA$AAAA",
                             "$scrypt$ln=40,r=8,p=1$AAAA$AAAA", "$scrypt$ln=15,r=8,p=1,x=2$AAAA$AAAA",
                             "$scrypt$ln=15,r=8,p=1$AAAA$", "$scrypt$ln=15,r=8,p=1$A+A$AAAA"}) {
    EXPECT_FALSE(verify_password("x", stored)) << stored;
  }
}

class Users : public ::testing::Test {
 protected:
  Users()
      : dir_(fs::temp_directory_path() / fmt::format("crm-users-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
    session_.emplace(options_, LogLevel::error, cancelled_);
  }
  Users(const Users&) = delete;
  Users& operator=(const Users&) = delete;
  ~Users() override {
    session_.reset();
    fs::remove_all(dir_);
  }

  UserInfo add(const std::string& name, Role role, std::optional<std::string> password = "s3cret-pass") {
    NewUser user;
    user.name = name;
    user.role = role;
    user.password = std::move(password);
    return add_user(*session_, user);
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
  std::optional<Session> session_;
  WebSessionSettings settings_;
};

TEST_F(Users, AUserIsStoredWithDefaultsAndNeverItsPassword) {
  NewUser user;
  user.name = "li.wei";
  user.display_name = "Li Wei";
  user.role = Role::account_manager;
  user.language = "zh-CN";
  user.time_zone = "Asia/Shanghai";
  user.owner_ids = {"AM-7", "AM-9"};
  user.password = "s3cret-pass";
  const UserInfo added = add_user(*session_, user);
  EXPECT_EQ(added.display_name, "Li Wei");
  EXPECT_TRUE(added.has_password);

  const UserInfo plain = add("bob", Role::csm, std::nullopt);
  EXPECT_EQ(plain.display_name, "bob");
  EXPECT_EQ(plain.language, "en");
  EXPECT_EQ(plain.time_zone, "UTC");
  EXPECT_FALSE(plain.has_password);

  const std::vector<UserInfo> users = list_users(*session_);
  ASSERT_EQ(users.size(), 2U);
  EXPECT_EQ(users[0].name, "bob");
  EXPECT_EQ(users[1].owner_ids, (std::vector<std::string>{"AM-7", "AM-9"}));
  EXPECT_EQ(users[1].role, Role::account_manager);
  const std::string listed = users_json(users).dump();
  EXPECT_EQ(listed.find("s3cret"), std::string::npos);
  EXPECT_EQ(listed.find("$scrypt$"), std::string::npos);

  Store store(options_.db_path);
  const std::optional<UserRow> row = UserRepository(store.database()).find_by_name("li.wei");
  ASSERT_TRUE(row && row->password_hash);
  EXPECT_TRUE(row->password_hash->starts_with("$scrypt$"));
  EXPECT_TRUE(verify_password("s3cret-pass", *row->password_hash));
}

TEST_F(Users, BadFieldsAreRefusedNamingTheFieldAndNamesAreUnique) {
  add("ann", Role::admin);
  EXPECT_THROW(add("ann", Role::csm), InvalidRequest);
  EXPECT_THROW(add("has space", Role::csm), InvalidRequest);
  EXPECT_THROW(add("", Role::csm), InvalidRequest);
  EXPECT_THROW(add("short", Role::csm, "1234567"), InvalidRequest);
  NewUser user;
  user.name = "zed";
  user.time_zone = "Mars/Olympus";
  try {
    add_user(*session_, user);
    ADD_FAILURE() << "an unknown time zone was accepted";
  } catch (const InvalidRequest& e) {
    EXPECT_NE(std::string(e.what()).find("time_zone"), std::string::npos) << e.what();
  }
  user.time_zone = "UTC";
  user.language = "fr";
  EXPECT_THROW(add_user(*session_, user), InvalidRequest);
  EXPECT_EQ(parse_role("cs_director").value_or(Role::admin), Role::cs_director);
  EXPECT_FALSE(parse_role("director"));
}

TEST_F(Users, ChangesApplyAndTheLastEnabledAdminCannotBeRemovedDemotedOrDisabled) {
  add("root", Role::admin);
  UserChanges demote;
  demote.role = Role::csm;
  EXPECT_THROW(change_user(*session_, "root", demote), LastAdminError);
  UserChanges disable;
  disable.disabled = true;
  EXPECT_THROW(change_user(*session_, "root", disable), LastAdminError);
  EXPECT_THROW(remove_user(*session_, "root"), LastAdminError);
  EXPECT_EQ(get_user(*session_, "root").role, Role::admin);

  add("second", Role::admin);
  const UserInfo demoted = change_user(*session_, "root", demote);
  EXPECT_EQ(demoted.role, Role::csm);
  EXPECT_THROW(remove_user(*session_, "second"), LastAdminError);
  remove_user(*session_, "root");
  EXPECT_THROW(get_user(*session_, "root"), NotFound);
  EXPECT_THROW(remove_user(*session_, "root"), NotFound);

  UserChanges changes;
  changes.language = "zh-CN";
  changes.time_zone = "Europe/Berlin";
  changes.owner_ids = std::vector<std::string>{"AM-1"};
  const UserInfo changed = change_user(*session_, "second", changes);
  EXPECT_EQ(changed.language, "zh-CN");
  EXPECT_EQ(changed.time_zone, "Europe/Berlin");
  EXPECT_EQ(changed.owner_ids, (std::vector<std::string>{"AM-1"}));
  EXPECT_EQ(changed.role, Role::admin);
}

TEST_F(Users, RolesGrowFromAccountManagerToAdmin) {
  EXPECT_TRUE(role_allows(Role::account_manager, permission::kFollowupsWrite));
  EXPECT_TRUE(role_allows(Role::account_manager, permission::kTasksCloseOwn));
  EXPECT_FALSE(role_allows(Role::account_manager, permission::kChurnWrite));
  EXPECT_FALSE(role_allows(Role::account_manager, permission::kPluginsRead));
  EXPECT_TRUE(role_allows(Role::csm, permission::kChurnWrite));
  EXPECT_TRUE(role_allows(Role::csm, permission::kTasksCloseAny));
  EXPECT_FALSE(role_allows(Role::csm, permission::kOutboxResend));
  EXPECT_TRUE(role_allows(Role::coo, permission::kOutboxResend));
  EXPECT_TRUE(role_allows(Role::cs_director, permission::kPluginsRead));
  EXPECT_FALSE(role_allows(Role::cs_director, permission::kPluginsWrite));
  EXPECT_FALSE(role_allows(Role::cs_director, permission::kUsersAdmin));
  for (const std::string_view granted : role_permissions(Role::coo)) {
    EXPECT_TRUE(role_allows(Role::admin, granted)) << granted;
  }
  EXPECT_TRUE(role_allows(Role::admin, permission::kUsersAdmin));
  EXPECT_TRUE(role_allows(Role::admin, permission::kJobsRun));
}

TEST_F(Users, ASignInOpensASessionKnownOnlyByItsHash) {
  add("amy", Role::csm);
  const std::int64_t now_ms = 1'700'000'000'000;
  const SignInResult result = sign_in(*session_, "amy", "s3cret-pass", now_ms, settings_);
  EXPECT_EQ(result.cookie_value.size(), 43U);
  EXPECT_EQ(result.signed_in.user.name, "amy");
  EXPECT_EQ(result.signed_in.csrf_token.size(), 43U);
  EXPECT_NE(result.signed_in.csrf_token, result.cookie_value);
  EXPECT_EQ(result.signed_in.expires_ms, now_ms + settings_.lifetime_ms);

  Store store(options_.db_path);
  {
    // Scoped: a statement left mid-read would hold its snapshot of the store.
    Statement rows = store.database().prepare("SELECT session_hash FROM web_sessions");
    ASSERT_TRUE(rows.step());
    EXPECT_EQ(rows.column_text(0), web_session_hash(result.cookie_value));
    EXPECT_NE(rows.column_text(0), result.cookie_value);
  }

  const std::optional<SignedInUser> found = authenticate_web_session(store, result.cookie_value, now_ms, settings_);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user.name, "amy");
  EXPECT_EQ(found->csrf_token, result.signed_in.csrf_token);
  EXPECT_FALSE(authenticate_web_session(store, "", now_ms, settings_));
  std::string other = result.cookie_value;
  other.back() = other.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(authenticate_web_session(store, other, now_ms, settings_));

  sign_out(*session_, result.cookie_value);
  EXPECT_FALSE(authenticate_web_session(store, result.cookie_value, now_ms, settings_));
}

TEST_F(Users, SessionsEndWhenIdleTooLongOrPastTheirLifetime) {
  add("amy", Role::csm);
  settings_.idle_timeout_ms = 60'000;
  settings_.lifetime_ms = 300'000;
  const std::int64_t start_ms = 1'700'000'000'000;
  const SignInResult result = sign_in(*session_, "amy", "s3cret-pass", start_ms, settings_);
  Store store(options_.db_path);
  // Used every 50 s: the idle timeout never runs out, the lifetime does.
  std::int64_t now_ms = start_ms;
  while (now_ms + 50'000 < start_ms + 300'000) {
    now_ms += 50'000;
    EXPECT_TRUE(authenticate_web_session(store, result.cookie_value, now_ms, settings_)) << now_ms - start_ms;
  }
  EXPECT_FALSE(authenticate_web_session(store, result.cookie_value, start_ms + 300'000, settings_));

  const SignInResult idle = sign_in(*session_, "amy", "s3cret-pass", start_ms, settings_);
  EXPECT_TRUE(authenticate_web_session(store, idle.cookie_value, start_ms + 59'999, settings_));
  EXPECT_FALSE(authenticate_web_session(store, idle.cookie_value, start_ms + 59'999 + 60'000, settings_));
}

TEST_F(Users, WrongPasswordsAndUnknownNamesAreRefusedAlikeAndRepeatedFailuresLock) {
  add("amy", Role::csm);
  add("nopass", Role::csm, std::nullopt);
  const std::int64_t now_ms = 1'700'000'000'000;
  std::string unknown_message;
  std::string wrong_message;
  try {
    sign_in(*session_, "nobody", "s3cret-pass", now_ms, settings_);
  } catch (const SignInRefused& e) {
    unknown_message = e.what();
  }
  EXPECT_THROW(sign_in(*session_, "nopass", "", now_ms, settings_), SignInRefused);
  for (int attempt = 1; attempt < 5; ++attempt) {
    try {
      sign_in(*session_, "amy", "wrong-pass", now_ms, settings_);
    } catch (const SignInRefused& e) {
      wrong_message = e.what();
    }
  }
  EXPECT_FALSE(wrong_message.empty());
  EXPECT_EQ(wrong_message, unknown_message);
  EXPECT_EQ(get_user(*session_, "amy").failed_sign_ins, 4);
  try {
    sign_in(*session_, "amy", "wrong-pass", now_ms, settings_);
    ADD_FAILURE() << "the fifth failure did not lock";
  } catch (const AccountLocked& e) {
    EXPECT_EQ(e.until_ms(), now_ms + settings_.lockout_ms);
  }
  // Locked: even the right password is refused until the lockout ends.
  EXPECT_THROW(sign_in(*session_, "amy", "s3cret-pass", now_ms + settings_.lockout_ms - 1, settings_), AccountLocked);
  const SignInResult result = sign_in(*session_, "amy", "s3cret-pass", now_ms + settings_.lockout_ms, settings_);
  EXPECT_EQ(result.signed_in.user.name, "amy");
  const UserInfo after = get_user(*session_, "amy");
  EXPECT_EQ(after.failed_sign_ins, 0);
  EXPECT_FALSE(after.locked_until_ms);
}

TEST_F(Users, DisablingOrANewPasswordEndsSessions) {
  add("amy", Role::csm);
  add("root", Role::admin);
  const std::int64_t now_ms = 1'700'000'000'000;
  const SignInResult first = sign_in(*session_, "amy", "s3cret-pass", now_ms, settings_);
  UserChanges password;
  password.password = "another-pass";
  change_user(*session_, "amy", password);
  Store store(options_.db_path);
  EXPECT_FALSE(authenticate_web_session(store, first.cookie_value, now_ms, settings_));
  EXPECT_THROW(sign_in(*session_, "amy", "s3cret-pass", now_ms, settings_), SignInRefused);
  const SignInResult second = sign_in(*session_, "amy", "another-pass", now_ms, settings_);
  UserChanges disable;
  disable.disabled = true;
  change_user(*session_, "amy", disable);
  EXPECT_FALSE(authenticate_web_session(store, second.cookie_value, now_ms, settings_));
  EXPECT_THROW(sign_in(*session_, "amy", "another-pass", now_ms, settings_), SignInRefused);
}

}  // namespace
}  // namespace crm::host
