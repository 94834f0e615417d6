#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crm::host {

// A callback that does not decrypt: not base64, a bad length, bad padding, a
// length field past the end. The message says which, never the key or the text.
class WecomCryptoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The message scheme of WeCom's encrypted callbacks (the official
// WXBizMsgCrypt samples; ../shared/wecom-api.md section 4):
//   signature  = hex SHA-1 of the sorted concatenation of token, timestamp, nonce, encrypted text;
//   key        = base64-decode(EncodingAESKey + "="), 32 bytes; IV = its first 16 bytes;
//   ciphertext = base64(AES-256-CBC(16 random bytes + 4-byte big-endian length + message + corp id)),
//                PKCS#7-padded to 32-byte blocks.
// Holds the token and the key (secrets: never logged, never in a message). Immutable after
// construction: any number of threads may call it at once.
class WecomCrypto {
 public:
  // Throws WecomCryptoError when `encoding_aes_key` is not 43 characters of base64 making 32 bytes.
  WecomCrypto(std::string token, std::string_view encoding_aes_key);

  // The msg_signature WeCom sends with `encrypted` (the <Encrypt> text or the echostr).
  [[nodiscard]] std::string signature(std::string_view timestamp, std::string_view nonce,
                                      std::string_view encrypted) const;
  // Whether `msg_signature` is that signature, compared in constant time (hex case ignored).
  [[nodiscard]] bool verify(std::string_view msg_signature, std::string_view timestamp, std::string_view nonce,
                            std::string_view encrypted) const;

  struct Plain {
    std::string message;  // the XML of the event, or the echostr's plaintext
    std::string corp_id;  // the receiver id that closes the plaintext: the caller checks it
  };
  // Decrypts base64 `encrypted`; throws WecomCryptoError when it does not decrypt to the scheme's shape.
  [[nodiscard]] Plain decrypt(std::string_view encrypted) const;
  // Encrypts `message` for `corp_id` with the 16 leading bytes given (tests and known vectors) or random.
  [[nodiscard]] std::string encrypt(std::string_view message, std::string_view corp_id,
                                    const std::optional<std::array<std::uint8_t, 16>>& random_prefix = {}) const;

 private:
  std::string token_;
  std::array<std::uint8_t, 32> key_{};
};

// Constant-time equality of two byte strings (the time depends on the lengths only).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace crm::host
