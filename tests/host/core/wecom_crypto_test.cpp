#include "core/wecom_crypto.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

// The example of WeCom's own documentation of the callback scheme (URL verification).
constexpr const char* kToken = "QDG6eK";
constexpr const char* kCorpId = "wx5823bf96d3bd56c7";
constexpr const char* kAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
constexpr const char* kDocEchostr =
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";

// Made by tests/doubles/wecom_double.py: callback_encrypt(kAesKey, kEventXml, kCorpId, bytes(range(16))) and
// callback_signature(kToken, "1700000000", "nonce42", that text).
constexpr const char* kEventXml =
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_"
    "contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
    "<ExternalUserID><![CDATA[wmABC]]></ExternalUserID></xml>";
constexpr const char* kDoubleEncrypted =
    "JVwoIzeb5XuqKIT2XqjnoEgLDvtp5xFVXWIinwHpLFCMvEVBDZB8cTltnCAopFjPN3vyIplZqNU5GZW27HtYKcxAPZ9kkePIXaPH4WfRecOVjNBO"
    "m2YepTSsuRoz2/qFMo1g5nMZXGANK+kMqY00xkTv4Xg/egha21ouOgyfqVSaCbgU2/0NRxlWevoqrNsCeKUjfFd93iRscA5wMlyxoohBwffxlrc"
    "xafLcGPVpfX4dpsRadzDvWCAMtpfNqo20Pv76Jr56w9znttinERLJNb5l1IUY/FJutsmnVOdBeDW75+3ucUCE271xLtkLUMsefYdjz2UYNgOO+KJB"
    "y6Fs36iZkveCt+jpGTpQ5M9UKORqk9cdO3bKvewfr3sGNAnal+xfKehFu4vHbVV1VXIPfJiB0G2i04vvd65Qm3+14DpwM1L1lPVf02nwy8AVR1qB"
    "1s98r1Ks1h05vD/uYngNCgQu392w0m6Mq3EnpQs0a8ZRhh8pYprsiyKWyFdR7NSR9dlcuFRn15NiGcHzHtIYmoWpLoGgrPPWjbZnKhljZG8=";
constexpr const char* kDoubleSignature = "21b6997e97134b151d9b3a540d69ab5a02e2a93a";

std::array<std::uint8_t, 16> counting_prefix() {
  std::array<std::uint8_t, 16> prefix{};
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    prefix[i] = static_cast<std::uint8_t>(i);
  }
  return prefix;
}

TEST(WecomCrypto, VerifiesAndDecryptsTheDocumentationsExample) {
  const WecomCrypto crypto(kToken, kAesKey);
  EXPECT_EQ(crypto.signature("1409659589", "263014780", kDocEchostr), "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3");
  EXPECT_TRUE(crypto.verify("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", kDocEchostr));
  EXPECT_TRUE(crypto.verify("5C45FF5E21C57E6AD56BAC8758B79B1D9AC89FD3", "1409659589", "263014780", kDocEchostr));
  const WecomCrypto::Plain plain = crypto.decrypt(kDocEchostr);
  EXPECT_EQ(plain.message, "1616140317555161061");
  EXPECT_EQ(plain.corp_id, kCorpId);
}

TEST(WecomCrypto, DecryptsWhatTheDoubleEncrypted) {
  const WecomCrypto crypto(kToken, kAesKey);
  EXPECT_TRUE(crypto.verify(kDoubleSignature, "1700000000", "nonce42", kDoubleEncrypted));
  const WecomCrypto::Plain plain = crypto.decrypt(kDoubleEncrypted);
  EXPECT_EQ(plain.message, kEventXml);
  EXPECT_EQ(plain.corp_id, kCorpId);
}

TEST(WecomCrypto, EncryptsByteForByteAsTheDoubleDoes) {
  // The same 16 leading bytes give the double's exact text: what C++ encrypts, the double (and WeCom's samples) read.
  const WecomCrypto crypto(kToken, kAesKey);
  EXPECT_EQ(crypto.encrypt(kEventXml, kCorpId, counting_prefix()), kDoubleEncrypted);
  EXPECT_EQ(crypto.encrypt("", kCorpId, std::array<std::uint8_t, 16>{}),
            "dfcu7pOxWg63TnYmNfybOm6odMOmt625OnLKMya0Z5G9P+pauwjXFb+g4rVNwi5gENxe/VBVWv/tTPcPPERrng==");
}

TEST(WecomCrypto, RoundTripsEveryPaddingLength) {
  const WecomCrypto crypto(kToken, kAesKey);
  for (std::size_t size = 0; size <= 70; ++size) {
    const std::string message(size, 'x');
    const std::string encrypted = crypto.encrypt(message, kCorpId);
    const WecomCrypto::Plain plain = crypto.decrypt(encrypted);
    EXPECT_EQ(plain.message, message) << size;
    EXPECT_EQ(plain.corp_id, kCorpId) << size;
  }
  // Random leading bytes: two encryptions of one message differ.
  EXPECT_NE(crypto.encrypt("same", kCorpId), crypto.encrypt("same", kCorpId));
}

TEST(WecomCrypto, RefusesWhatDoesNotDecrypt) {
  const WecomCrypto crypto(kToken, kAesKey);
  const WecomCrypto other(kToken, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
  EXPECT_THROW((void)crypto.decrypt("not base64!"), WecomCryptoError);
  EXPECT_THROW((void)crypto.decrypt(""), WecomCryptoError);
  EXPECT_THROW((void)crypto.decrypt("YWJj"), WecomCryptoError);  // 3 bytes: not whole blocks
  EXPECT_THROW((void)other.decrypt(other.encrypt("x", kCorpId).substr(0, 20) + "===="), WecomCryptoError);
  // Another key: the padding does not check out.
  EXPECT_THROW((void)crypto.decrypt(other.encrypt(kEventXml, kCorpId, std::array<std::uint8_t, 16>{})),
               WecomCryptoError);
}

TEST(WecomCrypto, RefusesAKeyThatIsNotOne) {
  EXPECT_THROW(WecomCrypto(kToken, "short"), WecomCryptoError);
  EXPECT_THROW(WecomCrypto(kToken, std::string(42, 'a') + "!"), WecomCryptoError);
  try {
    const WecomCrypto crypto(kToken, std::string(42, 'a') + "!");
  } catch (const WecomCryptoError& e) {
    EXPECT_EQ(std::string(e.what()).find("aaaa"), std::string::npos) << "the key must not be in the message";
  }
}

TEST(WecomCrypto, SignatureChecksEveryPart) {
  const WecomCrypto crypto(kToken, kAesKey);
  const std::string good = crypto.signature("1700000000", "n", "text");
  EXPECT_TRUE(crypto.verify(good, "1700000000", "n", "text"));
  EXPECT_FALSE(crypto.verify(good, "1700000001", "n", "text"));
  EXPECT_FALSE(crypto.verify(good, "1700000000", "m", "text"));
  EXPECT_FALSE(crypto.verify(good, "1700000000", "n", "texT"));
  EXPECT_FALSE(WecomCrypto("QDG6eL", kAesKey).verify(good, "1700000000", "n", "text"));
  EXPECT_FALSE(crypto.verify(good.substr(0, 39), "1700000000", "n", "text"));
  EXPECT_FALSE(crypto.verify("", "1700000000", "n", "text"));
}

TEST(WecomCrypto, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace crm::host
