// Packs made from the real built plugins: keys, build, install, the loader
// finding the installed version, rollback, and every refused pack leaving
// the plugin folder untouched.
#include "packs/pack_install.hpp"

#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "loader/installed_packs.hpp"
#include "packs/pack_format.hpp"
#include "packs/pack_signing.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

class PackInstall : public ::testing::Test {
 protected:
  PackInstall()
      : dir_(fs::temp_directory_path() / fmt::format("crm-packs-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "vendor");
    fs::create_directories(dir_ / "plugins");
    for (const char* file : {"scorer_rfm.so", "scorer_rfm.json"}) {
      fs::copy_file(fs::path(CRM_PLUGIN_DIR) / file, dir_ / "vendor" / file);
    }
    keys_ = generate_key_pair(dir_ / "vendor.key");
  }
  PackInstall(const PackInstall&) = delete;
  PackInstall& operator=(const PackInstall&) = delete;
  ~PackInstall() override { fs::remove_all(dir_); }

  fs::path build(const std::string& version = "", const fs::path& key = {}) {
    const fs::path pack = dir_ / fmt::format("scorer_rfm-{}.crmpack", version.empty() ? "default" : version);
    PackBuildOptions options;
    options.plugin_dir = dir_ / "vendor";
    options.private_key = key.empty() ? keys_.private_key : key;
    options.output = pack;
    options.version = version;
    (void)build_pack(options);
    return pack;
  }

  static std::string read(const fs::path& file) { return read_file_bytes(file, kMaxPackBytes); }
  static void write(const fs::path& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }

  // The refusal of installing `pack`, which must leave the plugin folder as it was.
  std::string install_refusal(const fs::path& pack, const fs::path& trusted = {}) {
    try {
      (void)install_pack(pack, trusted.empty() ? keys_.public_key : trusted, dir_ / "plugins");
    } catch (const PackError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
      EXPECT_TRUE(fs::is_empty(dir_ / "plugins")) << "a refused pack wrote into the plugin folder";
      return e.what();
    }
    return "installed";
  }

  // Where `name`'s data starts in the archive.
  static std::size_t data_offset(const std::string& archive, const std::string& name) {
    for (const PackEntry& entry : read_pack_archive(archive, "pack")) {
      if (entry.name == name) {
        return entry.header_offset + 512;
      }
    }
    ADD_FAILURE() << "no entry " << name;
    return 0;
  }

  fs::path dir_;
  KeyPairFiles keys_;
};

TEST_F(PackInstall, KeygenWritesAPrivateKeyOnlyItsOwnerReadsAndThePublicKeyBeside) {
  struct stat status {};
  ASSERT_EQ(::stat(keys_.private_key.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600U);
  EXPECT_EQ(keys_.public_key, fs::path(keys_.private_key.string() + ".pub"));
  EXPECT_NE(read(keys_.private_key).find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_NE(read(keys_.public_key).find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(public_key_fingerprint(keys_.public_key), keys_.fingerprint);
  EXPECT_EQ(private_key_fingerprint(keys_.private_key), keys_.fingerprint);
  EXPECT_THROW((void)generate_key_pair(keys_.private_key), PackError);  // never over a key
}

TEST_F(PackInstall, ABuiltPackInstallsAndTheHostLoadsItsCurrentVersion) {
  const fs::path pack = build();
  const PackInstallResult result = install_pack(pack, keys_.public_key, dir_ / "plugins");
  EXPECT_EQ(result.manifest.name, "scorer_rfm");
  EXPECT_EQ(result.manifest.version, "1.0.0");
  EXPECT_EQ(result.manifest.signer, keys_.fingerprint);
  EXPECT_EQ(result.version_dir, dir_ / "plugins" / "packs" / "scorer_rfm" / "1.0.0");
  EXPECT_FALSE(result.previous_version);
  EXPECT_EQ(fs::read_symlink(result.current_link), "1.0.0");
  EXPECT_EQ(read(result.version_dir / "scorer_rfm.so"), read(dir_ / "vendor" / "scorer_rfm.so"));
  EXPECT_EQ(read(result.version_dir / "scorer_rfm.json"), read(dir_ / "vendor" / "scorer_rfm.json"));

  testing::TestHost host;
  host.load({dir_ / "plugins"});
  const PluginRecord* record = host.record("scorer_rfm");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->state, PluginState::loaded) << record->reason;
  EXPECT_EQ(record->file, dir_ / "plugins" / "packs" / "scorer_rfm" / "current" / "scorer_rfm.so");
  EXPECT_NE(host.host().find("scorer_rfm"), nullptr);
}

TEST_F(PackInstall, ANewVersionBecomesCurrentAndRollbackGoesBackAndForth) {
  const fs::path plugins = dir_ / "plugins";
  (void)install_pack(build(), keys_.public_key, plugins);
  const PackInstallResult second = install_pack(build("1.0.1"), keys_.public_key, plugins);
  EXPECT_EQ(second.previous_version, "1.0.0");
  const fs::path pack_folder = plugins / "packs" / "scorer_rfm";
  EXPECT_EQ(fs::read_symlink(pack_folder / "current"), "1.0.1");
  EXPECT_EQ(fs::read_symlink(pack_folder / "previous"), "1.0.0");
  EXPECT_EQ(with_installed_packs({plugins}), (std::vector<fs::path>{plugins, pack_folder / "current"}));

  PackRollbackResult rollback = rollback_pack("scorer_rfm", plugins);
  EXPECT_EQ(rollback.from_version, "1.0.1");
  EXPECT_EQ(rollback.to_version, "1.0.0");
  EXPECT_EQ(fs::read_symlink(pack_folder / "current"), "1.0.0");
  testing::TestHost host;
  host.load({plugins});
  ASSERT_NE(host.record("scorer_rfm"), nullptr);
  EXPECT_EQ(host.record("scorer_rfm")->state, PluginState::loaded);

  rollback = rollback_pack("scorer_rfm", plugins);
  EXPECT_EQ(rollback.to_version, "1.0.1");
  EXPECT_EQ(fs::read_symlink(pack_folder / "current"), "1.0.1");

  // The same version again only moves `current`; other bytes under a version already there are refused.
  EXPECT_TRUE(install_pack(build("1.0.0"), keys_.public_key, plugins).already_installed);
  EXPECT_EQ(fs::read_symlink(pack_folder / "current"), "1.0.0");
  write(pack_folder / "1.0.1" / "scorer_rfm.json", "{}");
  EXPECT_THROW((void)install_pack(build("1.0.1"), keys_.public_key, plugins), PackError);
}

TEST_F(PackInstall, RollbackNeedsAnInstalledPackWithAPreviousVersion) {
  const fs::path plugins = dir_ / "plugins";
  try {
    (void)rollback_pack("scorer_rfm", plugins);
    ADD_FAILURE() << "rolled back a pack never installed";
  } catch (const PackStateError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("no pack scorer_rfm is installed in {}", (plugins / "packs").string()));
  }
  (void)install_pack(build(), keys_.public_key, plugins);
  try {
    (void)rollback_pack("scorer_rfm", plugins);
    ADD_FAILURE() << "rolled back without a previous version";
  } catch (const PackStateError& e) {
    EXPECT_EQ(std::string(e.what()), "pack scorer_rfm has no previous version to roll back to (current: 1.0.0)");
  }
  EXPECT_THROW((void)rollback_pack("../etc", plugins), PackError);
}

TEST_F(PackInstall, AByteChangedInALibraryIsRefused) {
  const fs::path pack = build();
  std::string archive = read(pack);
  const std::size_t at = data_offset(archive, "scorer_rfm.so") + 1000;
  archive[at] = static_cast<char>(archive[at] ^ 0x01);
  write(pack, archive);
  const std::string refusal = install_refusal(pack);
  EXPECT_TRUE(refusal.starts_with(pack.string() + ": scorer_rfm.so at byte ")) << refusal;
  EXPECT_NE(refusal.find("the file was changed after signing; refused"), std::string::npos) << refusal;
}

TEST_F(PackInstall, AByteChangedInAPluginManifestIsRefused) {
  const fs::path pack = build();
  std::string archive = read(pack);
  const std::size_t at = archive.find("RFM quintiles", data_offset(archive, "scorer_rfm.json"));
  ASSERT_NE(at, std::string::npos);
  archive[at] = 'X';
  write(pack, archive);
  const std::string refusal = install_refusal(pack);
  EXPECT_TRUE(refusal.starts_with(pack.string() + ": scorer_rfm.json at byte ")) << refusal;
  EXPECT_NE(refusal.find("the file was changed after signing; refused"), std::string::npos) << refusal;
}

TEST_F(PackInstall, AByteChangedInThePackManifestIsRefused) {
  const fs::path pack = build();
  std::string archive = read(pack);
  const std::size_t at = archive.find("\"version\": \"1.0.0\"", data_offset(archive, "pack.json"));
  ASSERT_NE(at, std::string::npos);
  archive[at + 16] = '9';  // 1.0.0 -> 1.0.9
  write(pack, archive);
  EXPECT_EQ(install_refusal(pack),
            fmt::format("{}: the signature does not match pack.json: the pack was changed after it was signed, or "
                        "signed by another key than {}; refused",
                        pack.string(), keys_.public_key.string()));
}

TEST_F(PackInstall, AnUnsignedPackIsRefused) {
  std::vector<PackEntry> entries = read_pack_archive(read(build()), "pack");
  std::erase_if(entries, [](const PackEntry& entry) { return entry.name == "pack.sig"; });
  const fs::path unsigned_pack = dir_ / "unsigned.crmpack";
  write(unsigned_pack, write_pack_archive(entries));
  EXPECT_EQ(install_refusal(unsigned_pack),
            fmt::format("{}: is not signed (no pack.sig); install only packs signed by a key you trust",
                        unsigned_pack.string()));
}

TEST_F(PackInstall, APackSignedByAnotherKeyIsRefused) {
  const KeyPairFiles other = generate_key_pair(dir_ / "other.key");
  const fs::path pack = build("", other.private_key);
  EXPECT_EQ(install_refusal(pack),
            fmt::format("{}: signed by another key ({}), not by the trusted key {} ({}); refused", pack.string(),
                        other.fingerprint, keys_.public_key.string(), keys_.fingerprint));
  // Whatever pack.json claims about its signer: a forged claim still fails the signature.
  std::vector<PackEntry> entries = read_pack_archive(read(pack), "pack");
  for (PackEntry& entry : entries) {
    if (entry.name == "pack.json") {
      entry.bytes.replace(entry.bytes.find(other.fingerprint), other.fingerprint.size(), keys_.fingerprint);
    }
  }
  write(pack, write_pack_archive(entries));
  EXPECT_NE(install_refusal(pack).find("the signature does not match pack.json"), std::string::npos);
}

TEST_F(PackInstall, ATruncatedPackIsRefused) {
  const fs::path pack = build();
  const std::string archive = read(pack);
  for (const std::size_t length :
       {std::size_t{0}, std::size_t{300}, archive.size() / 2, archive.size() - 1024, archive.size() - 1}) {
    write(pack, archive.substr(0, length));
    EXPECT_NE(install_refusal(pack).find("(truncated pack)"), std::string::npos) << "cut at " << length;
  }
}

TEST_F(PackInstall, AFileThePackManifestDoesNotListIsRefused) {
  std::vector<PackEntry> entries = read_pack_archive(read(build()), "pack");
  entries.push_back(PackEntry{"extra.so", "not listed", 0});
  const fs::path pack = dir_ / "extra.crmpack";
  write(pack, write_pack_archive(entries));
  EXPECT_NE(install_refusal(pack).find("entry \"extra.so\" at byte "), std::string::npos);
}

TEST_F(PackInstall, BuildNeedsLibrariesWithManifests) {
  PackBuildOptions options;
  options.plugin_dir = dir_ / "plugins";  // empty
  options.private_key = keys_.private_key;
  options.output = dir_ / "x.crmpack";
  EXPECT_THROW((void)build_pack(options), PackError);
  fs::remove(dir_ / "vendor" / "scorer_rfm.json");
  options.plugin_dir = dir_ / "vendor";
  EXPECT_THROW((void)build_pack(options), PackError);
  EXPECT_FALSE(fs::exists(options.output));
}

}  // namespace
}  // namespace crm::host
