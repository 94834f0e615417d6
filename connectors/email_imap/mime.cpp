#include "mime.hpp"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "civil_time.hpp"

namespace crm::connectors {
namespace {

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(), [](unsigned char c) { return std::tolower(c); });
  return result;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

struct Part {
  std::map<std::string, std::string> headers;  // lower-case names, unfolded raw values
  std::string_view body;
};

// Splits headers from body and unfolds continuation lines.
Part split_part(std::string_view raw) {
  Part part;
  std::size_t at = 0;
  std::string name;
  while (at < raw.size()) {
    std::size_t end = raw.find('\n', at);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end + 1;
    if (line.empty()) {
      part.body = at <= raw.size() ? raw.substr(at) : std::string_view{};
      return part;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !name.empty()) {
      part.headers[name] += " " + std::string(trim(line));
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;  // not a header line; tolerated
    }
    name = lower(trim(line.substr(0, colon)));
    part.headers[name] = std::string(trim(line.substr(colon + 1)));
  }
  return part;
}

// "text/plain; charset=gbk" -> {"", "text/plain"}, {"charset", "gbk"}
std::map<std::string, std::string> parse_content_type(const std::string& value) {
  std::map<std::string, std::string> result;
  std::size_t at = 0;
  bool first = true;
  while (at <= value.size()) {
    std::size_t end = value.find(';', at);
    if (end == std::string::npos) end = value.size();
    const std::string_view piece = trim(std::string_view(value).substr(at, end - at));
    if (first) {
      result[""] = lower(piece);
      first = false;
    } else if (const std::size_t equals = piece.find('='); equals != std::string_view::npos) {
      std::string_view parameter = trim(piece.substr(equals + 1));
      if (parameter.size() >= 2 && parameter.front() == '"' && parameter.back() == '"') {
        parameter = parameter.substr(1, parameter.size() - 2);
      }
      result[lower(trim(piece.substr(0, equals)))] = std::string(parameter);
    }
    at = end + 1;
  }
  return result;
}

std::string decode_body(const Part& part) {
  const auto encoding = part.headers.find("content-transfer-encoding");
  const std::string kind = encoding == part.headers.end() ? "7bit" : lower(encoding->second);
  if (kind == "base64") return decode_base64(part.body);
  if (kind == "quoted-printable") return decode_quoted_printable(part.body, false);
  return std::string(part.body);
}

std::string strip_tags(std::string_view html) {
  std::string text;
  bool in_tag = false;
  for (const char c : html) {
    if (c == '<') {
      in_tag = true;
    } else if (c == '>') {
      in_tag = false;
    } else if (!in_tag) {
      text.push_back(c);
    }
  }
  return text;
}

// The first text/plain part (depth-first), else the first text/html; empty if none.
std::optional<std::string> find_text(const Part& part, int depth, bool want_html) {
  if (depth > 20) {
    throw MimeError("MIME parts nested more than 20 deep");
  }
  const auto header = part.headers.find("content-type");
  const auto type = parse_content_type(header == part.headers.end() ? "text/plain" : header->second);
  const std::string& mime_type = type.at("");
  if (mime_type.rfind("multipart/", 0) == 0) {
    const auto boundary = type.find("boundary");
    if (boundary == type.end() || boundary->second.empty()) {
      throw MimeError("a multipart part has no boundary");
    }
    const std::string delimiter = "--" + boundary->second;
    std::size_t at = part.body.find(delimiter);
    if (at == std::string_view::npos) {
      throw MimeError("the multipart boundary never occurs in the body");
    }
    while (true) {
      at += delimiter.size();
      if (part.body.substr(at, 2) == "--") {
        return std::nullopt;  // closing delimiter
      }
      const std::size_t next = part.body.find(delimiter, at);
      if (next == std::string_view::npos) {
        throw MimeError("a multipart body ends without its closing boundary");
      }
      std::string_view inner = part.body.substr(at, next - at);
      if (!inner.empty() && inner.front() == '\r') inner.remove_prefix(1);
      if (!inner.empty() && inner.front() == '\n') inner.remove_prefix(1);
      if (auto text = find_text(split_part(inner), depth + 1, want_html)) {
        return text;
      }
      at = next;
    }
  }
  const bool is_plain = mime_type == "text/plain";
  const bool is_html = mime_type == "text/html";
  if (!(is_plain || (want_html && is_html))) {
    return std::nullopt;
  }
  const auto charset = type.find("charset");
  std::string text = to_utf8(decode_body(part), charset == type.end() ? "us-ascii" : charset->second);
  return is_html ? strip_tags(text) : text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string to_utf8(std::string_view text, std::string_view charset) {
  std::string name = lower(charset);
  if (name.empty() || name == "us-ascii" || name == "ascii" || name == "utf-8" || name == "utf8") {
    name = "UTF-8";  // checked below like any other charset
  } else if (name == "gb2312" || name == "gbk") {
    name = "GB18030";  // a superset: mail labelled gb2312 often holds GBK characters
  }
  iconv_t converter = iconv_open("UTF-8", name.c_str());
  if (converter == reinterpret_cast<iconv_t>(-1)) {  // NOLINT(performance-no-int-to-ptr)
    throw MimeError("unknown charset " + std::string(charset));
  }
  std::unique_ptr<void, int (*)(iconv_t)> closer(converter, &iconv_close);
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

std::string decode_base64(std::string_view text) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string decoded;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=') break;
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    const std::size_t value = kAlphabet.find(c);
    if (value == std::string_view::npos) {
      throw MimeError("invalid base64");
    }
    buffer = (buffer << 6U) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  return decoded;
}

std::string decode_quoted_printable(std::string_view text, bool header_variant) {
  std::string decoded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (header_variant && c == '_') {
      decoded.push_back(' ');
    } else if (c == '=' && i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r')) {
      i += text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n' ? 2 : 1;  // soft line break
    } else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(c);
    }
  }
  return decoded;
}

std::string decode_header_words(std::string_view value) {
  std::string result;
  std::size_t at = 0;
  bool previous_was_word = false;
  while (at < value.size()) {
    const std::size_t start = value.find("=?", at);
    if (start == std::string_view::npos) {
      result.append(value.substr(at));
      break;
    }
    const std::size_t charset_end = value.find('?', start + 2);
    const std::size_t encoding_end =
        charset_end == std::string_view::npos ? charset_end : value.find('?', charset_end + 1);
    const std::size_t end = encoding_end == std::string_view::npos ? encoding_end : value.find("?=", encoding_end + 1);
    if (end == std::string_view::npos || encoding_end != charset_end + 2) {
      result.append(value.substr(at));
      break;
    }
    const std::string_view between = value.substr(at, start - at);
    // Whitespace between two encoded words is not part of the text (RFC 2047 section 6.2).
    if (!(previous_was_word && trim(between).empty())) {
      result.append(between);
    }
    std::string charset(value.substr(start + 2, charset_end - start - 2));
    if (const std::size_t star = charset.find('*'); star != std::string::npos) {
      charset.resize(star);  // RFC 2231 language
    }
    const char encoding = static_cast<char>(std::toupper(static_cast<unsigned char>(value[charset_end + 1])));
    const std::string_view payload = value.substr(encoding_end + 1, end - encoding_end - 1);
    const std::string bytes = encoding == 'B' ? decode_base64(payload) : decode_quoted_printable(payload, true);
    result += to_utf8(bytes, charset);
    previous_was_word = true;
    at = end + 2;
  }
  return result;
}

std::vector<MailAddress> parse_address_list(std::string_view value) {
  std::vector<MailAddress> addresses;
  std::size_t at = 0;
  bool quoted = false;
  std::size_t start = 0;
  const auto add = [&](std::string_view entry) {
    entry = trim(entry);
    if (entry.empty()) return;
    MailAddress address;
    const std::size_t open = entry.rfind('<');
    const std::size_t close = entry.rfind('>');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
      address.address = lower(trim(entry.substr(open + 1, close - open - 1)));
      std::string_view name = trim(entry.substr(0, open));
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
      address.name = decode_header_words(name);
    } else {
      address.address = lower(entry);
    }
    if (address.address.find('@') != std::string::npos) {
      addresses.push_back(std::move(address));
    }
  };
  for (; at < value.size(); ++at) {
    if (value[at] == '"') quoted = !quoted;
    if (value[at] == ',' && !quoted) {
      add(value.substr(start, at - start));
      start = at + 1;
    }
  }
  add(value.substr(start));
  return addresses;
}

std::optional<std::int64_t> parse_rfc5322_date(std::string_view value) {
  static constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                               "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string text(trim(value));
  if (const std::size_t comma = text.find(','); comma != std::string::npos) {
    text = text.substr(comma + 1);
  }
  int day = 0;
  char month_name[4] = {};
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  char zone[8] = {};
  if (std::sscanf(text.c_str(), " %d %3s %d %d:%d:%d %7s", &day, month_name, &year, &hour, &minute, &second, zone) <
      6) {  // NOLINT
    return std::nullopt;
  }
  const auto month = std::find(kMonths.begin(), kMonths.end(), lower(month_name));
  if (month == kMonths.end() || day < 1 || day > 31 || year < 1970) {
    return std::nullopt;
  }
  int offset_minutes = 0;
  if ((zone[0] == '+' || zone[0] == '-') && std::isdigit(static_cast<unsigned char>(zone[1]))) {
    const int hhmm = std::atoi(zone + 1);
    offset_minutes = (hhmm / 100 * 60 + hhmm % 100) * (zone[0] == '-' ? -1 : 1);
  }
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month - kMonths.begin()) + 1, static_cast<unsigned>(day));
  const std::int64_t seconds =
      days * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second - std::int64_t{offset_minutes} * 60;
  return seconds * 1000;
}

MailMessage parse_message(std::string_view raw) {
  const Part top = split_part(raw);
  MailMessage message;
  const auto header = [&](const char* name) {
    const auto found = top.headers.find(name);
    return found == top.headers.end() ? std::string() : found->second;
  };
  message.message_id = std::string(trim(header("message-id")));
  const auto from = parse_address_list(header("from"));
  if (from.empty()) {
    throw MimeError("the message has no From address");
  }
  message.from = from.front();
  for (const char* name : {"to", "cc"}) {
    for (MailAddress& address : parse_address_list(header(name))) {
      message.recipients.push_back(std::move(address));
    }
  }
  message.subject = decode_header_words(header("subject"));
  message.date_ms = parse_rfc5322_date(header("date"));
  std::optional<std::string> text = find_text(top, 0, false);
  if (!text) {
    text = find_text(top, 0, true);
  }
  message.text = text.value_or("");
  return message;
}

}  // namespace crm::connectors
