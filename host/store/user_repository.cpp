#include "store/user_repository.hpp"

namespace crm::host {
namespace {

constexpr std::string_view kUserColumns =
    "id, name, display_name, role, language, time_zone, owner_ids, password_hash, disabled, failed_sign_ins, "
    "locked_until_ms, created_ms, updated_ms";
constexpr std::string_view kSessionColumns =
    "id, session_hash, user_id, csrf_token, created_ms, last_seen_ms, expires_ms";

UserRow read_user(const Statement& query) {
  UserRow row;
  row.id = query.column_int64(0);
  row.name = query.column_text(1);
  row.display_name = query.column_text(2);
  row.role = query.column_text(3);
  row.language = query.column_text(4);
  row.time_zone = query.column_text(5);
  row.owner_ids = query.column_text(6);
  if (!query.column_is_null(7)) {
    row.password_hash = query.column_text(7);
  }
  row.disabled = query.column_int64(8) != 0;
  row.failed_sign_ins = query.column_int64(9);
  if (!query.column_is_null(10)) {
    row.locked_until_ms = query.column_int64(10);
  }
  row.created_ms = query.column_int64(11);
  row.updated_ms = query.column_int64(12);
  return row;
}

WebSessionRow read_session(const Statement& query) {
  return {query.column_int64(0), query.column_text(1),  query.column_int64(2), query.column_text(3),
          query.column_int64(4), query.column_int64(5), query.column_int64(6)};
}

void bind_password(Statement& statement, int index, const std::optional<std::string>& hash) {
  if (hash) {
    statement.bind(index, *hash);
  } else {
    statement.bind_null(index);
  }
}

std::string select_users(std::string_view where) {
  return std::string("SELECT ").append(kUserColumns).append(" FROM users ").append(where);
}

}  // namespace

std::optional<std::int64_t> UserRepository::insert(const UserRow& user) {
  Statement statement = db_.prepare(
      "INSERT INTO users(name, display_name, role, language, time_zone, owner_ids, password_hash, disabled, "
      "failed_sign_ins, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9) "
      "ON CONFLICT (name) DO NOTHING RETURNING id");
  statement.bind(1, user.name)
      .bind(2, user.display_name)
      .bind(3, user.role)
      .bind(4, user.language)
      .bind(5, user.time_zone)
      .bind(6, user.owner_ids);
  bind_password(statement, 7, user.password_hash);
  statement.bind(8, std::int64_t{user.disabled ? 1 : 0}).bind(9, user.created_ms);
  if (!statement.step()) {
    return std::nullopt;
  }
  return statement.column_int64(0);
}

std::optional<UserRow> UserRepository::find_by_name(std::string_view name) {
  Statement query = db_.prepare(select_users("WHERE name = ?1"));
  query.bind(1, name);
  if (!query.step()) {
    return std::nullopt;
  }
  return read_user(query);
}

std::optional<UserRow> UserRepository::find_by_id(std::int64_t id) {
  Statement query = db_.prepare(select_users("WHERE id = ?1"));
  query.bind(1, id);
  if (!query.step()) {
    return std::nullopt;
  }
  return read_user(query);
}

std::vector<UserRow> UserRepository::list() {
  Statement query = db_.prepare(select_users("ORDER BY name, id"));
  std::vector<UserRow> rows;
  while (query.step()) {
    rows.push_back(read_user(query));
  }
  return rows;
}

void UserRepository::update(const UserRow& user) {
  Statement statement = db_.prepare(
      "UPDATE users SET display_name = ?1, role = ?2, language = ?3, time_zone = ?4, owner_ids = ?5, "
      "password_hash = ?6, disabled = ?7, updated_ms = ?8 WHERE id = ?9");
  statement.bind(1, user.display_name)
      .bind(2, user.role)
      .bind(3, user.language)
      .bind(4, user.time_zone)
      .bind(5, user.owner_ids);
  bind_password(statement, 6, user.password_hash);
  statement.bind(7, std::int64_t{user.disabled ? 1 : 0}).bind(8, user.updated_ms).bind(9, user.id).run();
}

bool UserRepository::remove(std::string_view name) {
  const std::optional<UserRow> user = find_by_name(name);
  if (!user) {
    return false;
  }
  delete_sessions_of(user->id);
  db_.prepare("DELETE FROM users WHERE id = ?1").bind(1, user->id).run();
  return db_.changes() > 0;
}

std::int64_t UserRepository::count_enabled_admins() {
  Statement query = db_.prepare("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0");
  return query.step() ? query.column_int64(0) : 0;
}

std::int64_t UserRepository::add_failed_sign_in(std::int64_t id) {
  // One statement, so two failures at once both count.
  Statement statement =
      db_.prepare("UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = ?1 RETURNING failed_sign_ins");
  statement.bind(1, id);
  return statement.step() ? statement.column_int64(0) : 0;
}

std::int64_t UserRepository::add_failed_sign_in(std::int64_t id, std::int64_t now_ms, std::int64_t forget_before_ms) {
  Statement statement = db_.prepare(
      "UPDATE users SET failed_sign_ins = CASE WHEN last_failed_sign_in_ms < ?3 THEN 1 ELSE failed_sign_ins + 1 END, "
      "last_failed_sign_in_ms = ?2 WHERE id = ?1 RETURNING failed_sign_ins");
  statement.bind(1, id).bind(2, now_ms).bind(3, forget_before_ms);
  return statement.step() ? statement.column_int64(0) : 0;
}

void UserRepository::lock(std::int64_t id, std::int64_t until_ms) {
  db_.prepare("UPDATE users SET locked_until_ms = ?1, failed_sign_ins = 0 WHERE id = ?2")
      .bind(1, until_ms)
      .bind(2, id)
      .run();
}

std::optional<std::int64_t> UserRepository::name_locked_until(const std::string& name, std::int64_t now_ms) {
  Statement query =
      db_.prepare("SELECT locked_until_ms FROM sign_in_failures WHERE name = ?1 AND locked_until_ms > ?2");
  query.bind(1, name).bind(2, now_ms);
  return query.step() ? std::optional<std::int64_t>(query.column_int64(0)) : std::nullopt;
}

std::int64_t UserRepository::add_failed_sign_in_for_name(const std::string& name, std::int64_t now_ms,
                                                         std::int64_t forget_before_ms) {
  db_.prepare(
         "DELETE FROM sign_in_failures WHERE updated_ms < ?1 AND (locked_until_ms IS NULL OR locked_until_ms < ?2)")
      .bind(1, forget_before_ms)
      .bind(2, now_ms)
      .run();
  Statement statement = db_.prepare(
      "INSERT INTO sign_in_failures (name, failed_sign_ins, updated_ms) VALUES (?1, 1, ?2) ON CONFLICT (name) DO "
      "UPDATE SET failed_sign_ins = sign_in_failures.failed_sign_ins + 1, updated_ms = excluded.updated_ms "
      "RETURNING failed_sign_ins");
  statement.bind(1, name).bind(2, now_ms);
  return statement.step() ? statement.column_int64(0) : 0;
}

void UserRepository::lock_name(const std::string& name, std::int64_t until_ms) {
  db_.prepare("UPDATE sign_in_failures SET locked_until_ms = ?1, failed_sign_ins = 0 WHERE name = ?2")
      .bind(1, until_ms)
      .bind(2, name)
      .run();
}

void UserRepository::clear_failures(std::int64_t id) {
  db_.prepare(
         "UPDATE users SET failed_sign_ins = 0, locked_until_ms = NULL WHERE id = ?1 "
         "AND (failed_sign_ins <> 0 OR locked_until_ms IS NOT NULL)")
      .bind(1, id)
      .run();
}

void UserRepository::insert_session(const WebSessionRow& session) {
  db_.prepare(
         "INSERT INTO web_sessions(session_hash, user_id, csrf_token, created_ms, last_seen_ms, expires_ms) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, session.session_hash)
      .bind(2, session.user_id)
      .bind(3, session.csrf_token)
      .bind(4, session.created_ms)
      .bind(5, session.last_seen_ms)
      .bind(6, session.expires_ms)
      .run();
}

std::optional<WebSessionRow> UserRepository::find_session(std::string_view session_hash) {
  Statement query =
      db_.prepare(std::string("SELECT ").append(kSessionColumns).append(" FROM web_sessions WHERE session_hash = ?1"));
  query.bind(1, session_hash);
  if (!query.step()) {
    return std::nullopt;
  }
  return read_session(query);
}

void UserRepository::touch_session(std::int64_t id, std::int64_t now_ms) {
  db_.prepare("UPDATE web_sessions SET last_seen_ms = ?1 WHERE id = ?2 AND last_seen_ms < ?1")
      .bind(1, now_ms)
      .bind(2, id)
      .run();
}

bool UserRepository::delete_session(std::string_view session_hash) {
  db_.prepare("DELETE FROM web_sessions WHERE session_hash = ?1").bind(1, session_hash).run();
  return db_.changes() > 0;
}

void UserRepository::delete_sessions_of(std::int64_t user_id) {
  db_.prepare("DELETE FROM web_sessions WHERE user_id = ?1").bind(1, user_id).run();
}

void UserRepository::delete_expired_sessions(std::int64_t now_ms, std::int64_t idle_before_ms) {
  db_.prepare("DELETE FROM web_sessions WHERE expires_ms <= ?1 OR last_seen_ms < ?2")
      .bind(1, now_ms)
      .bind(2, idle_before_ms)
      .run();
}

}  // namespace crm::host
