// MIME structure, headers, addresses, dates and transfer encodings are
// GMime's: it finds boundaries at line starts only, parses quoted and RFC 2231
// parameters, reads a multipart whose closing boundary is missing as mail
// clients do, and decodes RFC 2047 words that split a character between them.
// What stays here: the choice of the text to search (first text/plain, else
// text/html turned into text), charset conversion with GB18030 standing in for
// GB2312/GBK (mail labelled gb2312 often holds GBK characters), and HTML to
// text, which GMime does not do.
#include "mime.hpp"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <gmime/gmime.h>
#include <memory>
#include <utility>

#include "plugin_support/text.hpp"

namespace crm::connectors {
namespace {

using plugin_support::ascii_lower;

// GMime keeps process-wide tables (charsets, iconv cache) set up by
// g_mime_init; the plugin may be entered from several threads and is never
// unloaded, so it initialises once and never shuts GMime down.
GMimeParserOptions* parser_options() {
  static GMimeParserOptions* const options = [] {
    g_mime_init();
    GMimeParserOptions* created = g_mime_parser_options_new();
    g_mime_parser_options_set_rfc2047_compliance_mode(created, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(created, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(created, GMIME_RFC_COMPLIANCE_LOOSE);
    // Undeclared 8-bit header text: UTF-8 when it is, else the Chinese superset, else Latin-1.
    static const char* fallback_charsets[] = {"UTF-8", "GB18030", "windows-1252", nullptr};
    g_mime_parser_options_set_fallback_charsets(created, fallback_charsets);
    return created;
  }();
  return options;
}

struct ObjectUnref {
  void operator()(void* object) const { g_object_unref(object); }
};
template <class T>
using GObjectPtr = std::unique_ptr<T, ObjectUnref>;

struct GFree {
  void operator()(void* memory) const { g_free(memory); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// "=?gb2312?B?...?=" -> "=?GB18030?B?...?=", for the same reason as in to_utf8.
std::string widen_chinese_charsets(std::string_view value) {
  std::string result;
  std::size_t at = 0;
  while (at < value.size()) {
    const std::size_t start = value.find("=?", at);
    if (start == std::string_view::npos) {
      break;
    }
    const std::size_t charset_end = value.find_first_of("?*", start + 2);
    if (charset_end == std::string_view::npos) {
      break;
    }
    const std::string charset = ascii_lower(value.substr(start + 2, charset_end - start - 2));
    result.append(value.substr(at, start + 2 - at));
    result.append(charset == "gb2312" || charset == "gbk" ? "GB18030"
                                                          : value.substr(start + 2, charset_end - start - 2));
    at = charset_end;
  }
  result.append(value.substr(std::min(at, value.size())));
  return result;
}

// Each encoded word's charset must be one iconv knows, or the word's text is lost.
void check_encoded_word_charsets(std::string_view value) {
  std::size_t at = 0;
  while ((at = value.find("=?", at)) != std::string_view::npos) {
    const std::size_t charset_end = value.find('?', at + 2);
    if (charset_end == std::string_view::npos || charset_end + 2 >= value.size() || value[charset_end + 2] != '?') {
      at += 2;
      continue;
    }
    std::string charset(value.substr(at + 2, charset_end - at - 2));
    if (const std::size_t star = charset.find('*'); star != std::string::npos) {
      charset.resize(star);  // RFC 2231 language
    }
    const iconv_t converter = g_mime_iconv_open("UTF-8", charset.c_str());
    if (converter == reinterpret_cast<iconv_t>(-1)) {  // NOLINT(performance-no-int-to-ptr)
      throw MimeError("unknown charset " + charset);
    }
    g_mime_iconv_close(converter);
    at = charset_end + 1;
  }
}

std::string decode_words(std::string_view value) {
  const std::string widened = widen_chinese_charsets(value);
  const GCharPtr decoded(g_mime_utils_header_decode_text(parser_options(), widened.c_str()));
  return decoded ? std::string(decoded.get()) : std::string();
}

// A header's value as sent, unfolded; "" when absent.
std::string raw_header(GMimeObject* object, const char* name) {
  GMimeHeader* header = g_mime_header_list_get_header(g_mime_object_get_header_list(object), name);
  const char* raw = header == nullptr ? nullptr : g_mime_header_get_raw_value(header);
  if (raw == nullptr) {
    return {};
  }
  std::string unfolded;
  for (const char* c = raw; *c != '\0'; ++c) {
    if (*c != '\r' && *c != '\n') unfolded.push_back(*c);
  }
  return std::string(trim(unfolded));
}

void add_addresses(InternetAddressList* list, std::vector<MailAddress>& out, int depth = 0) {
  if (list == nullptr || depth > 4) {
    return;
  }
  const int count = internet_address_list_length(list);
  for (int i = 0; i < count; ++i) {
    InternetAddress* entry = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(entry)) {
      add_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(entry)), out, depth + 1);
      continue;
    }
    if (!INTERNET_ADDRESS_IS_MAILBOX(entry)) {
      continue;
    }
    const char* address = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(entry));
    const char* name = internet_address_get_name(entry);
    MailAddress parsed;
    parsed.address = ascii_lower(trim(address == nullptr ? "" : address));
    parsed.name = name == nullptr ? std::string() : std::string(trim(name));
    if (parsed.address.find('@') != std::string::npos) {
      out.push_back(std::move(parsed));
    }
  }
}

std::string part_bytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) {
    return {};
  }
  const GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, stream.get()) < 0) {
    throw MimeError("a text part cannot be decoded");
  }
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);  // NOLINT
}

// The first text/plain part that is not an attachment (depth-first), or with
// want_html the first text/html; nullopt if there is none.
std::optional<std::string> find_text(GMimeObject* object, int depth, bool want_html) {
  if (object == nullptr) {
    return std::nullopt;
  }
  if (depth > 20) {
    throw MimeError("MIME parts nested more than 20 deep");
  }
  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    const int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) {
      if (auto text = find_text(g_mime_multipart_get_part(multipart, i), depth + 1, want_html)) {
        return text;
      }
    }
    return std::nullopt;
  }
  if (!GMIME_IS_PART(object)) {
    return std::nullopt;  // an attached message/rfc822 is somebody else's text
  }
  if (const char* disposition = g_mime_object_get_disposition(object);
      disposition != nullptr && g_ascii_strcasecmp(disposition, "attachment") == 0) {
    return std::nullopt;
  }
  GMimeContentType* type = g_mime_object_get_content_type(object);
  const bool is_plain = type == nullptr || g_mime_content_type_is_type(type, "text", "plain");
  const bool is_html = type != nullptr && g_mime_content_type_is_type(type, "text", "html");
  if (!(is_plain || (want_html && is_html))) {
    return std::nullopt;
  }
  const char* charset = type == nullptr ? nullptr : g_mime_content_type_get_parameter(type, "charset");
  std::string text = to_utf8(part_bytes(GMIME_PART(object)), charset == nullptr ? "us-ascii" : charset);
  return is_html ? html_to_text(text) : text;
}

// ---- HTML to text -------------------------------------------------------

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point == 0 || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    code_point = 0xFFFD;
  }
  // Invisible in a browser, and they would split a keyword: dropped.
  if (code_point == 0xAD || (code_point >= 0x200B && code_point <= 0x200D) || code_point == 0x2060 ||
      code_point == 0xFEFF) {
    return;
  }
  if (code_point == 0xA0) {
    code_point = ' ';
  }
  char buffer[6] = {};
  const int length = g_unichar_to_utf8(code_point, buffer);
  out.append(buffer, static_cast<std::size_t>(length));
}

struct NamedEntity {
  std::string_view name;
  std::uint32_t code_point;
};

// HTML's named character references that mail writers use; the rest of
// HTML5's 2,000 are mathematics and rare letters, left as written.
constexpr std::array<NamedEntity, 109> kNamedEntities = {{
    {"AElig", 0xC6},    {"Aacute", 0xC1},   {"Agrave", 0xC0},  {"Auml", 0xC4},    {"Ccedil", 0xC7},
    {"Eacute", 0xC9},   {"Egrave", 0xC8},   {"Iacute", 0xCD},  {"Ntilde", 0xD1},  {"Oacute", 0xD3},
    {"Ouml", 0xD6},     {"Oslash", 0xD8},   {"Uacute", 0xDA},  {"Uuml", 0xDC},    {"aacute", 0xE1},
    {"acirc", 0xE2},    {"acute", 0xB4},    {"aelig", 0xE6},   {"agrave", 0xE0},  {"amp", '&'},
    {"apos", '\''},     {"aring", 0xE5},    {"atilde", 0xE3},  {"auml", 0xE4},    {"bdquo", 0x201E},
    {"brvbar", 0xA6},   {"bull", 0x2022},   {"ccedil", 0xE7},  {"cedil", 0xB8},   {"cent", 0xA2},
    {"colon", ':'},     {"comma", ','},     {"copy", 0xA9},    {"curren", 0xA4},  {"dagger", 0x2020},
    {"deg", 0xB0},      {"divide", 0xF7},   {"eacute", 0xE9},  {"ecirc", 0xEA},   {"egrave", 0xE8},
    {"emsp", 0x2003},   {"ensp", 0x2002},   {"euml", 0xEB},    {"euro", 0x20AC},  {"excl", '!'},
    {"frac12", 0xBD},   {"frac14", 0xBC},   {"frac34", 0xBE},  {"gt", '>'},       {"hellip", 0x2026},
    {"iacute", 0xED},   {"icirc", 0xEE},    {"iexcl", 0xA1},   {"igrave", 0xEC},  {"iquest", 0xBF},
    {"iuml", 0xEF},     {"laquo", 0xAB},    {"ldquo", 0x201C}, {"lrm", 0x200E},   {"lsaquo", 0x2039},
    {"lsquo", 0x2018},  {"lt", '<'},        {"macr", 0xAF},    {"mdash", 0x2014}, {"micro", 0xB5},
    {"middot", 0xB7},   {"minus", 0x2212},  {"nbsp", 0xA0},    {"ndash", 0x2013}, {"not", 0xAC},
    {"ntilde", 0xF1},   {"oacute", 0xF3},   {"ocirc", 0xF4},   {"ograve", 0xF2},  {"ordf", 0xAA},
    {"ordm", 0xBA},     {"oslash", 0xF8},   {"otilde", 0xF5},  {"ouml", 0xF6},    {"para", 0xB6},
    {"period", '.'},    {"permil", 0x2030}, {"plusmn", 0xB1},  {"pound", 0xA3},   {"quest", '?'},
    {"quot", '"'},      {"raquo", 0xBB},    {"rdquo", 0x201D}, {"reg", 0xAE},     {"rlm", 0x200F},
    {"rsaquo", 0x203A}, {"rsquo", 0x2019},  {"sbquo", 0x201A}, {"sect", 0xA7},    {"semi", ';'},
    {"shy", 0xAD},      {"sup1", 0xB9},     {"sup2", 0xB2},    {"sup3", 0xB3},    {"szlig", 0xDF},
    {"thinsp", 0x2009}, {"times", 0xD7},    {"trade", 0x2122}, {"uacute", 0xFA},  {"ucirc", 0xFB},
    {"ugrave", 0xF9},   {"uml", 0xA8},      {"uuml", 0xFC},    {"yen", 0xA5},
}};

// HTML maps numeric references 128-159 to Windows-1252, as browsers do.
constexpr std::array<std::uint16_t, 32> kWindows1252 = {0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021,
                                                        0x2C6,  0x2030, 0x160,  0x2039, 0x152,  0x8D,   0x17D,  0x8F,
                                                        0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                                        0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};

// Decodes the character reference at html[at] == '&'; returns the bytes consumed (0: not one).
std::size_t decode_entity(std::string_view html, std::size_t at, std::string& out) {
  const std::size_t semicolon = html.find(';', at + 1);
  if (semicolon == std::string_view::npos || semicolon - at > 32) {
    return 0;
  }
  const std::string_view name = html.substr(at + 1, semicolon - at - 1);
  if (name.size() >= 2 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    const std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty() || digits.size() > 8) {
      return 0;
    }
    std::uint32_t code_point = 0;
    for (const char c : digits) {
      const int value = hex ? g_ascii_xdigit_value(c) : g_ascii_digit_value(c);
      if (value < 0) {
        return 0;
      }
      code_point = code_point * (hex ? 16U : 10U) + static_cast<std::uint32_t>(value);
    }
    if (code_point >= 0x80 && code_point <= 0x9F) {
      code_point = kWindows1252.at(code_point - 0x80);
    }
    append_utf8(out, code_point);
    return semicolon - at + 1;
  }
  for (const NamedEntity& entity : kNamedEntities) {
    if (entity.name == name) {
      append_utf8(out, entity.code_point);
      return semicolon - at + 1;
    }
  }
  return 0;
}

bool starts_with_tag(std::string_view html, std::size_t at, std::string_view name) {
  if (at + name.size() > html.size()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(html[at + i])) != name[i]) {
      return false;
    }
  }
  const std::size_t after = at + name.size();
  return after == html.size() || !std::isalnum(static_cast<unsigned char>(html[after]));
}

// Where the tag opened at html[at] == '<' ends (after its '>'), skipping quoted attribute values.
std::size_t tag_end(std::string_view html, std::size_t at) {
  char quote = 0;
  for (std::size_t i = at + 1; i < html.size(); ++i) {
    if (quote != 0) {
      if (html[i] == quote) quote = 0;
    } else if (html[i] == '"' || html[i] == '\'') {
      quote = html[i];
    } else if (html[i] == '>') {
      return i + 1;
    }
  }
  return html.size();
}

bool is_line_breaking_tag(std::string_view html, std::size_t name_at) {
  static constexpr std::array<std::string_view, 13> kBlocks = {"br", "p",  "div", "li", "tr",         "h1",   "h2",
                                                               "h3", "h4", "h5",  "h6", "blockquote", "table"};
  return std::any_of(kBlocks.begin(), kBlocks.end(),
                     [&](std::string_view name) { return starts_with_tag(html, name_at, name); });
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string text;
  bool pending_space = false;
  std::size_t at = 0;
  const auto flush_space = [&] {
    if (pending_space && !text.empty() && text.back() != '\n') text.push_back(' ');
    pending_space = false;
  };
  while (at < html.size()) {
    const char c = html[at];
    if (c == '<') {
      if (html.substr(at, 4) == "<!--") {
        const std::size_t close = html.find("-->", at + 4);
        at = close == std::string_view::npos ? html.size() : close + 3;
        continue;
      }
      const bool closing = at + 1 < html.size() && html[at + 1] == '/';
      const std::size_t name_at = at + (closing ? 2 : 1);
      if (!closing && (starts_with_tag(html, name_at, "script") || starts_with_tag(html, name_at, "style"))) {
        const std::string end_tag = starts_with_tag(html, name_at, "script") ? "</script" : "</style";
        std::size_t close = tag_end(html, at);
        while (close < html.size() && !(html[close] == '<' && starts_with_tag(html, close, end_tag))) ++close;
        at = close < html.size() ? tag_end(html, close) : html.size();
        continue;
      }
      if (is_line_breaking_tag(html, name_at)) {
        if (!text.empty() && text.back() != '\n') text.push_back('\n');
        pending_space = false;
      }
      at = tag_end(html, at);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = true;
      ++at;
      continue;
    }
    flush_space();
    if (c == '&') {
      if (const std::size_t used = decode_entity(html, at, text); used != 0) {
        at += used;
        continue;
      }
    }
    text.push_back(c);
    ++at;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string to_utf8(std::string_view text, std::string_view charset) {
  parser_options();  // g_mime_iconv_open needs the charset map and iconv cache of g_mime_init
  std::string name = ascii_lower(charset);
  if (name.empty() || name == "us-ascii" || name == "ascii" || name == "utf-8" || name == "utf8") {
    name = "UTF-8";  // checked below like any other charset
  } else if (name == "gb2312" || name == "gbk") {
    name = "GB18030";  // a superset: mail labelled gb2312 often holds GBK characters
  }
  const iconv_t converter = g_mime_iconv_open("UTF-8", name.c_str());
  if (converter == reinterpret_cast<iconv_t>(-1)) {  // NOLINT(performance-no-int-to-ptr)
    throw MimeError("unknown charset " + std::string(charset));
  }
  std::unique_ptr<void, int (*)(iconv_t)> closer(converter, &g_mime_iconv_close);
  std::string input(text);
  std::string output(input.size() * 4 + 16, '\0');
  char* in = input.data();
  std::size_t in_left = input.size();
  char* out = output.data();
  std::size_t out_left = output.size();
  if (iconv(converter, &in, &in_left, &out, &out_left) == static_cast<std::size_t>(-1)) {
    throw MimeError("text is not valid " + std::string(charset));
  }
  output.resize(output.size() - out_left);
  return output;
}

namespace {

std::string decode_transfer(std::string_view text, GMimeContentEncoding encoding) {
  parser_options();
  GMimeEncoding state{};
  g_mime_encoding_init_decode(&state, encoding);
  std::string decoded(g_mime_encoding_outlen(&state, text.size()) + 16, '\0');
  const std::size_t length = g_mime_encoding_flush(&state, text.data(), text.size(), decoded.data());
  decoded.resize(length);
  return decoded;
}

}  // namespace

std::string decode_base64(std::string_view text) {
  return decode_transfer(text, GMIME_CONTENT_ENCODING_BASE64);
}

std::string decode_quoted_printable(std::string_view text, bool header_variant) {
  if (!header_variant) {
    return decode_transfer(text, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  }
  std::string spaced(text);
  std::replace(spaced.begin(), spaced.end(), '_', ' ');  // "=5F" still decodes to '_'
  return decode_transfer(spaced, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
}

std::string decode_header_words(std::string_view value) {
  parser_options();
  check_encoded_word_charsets(value);
  return decode_words(value);
}

std::vector<MailAddress> parse_address_list(std::string_view value) {
  const std::string widened = widen_chinese_charsets(value);
  const GObjectPtr<InternetAddressList> list(internet_address_list_parse(parser_options(), widened.c_str()));
  std::vector<MailAddress> addresses;
  add_addresses(list.get(), addresses);
  return addresses;
}

std::optional<std::int64_t> parse_rfc5322_date(std::string_view value) {
  parser_options();
  const std::string text(trim(value));
  GDateTime* parsed = g_mime_utils_header_decode_date(text.c_str());
  if (parsed == nullptr) {
    return std::nullopt;
  }
  const std::int64_t ms = g_date_time_to_unix(parsed) * 1000;
  g_date_time_unref(parsed);
  return ms;
}

MailMessage parse_message(std::string_view raw) {
  GMimeParserOptions* options = parser_options();
  const GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  const GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  const GObjectPtr<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), options));
  if (!parsed) {
    throw MimeError("not a mail message (no header block)");
  }
  GMimeObject* top = GMIME_OBJECT(parsed.get());
  MailMessage message;
  message.message_id = raw_header(top, "Message-ID");
  const auto from = parse_address_list(raw_header(top, "From"));
  if (from.empty()) {
    throw MimeError("the message has no From address");
  }
  message.from = from.front();
  for (const char* name : {"To", "Cc"}) {
    for (MailAddress& address : parse_address_list(raw_header(top, name))) {
      message.recipients.push_back(std::move(address));
    }
  }
  message.subject = decode_words(raw_header(top, "Subject"));
  message.date_ms = parse_rfc5322_date(raw_header(top, "Date"));
  GMimeObject* body = g_mime_message_get_mime_part(parsed.get());
  std::optional<std::string> text = find_text(body, 0, false);
  if (!text) {
    text = find_text(body, 0, true);
  }
  message.text = text.value_or("");
  return message;
}

}  // namespace crm::connectors
