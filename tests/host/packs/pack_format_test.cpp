// The pack container read back as written, and every hostile archive refused
// with one line naming the entry and its byte offset.
#include "packs/pack_format.hpp"

#include <cstring>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace crm::host {
namespace {

// A ustar header as any tar writer could make it, hostile fields included; the checksum is right.
std::string raw_header(const std::string& name, std::uint64_t size, char type = '0', const std::string& link = "",
                       const std::string& size_field = "") {
  std::string header(512, '\0');
  std::memcpy(header.data(), name.data(), std::min<std::size_t>(name.size(), 100));
  std::memcpy(header.data() + 100, "0000644", 7);
  const std::string size_text = size_field.empty() ? fmt::format("{:011o}", size) : size_field;
  std::memcpy(header.data() + 124, size_text.data(), std::min<std::size_t>(size_text.size(), 12));
  header[156] = type;
  std::memcpy(header.data() + 157, link.data(), std::min<std::size_t>(link.size(), 100));
  std::memcpy(header.data() + 257,
              "ustar\0"
              "00",
              8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
  }
  const std::string checksum = fmt::format("{:06o}", sum);
  std::memcpy(header.data() + 148, checksum.data(), 6);
  header[155] = ' ';
  return header;
}

std::string raw_entry(const std::string& name, const std::string& bytes, char type = '0',
                      const std::string& link = "") {
  std::string entry = raw_header(name, bytes.size(), type, link) + bytes;
  entry.append((512 - bytes.size() % 512) % 512, '\0');
  return entry;
}

const std::string kEnd(1024, '\0');

std::string refusal(const std::string& archive) {
  try {
    (void)read_pack_archive(archive, "p.crmpack");
  } catch (const PackError& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    return e.what();
  }
  return "accepted";
}

TEST(PackFormat, ReadsBackWhatItWrote) {
  const std::vector<PackEntry> written = {
      {"pack.json", "{}", 0}, {"a.so", std::string(1000, 'x'), 0}, {"a.json", "", 0}, {"b+c-1.2_d.so", "\x01", 0}};
  const std::string archive = write_pack_archive(written);
  EXPECT_EQ(archive.size() % 512, 0U);
  const std::vector<PackEntry> read = read_pack_archive(archive, "p.crmpack");
  ASSERT_EQ(read.size(), written.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].name, written[i].name);
    EXPECT_EQ(read[i].bytes, written[i].bytes);
  }
  EXPECT_EQ(read[1].header_offset, 1024U);
  // A tar reader's padding to its record size is allowed after the end.
  EXPECT_EQ(read_pack_archive(archive + std::string(8192, '\0'), "p.crmpack").size(), 4U);
}

TEST(PackFormat, WritingRefusesNamesReadingWouldRefuse) {
  EXPECT_THROW((void)write_pack_archive({{"../a.so", "", 0}}), PackError);
  EXPECT_THROW((void)write_pack_archive({{"d/a.so", "", 0}}), PackError);
  EXPECT_THROW((void)write_pack_archive({{std::string(101, 'a'), "", 0}}), PackError);
}

TEST(PackFormat, PathsThatLeaveThePackAreRefused) {
  EXPECT_EQ(refusal(raw_entry("../evil.so", "x") + kEnd),
            "p.crmpack: entry 1 (\"../evil.so\") at byte 0 climbs out of the folder it is installed into (\"..\"); "
            "packs hold plain file names");
  EXPECT_EQ(refusal(raw_entry("a.so", "x") + raw_entry("/etc/cron.d/evil", "x") + kEnd),
            "p.crmpack: entry 2 (\"/etc/cron.d/evil\") at byte 1024 is an absolute path; packs hold plain file names");
  EXPECT_EQ(refusal(raw_entry("lib/a.so", "x") + kEnd),
            "p.crmpack: entry 1 (\"lib/a.so\") at byte 0 is inside a folder; packs hold plain file names");
  EXPECT_EQ(refusal(raw_entry("a\nb.so", "x") + kEnd),
            "p.crmpack: entry 1 (\"a\\x0ab.so\") at byte 0 has a character other than letters, digits and . _ + -");
  EXPECT_EQ(refusal(raw_entry(".hidden", "x") + kEnd),
            "p.crmpack: entry 1 (\".hidden\") at byte 0 starts with a dot; packs hold plain, visible file names");
}

TEST(PackFormat, DuplicateNamesAreRefused) {
  EXPECT_EQ(refusal(raw_entry("a.so", "x") + raw_entry("a.json", "{}") + raw_entry("a.so", "y") + kEnd),
            "p.crmpack: entry 3 (\"a.so\") at byte 2048 appears twice (first at byte 0); refused");
}

TEST(PackFormat, LinksFoldersAndOtherEntryTypesAreRefused) {
  EXPECT_EQ(refusal(raw_entry("a.so", "", '2', "/usr/lib/libc.so.6") + kEnd),
            "p.crmpack: entry 1 (\"a.so\") at byte 0 is a symbolic link (to \"/usr/lib/libc.so.6\"); packs hold "
            "regular files only");
  EXPECT_EQ(refusal(raw_entry("a.so", "", '1', "b.so") + kEnd),
            "p.crmpack: entry 1 (\"a.so\") at byte 0 is a hard link (to \"b.so\"); packs hold regular files only");
  EXPECT_EQ(refusal(raw_entry("lib", "", '5') + kEnd),
            "p.crmpack: entry 1 (\"lib\") at byte 0 is a folder; packs hold plain files only");
  EXPECT_EQ(refusal(raw_entry("dev", "", '3') + kEnd),
            "p.crmpack: entry 1 (\"dev\") at byte 0 has entry type '3', not a regular file; packs hold regular files "
            "only");
}

TEST(PackFormat, HostileSizesAreRefused) {
  EXPECT_EQ(refusal(raw_header("a.so", 0, '0', "", "77777777777") + kEnd),
            "p.crmpack: entry 1 (\"a.so\") at byte 0 claims 8589934591 bytes, more than a pack may hold");
  EXPECT_EQ(refusal(raw_header("a.so", 0, '0', "", "\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01") + kEnd),
            "p.crmpack: entry 1 (\"a.so\") at byte 0 has a size field that is not an octal number (or is hostile); "
            "refused");
  EXPECT_EQ(refusal(raw_header("a.so", 4096) + std::string(512, 'x') + kEnd),
            "p.crmpack: entry 1 (\"a.so\") at byte 0 is cut short: it has 4096 bytes but the pack ends at byte 2048 "
            "(truncated pack)");
}

TEST(PackFormat, AnArchiveCutAnywhereIsRefusedAsTruncated) {
  const std::string archive = write_pack_archive({{"pack.json", "{\"a\": 1}", 0}, {"a.so", std::string(1000, 'x'), 0}});
  ASSERT_EQ(archive.size(), 3584U);
  for (std::size_t length = 0; length < archive.size(); ++length) {
    EXPECT_NE(refusal(archive.substr(0, length)).find("(truncated pack)"), std::string::npos) << "cut at " << length;
  }
  EXPECT_EQ(refusal(archive.substr(0, 100)),
            "p.crmpack: entry 1 at byte 0 is cut short: the pack ends at byte 100 inside the header (truncated pack)");
  EXPECT_EQ(refusal(archive.substr(0, 2000)),
            "p.crmpack: entry 2 (\"a.so\") at byte 1024 is cut short: it has 1000 bytes but the pack ends at byte 2000 "
            "(truncated pack)");
  EXPECT_EQ(refusal(archive.substr(0, 2560)),
            "p.crmpack: ends at byte 2560 without the end-of-archive blocks (truncated pack)");
  EXPECT_EQ(refusal(archive.substr(0, 3200)),
            "p.crmpack: is cut short: the end-of-archive blocks at byte 2560 are incomplete (truncated pack)");
}

TEST(PackFormat, DamagedHeadersAndTrailingDataAreRefused) {
  std::string archive = write_pack_archive({{"a.so", "x", 0}});
  std::string damaged = archive;
  damaged[10] = 'z';  // inside the name: the checksum no longer matches
  EXPECT_EQ(refusal(damaged),
            "p.crmpack: entry 1 at byte 0 has a header checksum that does not match: the pack is damaged");
  EXPECT_EQ(refusal(std::string(512, 'A') + archive),
            "p.crmpack: entry 1 at byte 0 is not a ustar header: this is not a crmhost pack, or it is damaged");
  EXPECT_EQ(refusal(archive + "junk" + std::string(508, '\0')),
            "p.crmpack: has data after the end of the archive at byte 1024; refused");
}

}  // namespace
}  // namespace crm::host
