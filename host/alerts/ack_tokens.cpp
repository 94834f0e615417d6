#include "alerts/ack_tokens.hpp"

#include <array>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdexcept>
#include <string_view>

namespace crm::host {
namespace {

constexpr std::string_view kKeyName = "ack_link_hmac_key";
constexpr std::size_t kKeyBytes = 32;
constexpr unsigned char kVersion = 1;
constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kTokenBytes = 1 + kIdBytes + kMacBytes;
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> static_cast<unsigned>(bits)) & 0x3FU];
    }
  }
  if (bits > 0) {
    out += kAlphabet[(buffer << static_cast<unsigned>(6 - bits)) & 0x3FU];
  }
  return out;
}

// nullopt for anything but unpadded base64url (whose spare bits are zero, so
// that one token has exactly one spelling).
std::optional<std::string> from_base64url(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const std::size_t value = kAlphabet.find(c);
    if (value == std::string_view::npos) {
      return std::nullopt;
    }
    buffer = (buffer << 6U) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU);
    }
  }
  if (bits >= 6 || (buffer & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) {
    return std::nullopt;
  }
  return out;
}

void put_be64(std::string& out, std::int64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((static_cast<std::uint64_t>(value) >> static_cast<unsigned>(shift)) & 0xFFU);
  }
}

std::int64_t get_be64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kIdBytes; ++i) {
    value = (value << 8U) | static_cast<unsigned char>(bytes[i]);
  }
  return static_cast<std::int64_t>(value);
}

std::string hex(std::string_view bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4U];
    out += kDigits[static_cast<unsigned char>(c) & 0xFU];
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>((nibble(text[i]) << 4) | nibble(text[i + 1]));
  }
  return out;
}

}  // namespace

std::string AckTokens::key() {
  if (!key_) {
    std::array<unsigned char, kKeyBytes> fresh{};
    if (RAND_bytes(fresh.data(), static_cast<int>(fresh.size())) != 1) {
      throw std::runtime_error("the system's random source failed while making the acknowledge links' key");
    }
    const std::string stored = repository_.host_secret(
        std::string(kKeyName), hex(std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size())),
        clock_.now_ms());
    OPENSSL_cleanse(fresh.data(), fresh.size());
    if (stored.size() != kKeyBytes * 2) {
      throw std::runtime_error(
          "the store's acknowledge-link key is damaged (not 32 bytes); delete it to make a new one");
    }
    key_ = unhex(stored);
  }
  return *key_;
}

std::string AckTokens::mac(std::int64_t token_id, std::int64_t alert_id, const std::string& recipient) {
  // Fixed-width numbers before the one variable-length field: no two inputs share a encoding.
  std::string input = "crm-ack-v1";
  input += '\0';
  put_be64(input, token_id);
  put_be64(input, alert_id);
  input += recipient;
  const std::string secret = key();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data(), &length);
  return {reinterpret_cast<const char*>(digest.data()), length};
}

std::string AckTokens::issue(std::int64_t alert_id, const std::string& recipient, std::int64_t expires_ms) {
  const std::int64_t id = repository_.issue(alert_id, recipient, expires_ms, clock_.now_ms());
  std::string bytes(1, static_cast<char>(kVersion));
  put_be64(bytes, id);
  bytes += mac(id, alert_id, recipient);
  return base64url(bytes);
}

CheckedAckToken AckTokens::check(const std::string& token) {
  CheckedAckToken checked;
  const std::optional<std::string> bytes = token.size() > 2 * kTokenBytes ? std::nullopt : from_base64url(token);
  if (!bytes || bytes->size() != kTokenBytes || static_cast<unsigned char>((*bytes)[0]) != kVersion) {
    return checked;
  }
  const std::int64_t id = get_be64(std::string_view(*bytes).substr(1));
  const std::optional<AckTokenRecord> record = repository_.find(id);
  // An unknown id is answered like a wrong MAC, after the same work, so that ids cannot be probed.
  const std::string expected = record ? mac(id, record->alert_id, record->recipient) : mac(id, 0, std::string());
  if (!record || CRYPTO_memcmp(expected.data(), bytes->data() + 1 + kIdBytes, kMacBytes) != 0) {
    return checked;
  }
  checked.token = record;
  checked.alert = repository_.alert(record->alert_id);
  if (!checked.alert) {
    return checked;
  }
  if (record->used_ms) {
    checked.problem = AckTokenProblem::used;
  } else if (checked.alert->state != "open") {
    checked.problem = AckTokenProblem::alert_closed;
  } else if (clock_.now_ms() > record->expires_ms) {
    checked.problem = AckTokenProblem::expired;
  } else {
    checked.problem = AckTokenProblem::none;
  }
  return checked;
}

}  // namespace crm::host
