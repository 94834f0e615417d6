#include "app/users.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include "app/api_tokens.hpp"
#include "app/errors.hpp"
#include "app/password_hash.hpp"
#include "core/base64url.hpp"
#include "core/time_zone.hpp"
#include "store/user_repository.hpp"

namespace crm::host {
namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxDisplayNameLength = 200;
constexpr std::size_t kMaxOwnerIdLength = 200;
constexpr std::size_t kMaxOwnerIds = 100;
constexpr std::size_t kMinPasswordLength = 8;
constexpr std::size_t kMaxPasswordBytes = 1024;
// How long failed sign-ins are remembered without another one, for a user and for a name no one
// has alike (so waiting tells nothing either); also bounds the table of unknown names.
constexpr std::int64_t kFailedSignInMemoryMs = 24LL * 60 * 60 * 1000;
constexpr std::size_t kCookieRandomBytes = 32;
constexpr std::size_t kCookieTextLength = 43;
constexpr std::int64_t kMaxTouchIntervalMs = 60'000;

std::string random_text() {
  std::array<unsigned char, kCookieRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("the system's random source (OpenSSL RAND_bytes) failed; no session was opened");
  }
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

void check_name(const std::string& name) {
  const bool valid =
      !name.empty() && name.size() <= kMaxNameLength &&
      std::all_of(name.begin(), name.end(), [](char c) { return is_base64url_char(c) || c == '.' || c == '@'; });
  if (!valid) {
    throw InvalidRequest(fmt::format("user name must be 1 to {} of A-Z a-z 0-9 . _ - @", kMaxNameLength));
  }
}

void check_display_name(const std::string& display_name) {
  if (display_name.size() > kMaxDisplayNameLength || std::any_of(display_name.begin(), display_name.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
      })) {
    throw InvalidRequest(
        fmt::format("display_name must be at most {} bytes without control characters", kMaxDisplayNameLength));
  }
}

void check_language(const std::string& language) {
  if (language != "en" && language != "zh-CN") {
    throw InvalidRequest(fmt::format("language '{}' is not one of en, zh-CN", language));
  }
}

void check_time_zone(const std::string& time_zone) {
  try {
    (void)TimeZone::load(time_zone);
  } catch (const TimeZoneError&) {
    // Its own message names the zoneinfo file: not for a web page.
    throw InvalidRequest(fmt::format(
        "time_zone '{}' is not a time zone this host knows (an IANA name such as Europe/Berlin, Asia/Shanghai or UTC)",
        time_zone));
  }
}

void check_owner_ids(const std::vector<std::string>& owner_ids) {
  if (owner_ids.size() > kMaxOwnerIds) {
    throw InvalidRequest(fmt::format("owner_ids: at most {} owner ids", kMaxOwnerIds));
  }
  for (const std::string& owner : owner_ids) {
    if (owner.empty() || owner.size() > kMaxOwnerIdLength) {
      throw InvalidRequest(fmt::format("owner_ids: each owner id must be 1 to {} bytes", kMaxOwnerIdLength));
    }
  }
}

// The password itself never appears in a message.
void check_password(const std::string& password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordBytes) {
    throw InvalidRequest(fmt::format("password must be {} to {} bytes long", kMinPasswordLength, kMaxPasswordBytes));
  }
}

std::string owner_ids_text(const std::vector<std::string>& owner_ids) {
  return nlohmann::json(owner_ids).dump();
}

// Stored by this file only: anything else reads as no owners.
std::vector<std::string> stored_owner_ids(const std::string& text) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> owners;
  if (parsed.is_array()) {
    for (const nlohmann::json& owner : parsed) {
      if (owner.is_string()) {
        owners.push_back(owner.get<std::string>());
      }
    }
  }
  return owners;
}

UserInfo info_of(const UserRow& row) {
  UserInfo info;
  info.id = row.id;
  info.name = row.name;
  info.display_name = row.display_name;
  // The table's CHECK allows only the five roles.
  info.role = parse_role(row.role).value_or(Role::account_manager);
  info.language = row.language;
  info.time_zone = row.time_zone;
  info.owner_ids = stored_owner_ids(row.owner_ids);
  info.disabled = row.disabled;
  info.has_password = row.password_hash.has_value();
  info.failed_sign_ins = row.failed_sign_ins;
  info.locked_until_ms = row.locked_until_ms;
  info.created_ms = row.created_ms;
  info.updated_ms = row.updated_ms;
  return info;
}

UserRow find_user(UserRepository& users, const std::string& name) {
  std::optional<UserRow> row = users.find_by_name(name);
  if (!row) {
    throw NotFound(fmt::format("no user named '{}' (`crmhost users list` shows them)", name));
  }
  return std::move(*row);
}

bool is_enabled_admin(const UserRow& row) {
  return row.role == role_name(Role::admin) && !row.disabled;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::account_manager:
      return "account_manager";
    case Role::csm:
      return "csm";
    case Role::cs_director:
      return "cs_director";
    case Role::coo:
      return "coo";
    case Role::admin:
      return "admin";
  }
  return "account_manager";
}

std::optional<Role> parse_role(std::string_view text) {
  for (const Role role : {Role::account_manager, Role::csm, Role::cs_director, Role::coo, Role::admin}) {
    if (text == role_name(role)) {
      return role;
    }
  }
  return std::nullopt;
}

const std::vector<std::string_view>& role_permissions(Role role) {
  using namespace permission;
  static const std::vector<std::string_view> account_manager{kRead, kFollowupsWrite, kAlertsWrite, kTasksCloseOwn};
  static const std::vector<std::string_view> csm = [] {
    std::vector<std::string_view> permissions = account_manager;
    permissions.insert(permissions.end(), {kTasksCloseAny, kChurnWrite});
    return permissions;
  }();
  static const std::vector<std::string_view> director = [] {
    std::vector<std::string_view> permissions = csm;
    permissions.insert(permissions.end(), {kOutboxResend, kPluginsRead});
    return permissions;
  }();
  static const std::vector<std::string_view> admin = [] {
    std::vector<std::string_view> permissions = director;
    permissions.insert(permissions.end(),
                       {kPluginsWrite, kEventsWrite, kJobsRead, kJobsRun, kTokensAdmin, kUsersAdmin});
    return permissions;
  }();
  switch (role) {
    case Role::account_manager:
      return account_manager;
    case Role::csm:
      return csm;
    case Role::cs_director:
    case Role::coo:
      return director;
    case Role::admin:
      return admin;
  }
  return account_manager;
}

bool role_allows(Role role, std::string_view permission) {
  const std::vector<std::string_view>& permissions = role_permissions(role);
  return std::find(permissions.begin(), permissions.end(), permission) != permissions.end();
}

UserInfo add_user(Session& session, const NewUser& user) {
  check_name(user.name);
  check_display_name(user.display_name);
  check_language(user.language);
  check_time_zone(user.time_zone);
  check_owner_ids(user.owner_ids);
  if (user.password) {
    check_password(*user.password);
  }
  UserRow row;
  row.name = user.name;
  row.display_name = user.display_name.empty() ? user.name : user.display_name;
  row.role = role_name(user.role);
  row.language = user.language;
  row.time_zone = user.time_zone;
  row.owner_ids = owner_ids_text(user.owner_ids);
  if (user.password) {
    row.password_hash = hash_password(*user.password);
  }
  row.created_ms = session.clock().now_ms();
  row.updated_ms = row.created_ms;
  const StoreHandle store = session.open_store();
  UserRepository users(store->database());
  const std::optional<std::int64_t> id = users.insert(row);
  if (!id) {
    throw InvalidRequest(
        fmt::format("a user named '{}' exists (`crmhost users set {}` changes them)", user.name, user.name));
  }
  row.id = *id;
  return info_of(row);
}

std::vector<UserInfo> list_users(Session& session) {
  const StoreHandle store = session.open_store();
  std::vector<UserInfo> users;
  for (const UserRow& row : UserRepository(store->database()).list()) {
    users.push_back(info_of(row));
  }
  return users;
}

UserInfo get_user(Session& session, const std::string& name) {
  const StoreHandle store = session.open_store();
  UserRepository users(store->database());
  return info_of(find_user(users, name));
}

UserInfo change_user(Session& session, const std::string& name, const UserChanges& changes) {
  if (changes.display_name) {
    check_display_name(*changes.display_name);
  }
  if (changes.language) {
    check_language(*changes.language);
  }
  if (changes.time_zone) {
    check_time_zone(*changes.time_zone);
  }
  if (changes.owner_ids) {
    check_owner_ids(*changes.owner_ids);
  }
  std::optional<std::string> new_hash;
  if (changes.password) {
    check_password(*changes.password);
    new_hash = hash_password(*changes.password);  // slow: before the transaction
  }
  const StoreHandle store = session.open_store();
  Database& db = store->database();
  UserRepository users(db);
  Transaction transaction(db);
  UserRow row = find_user(users, name);
  const bool was_enabled_admin = is_enabled_admin(row);
  if (changes.display_name) {
    row.display_name = changes.display_name->empty() ? row.name : *changes.display_name;
  }
  if (changes.role) {
    row.role = role_name(*changes.role);
  }
  if (changes.language) {
    row.language = *changes.language;
  }
  if (changes.time_zone) {
    row.time_zone = *changes.time_zone;
  }
  if (changes.owner_ids) {
    row.owner_ids = owner_ids_text(*changes.owner_ids);
  }
  if (changes.disabled) {
    row.disabled = *changes.disabled;
  }
  if (new_hash) {
    row.password_hash = std::move(new_hash);
  }
  const bool unlock = changes.unlock || new_hash.has_value();
  if (unlock) {
    row.failed_sign_ins = 0;
    row.locked_until_ms.reset();
  }
  if (was_enabled_admin && !is_enabled_admin(row) && users.count_enabled_admins() <= 1) {
    throw LastAdminError(
        fmt::format("'{}' is the last enabled admin: make another user admin before demoting or disabling them", name));
  }
  row.updated_ms = session.clock().now_ms();
  users.update(row);
  if (unlock) {
    users.clear_failures(row.id);
  }
  if (row.disabled || changes.password) {
    users.delete_sessions_of(row.id);
  }
  transaction.commit();
  return info_of(row);
}

void remove_user(Session& session, const std::string& name) {
  const StoreHandle store = session.open_store();
  Database& db = store->database();
  UserRepository users(db);
  Transaction transaction(db);
  const UserRow row = find_user(users, name);
  if (is_enabled_admin(row) && users.count_enabled_admins() <= 1) {
    throw LastAdminError(
        fmt::format("'{}' is the last enabled admin: make another user admin before removing them", name));
  }
  users.remove(name);
  transaction.commit();
}

AccountLocked::AccountLocked(std::int64_t until_ms)
    : std::runtime_error("too many failed sign-ins in a row: the account is locked for a while"), until_ms_(until_ms) {}

std::string web_session_hash(std::string_view cookie_value) {
  // Like an API token, a session id is 256 random bits: a plain SHA-256 cannot be inverted.
  return api_token_hash(cookie_value);
}

SignInResult sign_in(Session& session, const std::string& name, const std::string& password, std::int64_t now_ms,
                     const WebSessionSettings& settings) {
  const StoreHandle store = session.open_store();
  UserRepository users(store->database());
  const std::optional<UserRow> row =
      name.size() <= kMaxNameLength ? users.find_by_name(name) : std::optional<UserRow>();
  if (!row || !row->password_hash || row->disabled) {
    // As long as a real verification, so the time of the answer does not tell whether the name exists;
    // counted and locked by name as a user's failures are, so neither does a 429 (sign_in_failures).
    burn_password_verification(password.substr(0, std::min(password.size(), kMaxPasswordBytes)));
    const std::string key = name.substr(0, std::min(name.size(), kMaxNameLength));
    if (const std::optional<std::int64_t> until = users.name_locked_until(key, now_ms)) {
      throw AccountLocked(*until);
    }
    if (users.add_failed_sign_in_for_name(key, now_ms, now_ms - kFailedSignInMemoryMs) >=
        settings.max_failed_sign_ins) {
      users.lock_name(key, now_ms + settings.lockout_ms);
      throw AccountLocked(now_ms + settings.lockout_ms);
    }
    throw SignInRefused();
  }
  if (row->locked_until_ms && *row->locked_until_ms > now_ms) {
    throw AccountLocked(*row->locked_until_ms);
  }
  // An over-long password is a failure like any other (as it is for unknown names), checked for as long.
  const bool too_long = password.size() > kMaxPasswordBytes;
  if (too_long) {
    burn_password_verification(password.substr(0, kMaxPasswordBytes));
  }
  if (too_long || !verify_password(password, *row->password_hash)) {
    if (users.add_failed_sign_in(row->id, now_ms, now_ms - kFailedSignInMemoryMs) >= settings.max_failed_sign_ins) {
      users.lock(row->id, now_ms + settings.lockout_ms);
      throw AccountLocked(now_ms + settings.lockout_ms);
    }
    throw SignInRefused();
  }
  users.clear_failures(row->id);
  users.delete_expired_sessions(now_ms, now_ms - settings.idle_timeout_ms);
  SignInResult result;
  result.cookie_value = random_text();
  WebSessionRow created;
  created.session_hash = web_session_hash(result.cookie_value);
  created.user_id = row->id;
  created.csrf_token = random_text();
  created.created_ms = now_ms;
  created.last_seen_ms = now_ms;
  created.expires_ms = now_ms + settings.lifetime_ms;
  users.insert_session(created);
  const std::optional<WebSessionRow> stored = users.find_session(created.session_hash);
  UserRow signed_in = *row;
  signed_in.failed_sign_ins = 0;
  signed_in.locked_until_ms.reset();
  result.signed_in = {info_of(signed_in), created.csrf_token, stored ? stored->id : 0, created.expires_ms};
  return result;
}

std::optional<SignedInUser> authenticate_web_session(Store& store, std::string_view cookie_value, std::int64_t now_ms,
                                                     const WebSessionSettings& settings) {
  if (cookie_value.size() != kCookieTextLength ||
      !std::all_of(cookie_value.begin(), cookie_value.end(), is_base64url_char)) {
    return std::nullopt;
  }
  UserRepository users(store.database());
  const std::optional<WebSessionRow> found = users.find_session(web_session_hash(cookie_value));
  if (!found || found->expires_ms <= now_ms || found->last_seen_ms + settings.idle_timeout_ms <= now_ms) {
    return std::nullopt;
  }
  const std::optional<UserRow> user = users.find_by_id(found->user_id);
  if (!user || user->disabled) {
    return std::nullopt;
  }
  const std::int64_t touch_interval_ms = std::min(kMaxTouchIntervalMs, settings.idle_timeout_ms / 10);
  if (now_ms - found->last_seen_ms >= touch_interval_ms) {
    users.touch_session(found->id, now_ms);
  }
  return SignedInUser{info_of(*user), found->csrf_token, found->id, found->expires_ms};
}

void sign_out(Session& session, std::string_view cookie_value) {
  const StoreHandle store = session.open_store();
  UserRepository(store->database()).delete_session(web_session_hash(cookie_value));
}

}  // namespace crm::host
