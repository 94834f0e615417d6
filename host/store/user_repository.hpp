#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One row of users as stored.
struct UserRow {
  std::int64_t id = 0;
  std::string name;
  std::string display_name;
  std::string role;                          // account_manager, csm, cs_director, coo, admin
  std::string language;                      // en, zh-CN
  std::string time_zone;                     // IANA name
  std::string owner_ids;                     // a JSON array of strings
  std::optional<std::string> password_hash;  // app/password_hash.hpp's form; none: cannot sign in
  bool disabled = false;
  std::int64_t failed_sign_ins = 0;
  std::optional<std::int64_t> locked_until_ms;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

// One row of web_sessions: never the session id, only its hash.
struct WebSessionRow {
  std::int64_t id = 0;
  std::string session_hash;  // lowercase hex SHA-256 of the cookie's value
  std::int64_t user_id = 0;
  std::string csrf_token;
  std::int64_t created_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t expires_ms = 0;  // the absolute end of the session
};

// The users and web_sessions tables. Not thread-safe (one thread at a time,
// as `db`, which must outlive it); the caller owns transactions.
class UserRepository {
 public:
  explicit UserRepository(Database& db) : db_(db) {}

  // Adds `user` (its id is ignored); nullopt (nothing written) when the name is taken.
  std::optional<std::int64_t> insert(const UserRow& user);
  std::optional<UserRow> find_by_name(std::string_view name);
  std::optional<UserRow> find_by_id(std::int64_t id);
  // Every user by name.
  std::vector<UserRow> list();
  // Writes every field but id, name, created_ms and the sign-in counters of the user `user.id`.
  void update(const UserRow& user);
  // Deletes the user named `name` and their sessions; false when there is none.
  bool remove(std::string_view name);
  // Users with role admin who are not disabled.
  std::int64_t count_enabled_admins();

  // One more failed sign-in of user `id`; the new count.
  std::int64_t add_failed_sign_in(std::int64_t id);
  // The same, where a count whose last failure is older than `forget_before_ms` starts again at 1.
  std::int64_t add_failed_sign_in(std::int64_t id, std::int64_t now_ms, std::int64_t forget_before_ms);
  // Locks user `id` until `until_ms` and starts the count of failures again.
  void lock(std::int64_t id, std::int64_t until_ms);
  // Failed sign-ins for a name no enabled user with a password has
  // (sign_in_failures): when the name is locked, until when (nullopt: not
  // locked at `now_ms`).
  std::optional<std::int64_t> name_locked_until(const std::string& name, std::int64_t now_ms);
  // One more failure for that name; the new count. Forgets names whose last
  // failure is older than `forget_before_ms` and who are not locked, so the
  // table stays as small as the guessing of the last minutes.
  std::int64_t add_failed_sign_in_for_name(const std::string& name, std::int64_t now_ms, std::int64_t forget_before_ms);
  void lock_name(const std::string& name, std::int64_t until_ms);
  // A successful sign-in: no failures, not locked.
  void clear_failures(std::int64_t id);

  void insert_session(const WebSessionRow& session);
  std::optional<WebSessionRow> find_session(std::string_view session_hash);
  void touch_session(std::int64_t id, std::int64_t now_ms);
  // False when no session has the hash.
  bool delete_session(std::string_view session_hash);
  void delete_sessions_of(std::int64_t user_id);
  // Sessions past their absolute end, or idle since before `idle_before_ms`.
  void delete_expired_sessions(std::int64_t now_ms, std::int64_t idle_before_ms);

 private:
  Database& db_;
};

}  // namespace crm::host
