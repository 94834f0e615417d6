#include "packs/pack_format.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>

namespace crm::host {
namespace {

constexpr std::size_t kBlock = 512;
// Offsets and widths of the ustar header fields this format uses.
constexpr std::size_t kNameAt = 0;
constexpr std::size_t kNameWidth = 100;
constexpr std::size_t kModeAt = 100;
constexpr std::size_t kUidAt = 108;
constexpr std::size_t kGidAt = 116;
constexpr std::size_t kSizeAt = 124;
constexpr std::size_t kSizeWidth = 12;
constexpr std::size_t kMtimeAt = 136;
constexpr std::size_t kChecksumAt = 148;
constexpr std::size_t kChecksumWidth = 8;
constexpr std::size_t kTypeAt = 156;
constexpr std::size_t kLinkNameAt = 157;
constexpr std::size_t kMagicAt = 257;
constexpr std::size_t kPrefixAt = 345;
constexpr std::size_t kPrefixWidth = 155;

std::size_t padded(std::uint64_t size) {
  return static_cast<std::size_t>((size + kBlock - 1) / kBlock * kBlock);
}

// A NUL-terminated field, or all of it when it fills its width.
std::string_view field_text(std::string_view header, std::size_t at, std::size_t width) {
  const std::string_view field = header.substr(at, width);
  return field.substr(0, std::min(field.find('\0'), field.size()));
}

void put_octal(std::string& header, std::size_t at, std::size_t width, std::uint64_t value) {
  // width - 1 digits, then NUL, as ustar writes numbers.
  const std::string digits = fmt::format("{:0{}o}", value, width - 1);
  std::memcpy(header.data() + at, digits.data(), digits.size());
}

unsigned header_checksum(std::string_view header) {
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    const bool in_checksum = i >= kChecksumAt && i < kChecksumAt + kChecksumWidth;
    sum += in_checksum ? static_cast<unsigned>(' ') : static_cast<unsigned char>(header[i]);
  }
  return sum;
}

// An octal number field: optional leading spaces, digits, then NUL or space.
// Refuses the base-256 form and anything that is not octal.
bool parse_octal(std::string_view field, std::uint64_t& value) {
  std::size_t i = 0;
  while (i < field.size() && field[i] == ' ') {
    ++i;
  }
  std::size_t digits = 0;
  value = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i, ++digits) {
    if (value > (kMaxPackBytes << 3U)) {
      return false;
    }
    value = value * 8 + static_cast<std::uint64_t>(field[i] - '0');
  }
  for (; i < field.size(); ++i) {
    if (field[i] != '\0' && field[i] != ' ') {
      return false;
    }
  }
  return digits > 0;
}

// A name from a hostile archive, safe to print on one line.
std::string printable(std::string_view text) {
  std::string shown;
  for (const char c : text) {
    if (std::isprint(static_cast<unsigned char>(c)) != 0 && c != '"' && c != '\\') {
      shown += c;
    } else {
      shown += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  return shown;
}

std::string type_problem(char type, std::string_view link_name) {
  switch (type) {
    case '0':
    case '\0':
      return {};
    case '1':
      return fmt::format("is a hard link (to \"{}\"); packs hold regular files only", printable(link_name));
    case '2':
      return fmt::format("is a symbolic link (to \"{}\"); packs hold regular files only", printable(link_name));
    case '5':
      return "is a folder; packs hold plain files only";
    case 'x':
    case 'g':
      return "is a pax extended header; packs are plain ustar, written by crmhost pack build";
    default:
      return fmt::format("has entry type '{}', not a regular file; packs hold regular files only",
                         std::isprint(static_cast<unsigned char>(type)) != 0
                             ? std::string(1, type)
                             : fmt::format("\\x{:02x}", static_cast<unsigned char>(type)));
  }
}

}  // namespace

std::string pack_entry_name_problem(std::string_view name) {
  if (name.empty()) {
    return "has an empty name";
  }
  if (name.front() == '/') {
    return "is an absolute path; packs hold plain file names";
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = std::min(name.find('/', start), name.size());
    if (name.substr(start, slash - start) == "..") {
      return "climbs out of the folder it is installed into (\"..\"); packs hold plain file names";
    }
    start = slash + 1;
  }
  if (name.find('/') != std::string_view::npos) {
    return "is inside a folder; packs hold plain file names";
  }
  if (name.front() == '.') {
    return "starts with a dot; packs hold plain, visible file names";
  }
  if (name.size() > kNameWidth) {
    return fmt::format("is {} bytes long, more than the {} a pack name holds", name.size(), kNameWidth);
  }
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '_' || c == '+' || c == '-';
    if (!allowed) {
      return "has a character other than letters, digits and . _ + -";
    }
  }
  return {};
}

std::string write_pack_archive(const std::vector<PackEntry>& entries) {
  std::string archive;
  for (const PackEntry& entry : entries) {
    if (const std::string problem = pack_entry_name_problem(entry.name); !problem.empty()) {
      throw PackError(fmt::format("cannot put \"{}\" into a pack: it {}", entry.name, problem));
    }
    std::string header(kBlock, '\0');
    std::memcpy(header.data() + kNameAt, entry.name.data(), entry.name.size());
    put_octal(header, kModeAt, 8, 0644);
    put_octal(header, kUidAt, 8, 0);
    put_octal(header, kGidAt, 8, 0);
    put_octal(header, kSizeAt, kSizeWidth, entry.bytes.size());
    put_octal(header, kMtimeAt, kSizeWidth, 0);
    header[kTypeAt] = '0';
    std::memcpy(header.data() + kMagicAt,
                "ustar\0"
                "00",
                8);
    const std::string checksum = fmt::format("{:06o}", header_checksum(header));
    std::memcpy(header.data() + kChecksumAt, checksum.data(), checksum.size());
    header[kChecksumAt + 6] = '\0';
    header[kChecksumAt + 7] = ' ';
    archive += header;
    archive += entry.bytes;
    archive.append(padded(entry.bytes.size()) - entry.bytes.size(), '\0');
  }
  archive.append(2 * kBlock, '\0');
  return archive;
}

std::vector<PackEntry> read_pack_archive(std::string_view archive, const std::string& source) {
  const auto refuse = [&](std::size_t index, std::uint64_t at, std::string_view name, const std::string& problem) {
    const std::string what = name.empty() ? fmt::format("entry {}", index + 1)
                                          : fmt::format("entry {} (\"{}\")", index + 1, printable(name));
    return PackError(fmt::format("{}: {} at byte {} {}", source, what, at, problem));
  };
  if (archive.size() > kMaxPackBytes) {
    throw PackError(fmt::format("{}: {} bytes, more than a pack may hold ({})", source, archive.size(), kMaxPackBytes));
  }
  std::vector<PackEntry> entries;
  std::map<std::string, std::uint64_t, std::less<>> seen;
  std::uint64_t at = 0;
  for (std::size_t index = 0;; ++index) {
    if (at == archive.size()) {
      throw PackError(
          fmt::format("{}: ends at byte {} without the end-of-archive blocks (truncated pack)", source, at));
    }
    if (archive.size() - at < kBlock) {
      throw refuse(
          index, at, "",
          fmt::format("is cut short: the pack ends at byte {} inside the header (truncated pack)", archive.size()));
    }
    const std::string_view header = archive.substr(at, kBlock);
    if (std::all_of(header.begin(), header.end(), [](char c) { return c == '\0'; })) {
      // The end: a second zero block, then nothing but zeros (tar pads to its record size).
      if (archive.size() - at < 2 * kBlock) {
        throw PackError(
            fmt::format("{}: is cut short: the end-of-archive blocks at byte {} are incomplete "
                        "(truncated pack)",
                        source, at));
      }
      const std::string_view rest = archive.substr(at + kBlock);
      if (!std::all_of(rest.begin(), rest.end(), [](char c) { return c == '\0'; })) {
        throw PackError(fmt::format("{}: has data after the end of the archive at byte {}; refused", source, at));
      }
      break;
    }
    if (index >= kMaxPackEntries) {
      throw refuse(index, at, "", fmt::format("is beyond the {} entries a pack may hold", kMaxPackEntries));
    }
    if (field_text(header, kMagicAt, 6) != "ustar") {
      throw refuse(index, at, "", "is not a ustar header: this is not a crmhost pack, or it is damaged");
    }
    std::uint64_t recorded_checksum = 0;
    if (!parse_octal(header.substr(kChecksumAt, kChecksumWidth), recorded_checksum) ||
        recorded_checksum != header_checksum(header)) {
      throw refuse(index, at, "", "has a header checksum that does not match: the pack is damaged");
    }
    std::string name(field_text(header, kNameAt, kNameWidth));
    if (const std::string_view prefix = field_text(header, kPrefixAt, kPrefixWidth); !prefix.empty()) {
      name = std::string(prefix) + "/" + name;
    }
    std::uint64_t size = 0;
    if (!parse_octal(header.substr(kSizeAt, kSizeWidth), size)) {
      throw refuse(index, at, name, "has a size field that is not an octal number (or is hostile); refused");
    }
    if (size > kMaxPackBytes) {
      throw refuse(index, at, name, fmt::format("claims {} bytes, more than a pack may hold", size));
    }
    if (const std::string problem = type_problem(header[kTypeAt], field_text(header, kLinkNameAt, kNameWidth));
        !problem.empty()) {
      throw refuse(index, at, name, problem);
    }
    if (const std::string problem = pack_entry_name_problem(name); !problem.empty()) {
      throw refuse(index, at, name, problem);
    }
    if (const auto first = seen.find(name); first != seen.end()) {
      throw refuse(index, at, name, fmt::format("appears twice (first at byte {}); refused", first->second));
    }
    const std::uint64_t data_at = at + kBlock;
    if (archive.size() - data_at < padded(size)) {
      throw refuse(index, at, name,
                   fmt::format("is cut short: it has {} bytes but the pack ends at byte {} (truncated pack)", size,
                               archive.size()));
    }
    seen.emplace(name, at);
    entries.push_back(PackEntry{name, std::string(archive.substr(data_at, size)), at});
    at = data_at + padded(size);
  }
  return entries;
}

std::string read_file_bytes(const std::filesystem::path& file, std::uint64_t max_bytes) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw PackError(fmt::format("{}: no such file", file.string()));
  }
  const std::uintmax_t size = std::filesystem::file_size(file, error);
  if (error) {
    throw PackError(fmt::format("{}: cannot read ({})", file.string(), error.message()));
  }
  if (size > max_bytes) {
    throw PackError(fmt::format("{}: {} bytes, more than the {} allowed", file.string(), size, max_bytes));
  }
  std::ifstream input(file, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!input.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    throw PackError(fmt::format("{}: cannot read", file.string()));
  }
  return bytes;
}

}  // namespace crm::host
