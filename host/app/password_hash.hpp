#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crm::host {

// scrypt's cost parameters: N = 2^log2_n, block size r, parallelism p.
struct ScryptParameters {
  int log2_n = 15;
  std::uint64_t r = 8;
  std::uint64_t p = 1;
};

// The parameters new passwords are hashed with (N=2^15, r=8, p=1: about 32 MiB and tens of milliseconds).
inline constexpr ScryptParameters kPasswordScrypt{};

// scrypt (RFC 7914) through OpenSSL's EVP_PBE_scrypt: `length` bytes derived
// from `password` and `salt`. Throws std::runtime_error when OpenSSL refuses
// the parameters.
std::string scrypt_derive(std::string_view password, std::string_view salt, const ScryptParameters& parameters,
                          std::size_t length);

// A password's stored form, self-describing so parameters can change later:
//   $scrypt$ln=15,r=8,p=1$<salt, base64url>$<derived key, base64url>
// with a fresh 16-byte random salt and a 32-byte key. Never holds the password.
std::string hash_password(std::string_view password, const ScryptParameters& parameters = kPasswordScrypt);

// Whether `password` matches `stored` (a string of hash_password, whatever its
// parameters and key length); false for a stored form that does not parse.
// The keys are compared in constant time (CRYPTO_memcmp).
bool verify_password(std::string_view password, std::string_view stored);

// Spends the time of one verification against the current parameters, for a
// sign-in whose user does not exist, so its answer time does not tell.
void burn_password_verification(std::string_view password);

}  // namespace crm::host
