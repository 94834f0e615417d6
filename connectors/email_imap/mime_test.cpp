#include "mime.hpp"

#include <gtest/gtest.h>

namespace crm::connectors {
namespace {

TEST(Mime, DecodesEncodedWordsInUtf8AndGbk) {
  EXPECT_EQ(decode_header_words("=?UTF-8?B?5oqV6K+J?= late delivery"), "投诉 late delivery");
  EXPECT_EQ(decode_header_words("=?GBK?B?srvC+tLitcS3/s7x?="), "不满意的服务");
  EXPECT_EQ(decode_header_words("=?utf-8?q?caf=C3=A9_au_lait?= =?utf-8?q?_ok?="), "café au lait ok");
  EXPECT_EQ(decode_header_words("plain subject"), "plain subject");
  EXPECT_THROW(decode_header_words("=?x-no-such-charset?B?YQ==?="), MimeError);
}

TEST(Mime, AddressesDatesAndBodies) {
  const auto addresses = parse_address_list(R"("Berg, Anna" <Anna@Acme.example>, li@huadong.example)");
  ASSERT_EQ(addresses.size(), 2U);
  EXPECT_EQ(addresses[0].name, "Berg, Anna");
  EXPECT_EQ(addresses[0].address, "anna@acme.example");
  EXPECT_EQ(addresses[1].address, "li@huadong.example");
  EXPECT_EQ(parse_rfc5322_date("Tue, 01 Dec 2026 10:00:00 +0800"), 1'796'090'400'000);
  EXPECT_EQ(parse_rfc5322_date("1 Dec 2026 02:00:00 GMT"), 1'796'090'400'000);
  EXPECT_EQ(parse_rfc5322_date("yesterday"), std::nullopt);
  EXPECT_EQ(decode_quoted_printable("Sorry =E2=80=94 we=\r\n will fix it", false), "Sorry — we will fix it");
  EXPECT_EQ(decode_base64("ztLDx7bUvbu79brcsrvC+tLioaM="),
            std::string("\xCE\xD2\xC3\xC7\xB6\xD4\xBD\xBB\xBB\xF5\xBA\xDC"
                        "\xB2\xBB\xC2\xFA\xD2\xE2\xA1\xA3"));
}

TEST(Mime, FindsTheTextPartOfAMultipartMessage) {
  const MailMessage message = parse_message(
      "From: sales@ourco.example\r\nTo: anna@acme.example\r\nSubject: Re: delivery\r\nMessage-ID: <r1@ourco>\r\n"
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n"
      "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Sorry =E2=80=94 fixed\r\n--b1--\r\n");
  EXPECT_EQ(message.message_id, "<r1@ourco>");
  EXPECT_EQ(message.text, "Sorry — fixed\r\n");
  EXPECT_THROW(parse_message("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
                             "Content-Type: text/plain\r\n\r\nno end"),
               MimeError);
  EXPECT_THROW(parse_message("Subject: no sender\r\n\r\nbody"), MimeError);
}

}  // namespace
}  // namespace crm::connectors
