#include "app/password_hash.hpp"

#include <array>
#include <charconv>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdexcept>

#include "core/base64url.hpp"

namespace crm::host {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kKeyBytes = 32;
constexpr std::string_view kPrefix = "$scrypt$";
// Refuse stored parameters that would make one sign-in take gigabytes or minutes.
constexpr std::uint64_t kMaxLog2N = 22;
constexpr std::uint64_t kMaxR = 32;
constexpr std::uint64_t kMaxP = 16;
constexpr std::size_t kMaxKeyBytes = 128;

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

struct StoredHash {
  ScryptParameters parameters;
  std::string salt;
  std::string key;
};

// "ln=15,r=8,p=1$salt$key" after the prefix.
std::optional<StoredHash> parse_stored(std::string_view stored) {
  if (!stored.starts_with(kPrefix)) {
    return std::nullopt;
  }
  stored.remove_prefix(kPrefix.size());
  const std::size_t first = stored.find('$');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t second = stored.find('$', first + 1);
  if (second == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view fields = stored.substr(0, first);
  StoredHash parsed;
  bool has_n = false;
  bool has_r = false;
  bool has_p = false;
  while (!fields.empty()) {
    const std::size_t comma = fields.find(',');
    const std::string_view field = fields.substr(0, comma);
    fields = comma == std::string_view::npos ? std::string_view() : fields.substr(comma + 1);
    const std::size_t equals = field.find('=');
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    const std::optional<std::uint64_t> value = parse_number(field.substr(equals + 1));
    if (!value) {
      return std::nullopt;
    }
    const std::string_view key = field.substr(0, equals);
    if (key == "ln" && *value >= 1 && *value <= kMaxLog2N) {
      parsed.parameters.log2_n = static_cast<int>(*value);
      has_n = true;
    } else if (key == "r" && *value >= 1 && *value <= kMaxR) {
      parsed.parameters.r = *value;
      has_r = true;
    } else if (key == "p" && *value >= 1 && *value <= kMaxP) {
      parsed.parameters.p = *value;
      has_p = true;
    } else {
      return std::nullopt;
    }
  }
  std::optional<std::string> salt = base64url_decode(stored.substr(first + 1, second - first - 1));
  std::optional<std::string> key = base64url_decode(stored.substr(second + 1));
  if (!has_n || !has_r || !has_p || !salt || !key || key->empty() || key->size() > kMaxKeyBytes) {
    return std::nullopt;
  }
  parsed.salt = std::move(*salt);
  parsed.key = std::move(*key);
  return parsed;
}

std::string format_stored(const ScryptParameters& parameters, std::string_view salt, std::string_view key) {
  return fmt::format("{}ln={},r={},p={}${}${}", kPrefix, parameters.log2_n, parameters.r, parameters.p,
                     base64url_encode(salt), base64url_encode(key));
}

}  // namespace

std::string scrypt_derive(std::string_view password, std::string_view salt, const ScryptParameters& parameters,
                          std::size_t length) {
  const std::uint64_t n = std::uint64_t{1} << parameters.log2_n;
  // scrypt needs 128 * r * N bytes for its vector plus 128 * r * p; OpenSSL's
  // default cap (32 MiB) is exactly the vector of N=2^15, r=8, so it is given room.
  const std::uint64_t max_memory = 128 * parameters.r * (n + parameters.p) + (std::uint64_t{16} << 20);
  std::string derived(length, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                     n, parameters.r, parameters.p, max_memory, reinterpret_cast<unsigned char*>(derived.data()),
                     derived.size()) != 1) {
    throw std::runtime_error(
        fmt::format("OpenSSL's scrypt refused N=2^{}, r={}, p={}", parameters.log2_n, parameters.r, parameters.p));
  }
  return derived;
}

std::string hash_password(std::string_view password, const ScryptParameters& parameters) {
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw std::runtime_error("the system's random source (OpenSSL RAND_bytes) failed; no password was set");
  }
  const std::string_view salt_bytes(reinterpret_cast<const char*>(salt.data()), salt.size());
  return format_stored(parameters, salt_bytes, scrypt_derive(password, salt_bytes, parameters, kKeyBytes));
}

bool verify_password(std::string_view password, std::string_view stored) {
  const std::optional<StoredHash> parsed = parse_stored(stored);
  if (!parsed) {
    return false;
  }
  const std::string derived = scrypt_derive(password, parsed->salt, parsed->parameters, parsed->key.size());
  return CRYPTO_memcmp(derived.data(), parsed->key.data(), derived.size()) == 0;
}

void burn_password_verification(std::string_view password) {
  static const std::string kSalt(kSaltBytes, '\0');
  (void)scrypt_derive(password, kSalt, kPasswordScrypt, kKeyBytes);
}

}  // namespace crm::host
