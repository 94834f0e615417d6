#include "mime.hpp"

#include <glib.h>

#include <gtest/gtest.h>

namespace crm::connectors {
namespace {

// to_utf8 is public: called before anything else has set GMime up, it must
// initialise it itself. The check runs in a fresh process (a re-executed
// death-test child) so that no earlier test has initialised GMime; GLib's
// critical warnings (a NULL hash table: the charset map and iconv cache that
// g_mime_init makes) abort it.
TEST(Mime, ToUtf8WorksAsTheFirstGMimeCallOfAProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        g_log_set_always_fatal(static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
        const bool converted = to_utf8("\xB2\xBB\xC2\xFA\xD2\xE2", "gbk") == "不满意";
        std::exit(converted ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

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
  EXPECT_EQ(message.text, "Sorry — fixed");  // the line end before a boundary belongs to it (RFC 2046 5.1.1)
  EXPECT_THROW(parse_message("Subject: no sender\r\n\r\nbody"), MimeError);
}

const std::string kHead = "From: Anna Berg <anna@acme.example>\r\nTo: sales@ourco.example\r\nSubject: s\r\n";

TEST(Mime, ABoundaryCountsOnlyAtTheStartOfALine) {
  const MailMessage message = parse_message(kHead +
                                            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                                            "--b1\r\nContent-Type: text/plain\r\n\r\n"
                                            "the log says: retry--b1 failed; see --b1 above\r\n--b1--\r\n");
  EXPECT_EQ(message.text, "the log says: retry--b1 failed; see --b1 above");
}

TEST(Mime, ASemicolonInsideAQuotedParameterIsPartOfIt) {
  const MailMessage message =
      parse_message(kHead +
                    "Content-Type: multipart/alternative; boundary=\"=_a;b\"; report-type=x\r\n\r\n"
                    "--=_a;b\r\nContent-Type: text/plain; name=\"x;charset=latin1\"; charset=gbk\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\nztLDx7bUvbu79brcsrvC+tLioaM=\r\n--=_a;b--\r\n");
  EXPECT_EQ(message.text, "我们对交货很不满意。");
}

TEST(Mime, Rfc2231ParametersAreRead) {
  // A boundary in continuations, a charset as an extended value.
  const MailMessage message =
      parse_message(kHead +
                    "Content-Type: multipart/mixed;\r\n boundary*0=\"next\";\r\n boundary*1=\"-part\"\r\n\r\n"
                    "--next-part\r\nContent-Type: text/plain; charset*=''GBK\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\nztLDx7bUvbu79brcsrvC+tLioaM=\r\n--next-part--\r\n");
  EXPECT_EQ(message.text, "我们对交货很不满意。");
}

TEST(Mime, AMultipartWithoutItsClosingBoundaryIsReadAsMailClientsShowIt) {
  const MailMessage message =
      parse_message(kHead +
                    "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n"
                    "I want a refund, the end never comes\r\n");
  EXPECT_EQ(message.text, "I want a refund, the end never comes\r\n");
}

TEST(Mime, HtmlOnlyMailBecomesTextWithEntitiesDecoded) {
  // Chinese written as numeric references, decimal and hexadecimal.
  MailMessage message = parse_message(kHead +
                                      "Content-Type: text/html; charset=utf-8\r\n\r\n"
                                      "<html><head><style>p{color:red}</style><script>var x = '<p>';</script></head>"
                                      "<body><p>&#25237;&#35785;&#65306;&#x9000;&#x6B3E;</p></body></html>\r\n");
  EXPECT_EQ(message.text, "投诉：退款");
  // English with named references, one of them inside a word (a soft hyphen).
  message = parse_message(kHead +
                          "Content-Type: text/html\r\n\r\n"
                          "<div>This is un&shy;acceptable&nbsp;&mdash; a formal com&shy;plaint.<br>"
                          "Fish &amp; chips &lt;b&gt; &eacute;t&eacute; &#8217;s &#146;s &bogus; &amp</div>");
  EXPECT_EQ(message.text, "This is unacceptable — a formal complaint.\nFish & chips <b> été ’s ’s &bogus; &amp");
  EXPECT_EQ(html_to_text("<a title=\"a>b\">link</a> <!-- <p>hidden</p> --> tail\n <SCRIPT>x<y</SCRIPT>end"),
            "link tail end");
}

TEST(Mime, ATextPlainAttachmentIsNotTheMessageText) {
  const MailMessage message = parse_message(kHead +
                                            "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                                            "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; "
                                            "filename=log.txt\r\n\r\nlog\r\n"
                                            "--b\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--b--\r\n");
  EXPECT_EQ(message.text, "hello");
}

}  // namespace
}  // namespace crm::connectors
