#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crm::host {

// A pack refused, or one that cannot be made: one line naming what is wrong
// and where (the pack file, the entry, the byte offset).
class PackError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The container of a plugin pack: a POSIX ustar archive (`tar tvf PACK` lists
// it) holding only regular files with plain names, in this order:
//   pack.json   the pack's manifest (PackManifest), signed
//   pack.sig    64 bytes: the Ed25519 signature of pack.json (pack_signing.hpp)
//   NAME.so, NAME.json, ...  the plugin libraries and their manifests
// Every header is 512 bytes (name, octal size, checksum), data is padded to
// 512 bytes, and two zero blocks end the archive. Written by hand (mode 0644,
// uid/gid/mtime 0, so a pack of the same files is the same bytes).
inline constexpr std::string_view kPackManifestName = "pack.json";
inline constexpr std::string_view kPackSignatureName = "pack.sig";
// Bounds for reading: a pack bigger than this, or an entry claiming more, is refused.
inline constexpr std::uint64_t kMaxPackBytes = 1ULL << 30U;
inline constexpr std::size_t kMaxPackEntries = 1024;

// One file of an archive, as written or as read.
struct PackEntry {
  std::string name;
  std::string bytes;
  std::uint64_t header_offset = 0;  // where its header starts in the archive (when read)
};

// The archive bytes holding `entries` in order. Throws PackError for a name
// read_pack_archive would refuse (see pack_entry_name_problem) or one longer
// than the 100 bytes of a ustar name.
std::string write_pack_archive(const std::vector<PackEntry>& entries);

// Parses an archive, bounds-checked: a cut-short header or data, a bad header
// checksum, a size beyond the archive or kMaxPackBytes, an entry that is not
// a regular file (symlink, hard link, folder, device, pax header), a path that
// is absolute, climbs out (".."), has a folder or characters other than
// [A-Za-z0-9._+-], and a name seen twice are each refused with a PackError
// naming `source` (the pack's file name), the entry and its byte offset.
std::vector<PackEntry> read_pack_archive(std::string_view archive, const std::string& source);

// Why `name` may not be a file of a pack, or "" when it may: a plain file name
// of [A-Za-z0-9._+-], at most 100 bytes, not starting with a dot.
std::string pack_entry_name_problem(std::string_view name);

// Reads a whole file (a pack, a key) of at most `max_bytes`; throws PackError naming it.
std::string read_file_bytes(const std::filesystem::path& file, std::uint64_t max_bytes);

}  // namespace crm::host
