#include "store/api_token_repository.hpp"

namespace crm::host {
namespace {

constexpr std::string_view kColumns = "id, name, token_hash, scopes, created_ms, last_used_ms, revoked_ms";

ApiTokenRow read_row(const Statement& query) {
  ApiTokenRow row;
  row.id = query.column_int64(0);
  row.name = query.column_text(1);
  row.token_hash = query.column_text(2);
  row.scopes = query.column_text(3);
  row.created_ms = query.column_int64(4);
  if (!query.column_is_null(5)) {
    row.last_used_ms = query.column_int64(5);
  }
  if (!query.column_is_null(6)) {
    row.revoked_ms = query.column_int64(6);
  }
  return row;
}

}  // namespace

bool ApiTokenRepository::insert(std::string_view name, std::string_view token_hash, std::string_view scopes,
                                std::int64_t created_ms) {
  // Either unique index (a live token's name, the hash) turns the insert into nothing.
  db_.prepare(
         "INSERT INTO api_tokens(name, token_hash, scopes, created_ms) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT DO NOTHING")
      .bind(1, name)
      .bind(2, token_hash)
      .bind(3, scopes)
      .bind(4, created_ms)
      .run();
  return db_.changes() > 0;
}

// Every API request comes here (unless the service's cache answers): prepared once.
std::optional<ApiTokenRow> ApiTokenRepository::find_by_hash(std::string_view token_hash) {
  if (!find_by_hash_) {
    find_by_hash_.emplace(
        db_.prepare(std::string("SELECT ").append(kColumns).append(" FROM api_tokens WHERE token_hash = ?1")));
  }
  Statement& query = *find_by_hash_;
  query.bind(1, token_hash);
  std::optional<ApiTokenRow> row;
  if (query.step()) {
    row = read_row(query);
  }
  query.reset();
  return row;
}

void ApiTokenRepository::touch(std::int64_t id, std::int64_t now_ms, std::int64_t not_before_ms) {
  if (!touch_) {
    touch_.emplace(db_.prepare(
        "UPDATE api_tokens SET last_used_ms = ?1 WHERE id = ?2 AND (last_used_ms IS NULL OR last_used_ms < ?3)"));
  }
  touch_->bind(1, now_ms).bind(2, id).bind(3, not_before_ms).run();
}

bool ApiTokenRepository::revoke(std::string_view name, std::int64_t now_ms) {
  db_.prepare("UPDATE api_tokens SET revoked_ms = ?1 WHERE name = ?2 AND revoked_ms IS NULL")
      .bind(1, now_ms)
      .bind(2, name)
      .run();
  return db_.changes() > 0;
}

std::vector<ApiTokenRow> ApiTokenRepository::list() {
  Statement query = db_.prepare(std::string("SELECT ").append(kColumns).append(" FROM api_tokens ORDER BY name, id"));
  std::vector<ApiTokenRow> rows;
  while (query.step()) {
    rows.push_back(read_row(query));
  }
  return rows;
}

}  // namespace crm::host
