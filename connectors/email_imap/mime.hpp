#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crm::connectors {

struct MailAddress {
  std::string name;     // decoded display name, may be empty
  std::string address;  // lower case
};

// What the connector needs of one RFC 5322 message, decoded to UTF-8.
struct MailMessage {
  std::string message_id;
  MailAddress from;
  std::vector<MailAddress> recipients;  // To and Cc
  std::string subject;
  std::optional<std::int64_t> date_ms;
  std::string text;  // the first text/plain part that is not an attachment, else the first text/html as text
};

// Thrown for a message that cannot be decoded (the connector quarantines it).
class MimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses with GMime 3: MIME structure, RFC 2231 parameters, RFC 2047 headers.
// A multipart whose closing boundary is missing is read as mail clients do.
// Thread-safe: GMime is initialised once, on first use.
MailMessage parse_message(std::string_view raw);

// Text of an HTML body: tags dropped (script and style with their content),
// named and numeric character references decoded, invisible soft hyphens and
// zero-width characters dropped, blocks and <br> as line breaks.
std::string html_to_text(std::string_view html);

// RFC 2047 encoded words (=?charset?B|Q?...?=) in a header value, to UTF-8;
// throws MimeError naming a charset iconv does not know.
std::string decode_header_words(std::string_view value);
// Converts text in `charset` to UTF-8 (iconv); throws MimeError when it cannot.
std::string to_utf8(std::string_view text, std::string_view charset);
std::string decode_base64(std::string_view text);
std::string decode_quoted_printable(std::string_view text, bool header_variant);
// "Tue, 01 Dec 2026 10:00:00 +0800" -> ms since the epoch, UTC.
std::optional<std::int64_t> parse_rfc5322_date(std::string_view value);
std::vector<MailAddress> parse_address_list(std::string_view value);

}  // namespace crm::connectors
