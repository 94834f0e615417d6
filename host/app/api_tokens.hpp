#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/session.hpp"
#include "store/store.hpp"

namespace crm::host {

// What an API token may do. write implies read; admin implies both.
enum class Scope { read, write, admin };

// "read", "write", "admin".
const char* scope_name(Scope scope);
// nullopt for anything else (case matters).
std::optional<Scope> parse_scope(std::string_view text);
// "read,write" (any order, repeats allowed, spaces around names ignored), or
// InvalidRequest naming the word that is not a scope.
std::vector<Scope> parse_scopes(std::string_view comma_separated);

// A token's scopes with what they imply, in the order read, write, admin.
std::vector<Scope> expand_scopes(const std::vector<Scope>& granted);

// A token just made: the only moment its plaintext exists outside the caller.
struct CreatedApiToken {
  std::string name;
  std::string token;          // "crm_" + 43 characters; stored nowhere, shown once
  std::vector<Scope> scopes;  // expanded
  std::int64_t created_ms = 0;
};

// One token as listed: never the token nor its hash.
struct ApiTokenInfo {
  std::string name;
  std::vector<Scope> scopes;
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> last_used_ms;
  std::optional<std::int64_t> revoked_ms;
};

// Who is calling the API, once its bearer token was accepted.
struct ApiCaller {
  std::string token_name;
  std::vector<Scope> scopes;  // expanded

  [[nodiscard]] bool allows(Scope needed) const;
};

// The prefix every token starts with, so that secret scanners and people can tell one.
inline constexpr std::string_view kApiTokenPrefix = "crm_";
// How often a token's last use is written at most (one write per token per minute, not per request).
inline constexpr std::int64_t kApiTokenLastUseResolutionMs = 60'000;

// Makes a token named `name` (1 to 64 of A-Z a-z 0-9 . _ -) with `scopes`
// (at least one). InvalidRequest for a bad name or no scope, or when a token
// that is not revoked has the name.
CreatedApiToken create_api_token(Session& session, const std::string& name, const std::vector<Scope>& scopes);
// Every token, revoked ones included, by name.
std::vector<ApiTokenInfo> list_api_tokens(Session& session);
// NotFound when no token that is not revoked has `name`.
void revoke_api_token(Session& session, const std::string& name);

// The lowercase hex SHA-256 of a token: how the store and caches know it.
std::string api_token_hash(std::string_view token);

// The caller a bearer token stands for, or nullopt when it is malformed,
// unknown or revoked. `bearer` is the token itself (without "Bearer ").
// Records the token's last use at most once per kApiTokenLastUseResolutionMs.
// One indexed lookup; `store` is used from the calling thread only.
std::optional<ApiCaller> authenticate_api_token(Store& store, std::string_view bearer, std::int64_t now_ms);

}  // namespace crm::host
