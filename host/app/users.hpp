#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/session.hpp"
#include "store/store.hpp"

namespace crm::host {

// The people of the web app (issue 15): who they are, what their role lets
// them do, their passwords (scrypt, app/password_hash.hpp) and their
// signed-in sessions. Called by the CLI (`crmhost users ...`) and the REST API
// alike; every function opens its own store handle and may be called from any
// thread.

enum class Role { account_manager, csm, cs_director, coo, admin };

// "account_manager", "csm", "cs_director", "coo", "admin".
std::string_view role_name(Role role);
// nullopt for anything else (case matters).
std::optional<Role> parse_role(std::string_view text);

// What a signed-in person may do, as stable strings the front end can test.
namespace permission {
inline constexpr std::string_view kRead =
    "read";  // the pages: customers, alerts, outbox, churn, campaigns, tasks, runs
inline constexpr std::string_view kFollowupsWrite = "followups.write";
inline constexpr std::string_view kAlertsWrite = "alerts.write";       // acknowledge, resolve
inline constexpr std::string_view kTasksCloseOwn = "tasks.close_own";  // tasks whose owner is one of owner_ids
inline constexpr std::string_view kTasksCloseAny = "tasks.close_any";
inline constexpr std::string_view kChurnWrite = "churn.write";  // reasons and whys
inline constexpr std::string_view kOutboxResend = "outbox.resend";
inline constexpr std::string_view kPluginsRead = "plugins.read";    // plugins, connectors, quarantine
inline constexpr std::string_view kPluginsWrite = "plugins.write";  // quarantine retry
inline constexpr std::string_view kEventsWrite = "events.write";    // POST /api/v1/events
inline constexpr std::string_view kJobsRead = "jobs.read";
inline constexpr std::string_view kJobsRun = "jobs.run";
inline constexpr std::string_view kTokensAdmin = "tokens.admin";
inline constexpr std::string_view kUsersAdmin = "users.admin";
}  // namespace permission

// Everything `role` may do, in a fixed order. Each role has what the one before
// it has: account_manager < csm < cs_director = coo < admin.
const std::vector<std::string_view>& role_permissions(Role role);
bool role_allows(Role role, std::string_view permission);

// One user as shown: never the password nor its hash.
struct UserInfo {
  std::int64_t id = 0;
  std::string name;
  std::string display_name;
  Role role = Role::account_manager;
  std::string language;   // "en" or "zh-CN"
  std::string time_zone;  // IANA name
  std::vector<std::string> owner_ids;
  bool disabled = false;
  bool has_password = false;
  std::int64_t failed_sign_ins = 0;
  std::optional<std::int64_t> locked_until_ms;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct NewUser {
  std::string name;          // 1 to 64 of A-Z a-z 0-9 . _ - @
  std::string display_name;  // "": the name
  Role role = Role::account_manager;
  std::string language = "en";
  std::string time_zone = "UTC";
  std::vector<std::string> owner_ids;
  std::optional<std::string> password;  // none: the user cannot sign in until one is set
};

// What to change of a user; nullopt: leave as it is.
struct UserChanges {
  std::optional<std::string> display_name;
  std::optional<Role> role;
  std::optional<std::string> language;
  std::optional<std::string> time_zone;
  std::optional<std::vector<std::string>> owner_ids;
  std::optional<bool> disabled;
  std::optional<std::string> password;
  // Ends a lockout (and the count of failures) now. Anyone who knows a name
  // can keep it locked by failing to sign in (by design: the lockout slows
  // password guessing); an admin unlocks it here, and a new password does too.
  bool unlock = false;
};

// The change would leave no enabled admin (removing, demoting or disabling the last one).
class LastAdminError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// InvalidRequest for a bad field (naming it, never the password) or a taken name.
UserInfo add_user(Session& session, const NewUser& user);
// Every user, by name.
std::vector<UserInfo> list_users(Session& session);
// NotFound when there is no such user.
UserInfo get_user(Session& session, const std::string& name);
// NotFound, InvalidRequest, LastAdminError. Disabling a user or setting their
// password signs them out everywhere.
UserInfo change_user(Session& session, const std::string& name, const UserChanges& changes);
// NotFound, LastAdminError. Their sessions go with them.
void remove_user(Session& session, const std::string& name);

// How long sessions last and how sign-in failures lock an account
// ("service.web" of the configuration).
struct WebSessionSettings {
  std::int64_t idle_timeout_ms = 12LL * 3600 * 1000;
  std::int64_t lifetime_ms = 7LL * 24 * 3600 * 1000;
  std::int64_t max_failed_sign_ins = 5;
  std::int64_t lockout_ms = 15LL * 60 * 1000;
};

// A signed-in person, as the API sees them on each request.
struct SignedInUser {
  UserInfo user;
  std::string csrf_token;
  std::int64_t session_id = 0;  // the web_sessions row
  std::int64_t expires_ms = 0;  // the absolute end of the session
};

// A session just opened: the only moment the cookie's value exists outside the browser.
struct SignInResult {
  SignedInUser signed_in;
  std::string cookie_value;  // 32 random bytes, base64url (43 characters)
};

// The name or password is wrong, the user is disabled or has no password:
// one message for all, so an answer does not tell which names exist.
class SignInRefused : public std::runtime_error {
 public:
  SignInRefused() : std::runtime_error("the name or the password is wrong") {}
};

// Too many failed sign-ins in a row: refused until `until_ms`, even with the right password.
class AccountLocked : public std::runtime_error {
 public:
  explicit AccountLocked(std::int64_t until_ms);
  [[nodiscard]] std::int64_t until_ms() const { return until_ms_; }

 private:
  std::int64_t until_ms_;
};

// Checks the password and opens a session. SignInRefused (and one more failure
// counted; the max_failed_sign_ins-th in a row locks the account for
// lockout_ms), or AccountLocked. Success clears the count.
// `now_ms` comes from the host Clock (session.clock() in the service).
SignInResult sign_in(Session& session, const std::string& name, const std::string& password, std::int64_t now_ms,
                     const WebSessionSettings& settings);
// The person a session cookie stands for, or nullopt when it is malformed,
// unknown, idle too long, past its lifetime, or its user is disabled.
// Records the use (at most once per 1/10 of the idle timeout, up to a minute).
std::optional<SignedInUser> authenticate_web_session(Store& store, std::string_view cookie_value, std::int64_t now_ms,
                                                     const WebSessionSettings& settings);
// Ends the session; nothing happens when it is unknown.
void sign_out(Session& session, std::string_view cookie_value);

// The lowercase hex SHA-256 of a session cookie: how the store knows it.
std::string web_session_hash(std::string_view cookie_value);

}  // namespace crm::host
