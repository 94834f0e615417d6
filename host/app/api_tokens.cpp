#include "app/api_tokens.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdexcept>

#include "app/errors.hpp"
#include "store/api_token_repository.hpp"

namespace crm::host {
namespace {

constexpr std::size_t kTokenRandomBytes = 32;
constexpr std::size_t kTokenTextLength = 43;  // base64url of 32 bytes, unpadded
constexpr std::size_t kMaxNameLength = 64;

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string base64url(const unsigned char* bytes, std::size_t size) {
  std::string text(4 * ((size + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes, static_cast<int>(size));
  text.resize(static_cast<std::size_t>(written));
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

std::string new_token() {
  std::array<unsigned char, kTokenRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("the system's random source (OpenSSL RAND_bytes) failed; no token was made");
  }
  std::string token(kApiTokenPrefix);
  token += base64url(random.data(), random.size());
  return token;
}

void check_name(const std::string& name) {
  const bool valid = !name.empty() && name.size() <= kMaxNameLength &&
                     std::all_of(name.begin(), name.end(), [](char c) { return is_base64url(c) || c == '.'; });
  if (!valid) {
    throw InvalidRequest(fmt::format("token name must be 1 to {} of A-Z a-z 0-9 . _ -", kMaxNameLength));
  }
}

std::string scopes_text(const std::vector<Scope>& scopes) {
  std::string text;
  for (const Scope scope : scopes) {
    text += text.empty() ? "" : ",";
    text += scope_name(scope);
  }
  return text;
}

// Stored scopes are written by this file only; a word it does not know is skipped, granting nothing.
std::vector<Scope> stored_scopes(std::string_view text) {
  std::vector<Scope> scopes;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    if (const auto scope = parse_scope(text.substr(0, comma))) {
      scopes.push_back(*scope);
    }
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return expand_scopes(scopes);
}

}  // namespace

const char* scope_name(Scope scope) {
  switch (scope) {
    case Scope::read:
      return "read";
    case Scope::write:
      return "write";
    case Scope::admin:
      return "admin";
  }
  return "read";
}

std::optional<Scope> parse_scope(std::string_view text) {
  for (const Scope scope : {Scope::read, Scope::write, Scope::admin}) {
    if (text == scope_name(scope)) {
      return scope;
    }
  }
  return std::nullopt;
}

std::vector<Scope> parse_scopes(std::string_view comma_separated) {
  std::vector<Scope> scopes;
  std::string_view rest = comma_separated;
  while (true) {
    const std::size_t comma = rest.find(',');
    std::string_view word = rest.substr(0, comma);
    while (!word.empty() && word.front() == ' ') {
      word.remove_prefix(1);
    }
    while (!word.empty() && word.back() == ' ') {
      word.remove_suffix(1);
    }
    const std::optional<Scope> scope = parse_scope(word);
    if (!scope) {
      // A scope word is not a secret: naming it helps.
      throw InvalidRequest(
          fmt::format("scopes: '{}' is not a scope (read, write or admin, separated by commas)", word));
    }
    scopes.push_back(*scope);
    if (comma == std::string_view::npos) {
      return scopes;
    }
    rest = rest.substr(comma + 1);
  }
}

std::vector<Scope> expand_scopes(const std::vector<Scope>& granted) {
  const auto has = [&granted](Scope scope) {
    return std::find(granted.begin(), granted.end(), scope) != granted.end();
  };
  const bool admin = has(Scope::admin);
  const bool write = admin || has(Scope::write);
  const bool read = write || has(Scope::read);
  std::vector<Scope> expanded;
  if (read) {
    expanded.push_back(Scope::read);
  }
  if (write) {
    expanded.push_back(Scope::write);
  }
  if (admin) {
    expanded.push_back(Scope::admin);
  }
  return expanded;
}

bool ApiCaller::allows(Scope needed) const {
  return std::find(scopes.begin(), scopes.end(), needed) != scopes.end();
}

// SHA-256 without salt or stretching is right here, unlike for passwords: a
// token is 256 random bits, so no dictionary or brute force can invert its
// hash, and a fast hash keeps authentication at one digest per request.
std::string api_token_hash(std::string_view token) {
  // Fetched once: OpenSSL 3 looks the implementation up on every EVP_sha256() digest otherwise (4 us -> under 1 us).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (sha256 == nullptr || EVP_Digest(token.data(), token.size(), digest.data(), &length, sha256, nullptr) != 1) {
    throw std::runtime_error("OpenSSL could not compute SHA-256");
  }
  constexpr std::string_view kHexDigits = "0123456789abcdef";
  std::string hex(2 * std::size_t{length}, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHexDigits[digest[i] >> 4U];
    hex[2 * i + 1] = kHexDigits[digest[i] & 0x0FU];
  }
  return hex;
}

CreatedApiToken create_api_token(Session& session, const std::string& name, const std::vector<Scope>& scopes) {
  check_name(name);
  if (scopes.empty()) {
    throw InvalidRequest("a token needs at least one scope (read, write or admin)");
  }
  CreatedApiToken created{name, new_token(), expand_scopes(scopes), session.clock().now_ms()};
  const StoreHandle store = session.open_store();
  ApiTokenRepository tokens(store->database());
  if (!tokens.insert(name, api_token_hash(created.token), scopes_text(created.scopes), created.created_ms)) {
    // 256 random bits do not collide: the name is taken.
    throw InvalidRequest(fmt::format(
        "a token named '{}' exists; revoke it first (`crmhost tokens revoke {}`) or choose another name", name, name));
  }
  return created;
}

std::vector<ApiTokenInfo> list_api_tokens(Session& session) {
  const StoreHandle store = session.open_store();
  std::vector<ApiTokenInfo> tokens;
  for (const ApiTokenRow& row : ApiTokenRepository(store->database()).list()) {
    tokens.push_back({row.name, stored_scopes(row.scopes), row.created_ms, row.last_used_ms, row.revoked_ms});
  }
  return tokens;
}

void revoke_api_token(Session& session, const std::string& name) {
  const StoreHandle store = session.open_store();
  if (!ApiTokenRepository(store->database()).revoke(name, session.clock().now_ms())) {
    throw NotFound(fmt::format("no token named '{}' that is not revoked (`crmhost tokens list` shows them)", name));
  }
}

// The token is found by its hash through a unique index, so no comparison of
// secret bytes happens in this process: a constant-time compare would guard
// nothing (what the database's index compares are hashes an attacker cannot
// steer byte by byte without inverting SHA-256).
std::optional<ApiCaller> authenticate_api_token(Store& store, std::string_view bearer, std::int64_t now_ms) {
  if (bearer.size() != kApiTokenPrefix.size() + kTokenTextLength || !bearer.starts_with(kApiTokenPrefix) ||
      !std::all_of(bearer.begin() + static_cast<std::ptrdiff_t>(kApiTokenPrefix.size()), bearer.end(), is_base64url)) {
    return std::nullopt;
  }
  ApiTokenRepository tokens(store.database());
  const std::optional<ApiTokenRow> row = tokens.find_by_hash(api_token_hash(bearer));
  if (!row || row->revoked_ms) {
    return std::nullopt;
  }
  if (!row->last_used_ms || *row->last_used_ms <= now_ms - kApiTokenLastUseResolutionMs) {
    tokens.touch(row->id, now_ms, now_ms - kApiTokenLastUseResolutionMs + 1);
  }
  return ApiCaller{row->name, stored_scopes(row->scopes)};
}

}  // namespace crm::host
