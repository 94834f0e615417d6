#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace crm::host {

// One row of api_tokens as stored: never the token, only its hash.
struct ApiTokenRow {
  std::int64_t id = 0;
  std::string name;
  std::string token_hash;  // lowercase hex SHA-256 of the token
  std::string scopes;      // comma-separated, e.g. "read,write"
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> last_used_ms;
  std::optional<std::int64_t> revoked_ms;
};

// The api_tokens table. Holds the prepared statement of the per-request
// lookup on `db`, which must outlive it; not thread-safe (one thread at a
// time, as `db`); the caller owns transactions.
class ApiTokenRepository {
 public:
  explicit ApiTokenRepository(Database& db) : db_(db) {}

  // Adds a token; false (nothing written) when a token not revoked has `name`
  // or the hash is taken.
  bool insert(std::string_view name, std::string_view token_hash, std::string_view scopes, std::int64_t created_ms);
  // The token with `token_hash`, revoked or not: one lookup by a unique index.
  std::optional<ApiTokenRow> find_by_hash(std::string_view token_hash);
  // Sets last_used_ms to `now_ms` unless it is already at or after `not_before_ms`.
  void touch(std::int64_t id, std::int64_t now_ms, std::int64_t not_before_ms);
  // Revokes the token named `name` that is not revoked; false when there is none.
  bool revoke(std::string_view name, std::int64_t now_ms);
  // Every token, revoked ones included, by name then id.
  std::vector<ApiTokenRow> list();

 private:
  Database& db_;
  std::optional<Statement> find_by_hash_;
  std::optional<Statement> touch_;
};

}  // namespace crm::host
