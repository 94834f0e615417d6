#include "core/wecom_crypto.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <vector>

namespace crm::host {
namespace {

constexpr std::size_t kRandomPrefixBytes = 16;
constexpr std::size_t kLengthBytes = 4;
// WXBizMsgCrypt pads to 32-byte blocks (PKCS#7 with a block of 32), not AES's 16, so
// OpenSSL's own padding is off and the scheme's is applied and checked here.
constexpr std::size_t kPadBlockBytes = 32;

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

// Strict standard base64 with padding: anything else is refused rather than guessed at.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int values[4] = {0, 0, 0, 0};
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++padding;
        continue;
      }
      if (padding > 0) {
        return std::nullopt;
      }
      values[k] = base64_value(c);
      if (values[k] < 0) {
        return std::nullopt;
      }
    }
    const unsigned bits = (static_cast<unsigned>(values[0]) << 18U) | (static_cast<unsigned>(values[1]) << 12U) |
                          (static_cast<unsigned>(values[2]) << 6U) | static_cast<unsigned>(values[3]);
    out.push_back(static_cast<char>((bits >> 16U) & 0xFFU));
    if (padding < 2) {
      out.push_back(static_cast<char>((bits >> 8U) & 0xFFU));
    }
    if (padding < 1) {
      out.push_back(static_cast<char>(bits & 0xFFU));
    }
  }
  return out;
}

std::string base64_encode(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};

std::vector<unsigned char> aes_cbc(const std::array<std::uint8_t, 32>& key, const unsigned char* data, std::size_t size,
                                   bool encrypt) {
  const std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree> context(EVP_CIPHER_CTX_new());
  if (!context ||
      EVP_CipherInit_ex(context.get(), EVP_aes_256_cbc(), nullptr, key.data(), key.data(), encrypt ? 1 : 0) != 1) {
    throw WecomCryptoError("the AES-256-CBC cipher could not be set up");
  }
  EVP_CIPHER_CTX_set_padding(context.get(), 0);
  std::vector<unsigned char> out(size + 32);
  int written = 0;
  int final_written = 0;
  if (EVP_CipherUpdate(context.get(), out.data(), &written, data, static_cast<int>(size)) != 1 ||
      EVP_CipherFinal_ex(context.get(), out.data() + written, &final_written) != 1) {
    throw WecomCryptoError("the encrypted text is not whole AES blocks");
  }
  out.resize(static_cast<std::size_t>(written + final_written));
  return out;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

WecomCrypto::WecomCrypto(std::string token, std::string_view encoding_aes_key) : token_(std::move(token)) {
  if (encoding_aes_key.size() != 43) {
    throw WecomCryptoError("the EncodingAESKey must be 43 characters (as the WeCom admin console gives it)");
  }
  const std::optional<std::string> key = base64_decode(std::string(encoding_aes_key) + "=");
  if (!key || key->size() != key_.size()) {
    throw WecomCryptoError("the EncodingAESKey is not base64 of a 32-byte key (copy it again from the console)");
  }
  std::memcpy(key_.data(), key->data(), key_.size());
}

std::string WecomCrypto::signature(std::string_view timestamp, std::string_view nonce,
                                   std::string_view encrypted) const {
  std::array<std::string_view, 4> parts = {token_, timestamp, nonce, encrypted};
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (const std::string_view part : parts) {
    joined.append(part);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned digest_size = 0;
  if (EVP_Digest(joined.data(), joined.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) != 1) {
    throw WecomCryptoError("SHA-1 is not available");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(std::size_t{digest_size} * 2);
  for (std::size_t i = 0; i < digest_size; ++i) {
    const unsigned char byte = digest[i];
    hex.push_back(kHex[byte >> 4U]);
    hex.push_back(kHex[byte & 0x0FU]);
  }
  return hex;
}

bool WecomCrypto::verify(std::string_view msg_signature, std::string_view timestamp, std::string_view nonce,
                         std::string_view encrypted) const {
  std::string sent(msg_signature);
  std::transform(sent.begin(), sent.end(), sent.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return constant_time_equal(sent, signature(timestamp, nonce, encrypted));
}

WecomCrypto::Plain WecomCrypto::decrypt(std::string_view encrypted) const {
  const std::optional<std::string> cipher = base64_decode(encrypted);
  if (!cipher) {
    throw WecomCryptoError("the encrypted text is not base64");
  }
  if (cipher->empty() || cipher->size() % 16 != 0) {
    throw WecomCryptoError("the encrypted text is not whole AES blocks");
  }
  const std::vector<unsigned char> plain =
      aes_cbc(key_, reinterpret_cast<const unsigned char*>(cipher->data()), cipher->size(), false);
  const std::size_t pad = plain.empty() ? 0 : plain.back();
  if (pad < 1 || pad > kPadBlockBytes || pad > plain.size() ||
      !std::all_of(plain.end() - static_cast<std::ptrdiff_t>(pad), plain.end(),
                   [pad](unsigned char byte) { return byte == pad; })) {
    throw WecomCryptoError("the decrypted text has no valid padding (wrong key?)");
  }
  const std::size_t content_size = plain.size() - pad;
  if (content_size < kRandomPrefixBytes + kLengthBytes) {
    throw WecomCryptoError("the decrypted text is too short for its length field");
  }
  const unsigned char* length_at = plain.data() + kRandomPrefixBytes;
  const std::size_t length = (static_cast<std::size_t>(length_at[0]) << 24U) |
                             (static_cast<std::size_t>(length_at[1]) << 16U) |
                             (static_cast<std::size_t>(length_at[2]) << 8U) | static_cast<std::size_t>(length_at[3]);
  const std::size_t message_at = kRandomPrefixBytes + kLengthBytes;
  if (length > content_size - message_at) {
    throw WecomCryptoError("the decrypted message's length runs past its end");
  }
  Plain out;
  out.message.assign(reinterpret_cast<const char*>(plain.data() + message_at), length);
  out.corp_id.assign(reinterpret_cast<const char*>(plain.data() + message_at + length),
                     content_size - message_at - length);
  return out;
}

std::string WecomCrypto::encrypt(std::string_view message, std::string_view corp_id,
                                 const std::optional<std::array<std::uint8_t, 16>>& random_prefix) const {
  std::vector<unsigned char> plain(kRandomPrefixBytes);
  if (random_prefix) {
    std::copy(random_prefix->begin(), random_prefix->end(), plain.begin());
  } else if (RAND_bytes(plain.data(), static_cast<int>(plain.size())) != 1) {
    throw WecomCryptoError("no random bytes for the message");
  }
  const auto length = static_cast<std::uint32_t>(message.size());
  for (const unsigned shift : {24U, 16U, 8U, 0U}) {
    plain.push_back(static_cast<unsigned char>((length >> shift) & 0xFFU));
  }
  plain.insert(plain.end(), message.begin(), message.end());
  plain.insert(plain.end(), corp_id.begin(), corp_id.end());
  const std::size_t pad = kPadBlockBytes - plain.size() % kPadBlockBytes;
  plain.insert(plain.end(), pad, static_cast<unsigned char>(pad));
  return base64_encode(aes_cbc(key_, plain.data(), plain.size(), true));
}

}  // namespace crm::host
