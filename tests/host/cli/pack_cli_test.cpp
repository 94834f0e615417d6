// `crmhost pack keygen|build` and `crmhost plugins install|rollback` as admins
// and vendors' scripts run them: output, --json, exit codes, one line per refusal.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vector>

#include "cli/exit_codes.hpp"
#include "loader/file_digest.hpp"
#include "packs/pack_format.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class PackCli : public ::testing::Test {
 protected:
  PackCli()
      : dir_(fs::temp_directory_path() / fmt::format("crm-pack-cli-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "vendor");
    fs::create_directories(dir_ / "plugins");
    for (const char* file : {"scorer_rfm.so", "scorer_rfm.json"}) {
      fs::copy_file(fs::path(CRM_PLUGIN_DIR) / file, dir_ / "vendor" / file);
    }
  }
  PackCli(const PackCli&) = delete;
  PackCli& operator=(const PackCli&) = delete;
  ~PackCli() override { fs::remove_all(dir_); }

  Outcome run(const std::string& arguments) {
    const fs::path out = dir_ / "stdout.txt";
    const fs::path err = dir_ / "stderr.txt";
    const std::string command = fmt::format("cd '{}' && '{}' {} >'{}' 2>'{}'", dir_.string(), CRM_HOST_BINARY,
                                            arguments, out.string(), err.string());
    const int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
    Outcome outcome;
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.out = read_text(out);
    outcome.err = read_text(err);
    return outcome;
  }

  // keygen, then build: the pack of the vendor folder at `version` ("" : the plugin's).
  fs::path keygen_and_build(const std::string& version = "") {
    if (!fs::exists(dir_ / "vendor.key")) {
      EXPECT_EQ(run("pack keygen --out vendor.key").exit_code, kExitOk);
    }
    const std::string name = fmt::format("scorer_rfm{}.crmpack", version.empty() ? "" : "-" + version);
    const Outcome built = run(fmt::format("pack build vendor --key vendor.key --out {}{}", name,
                                          version.empty() ? "" : " --version " + version));
    EXPECT_EQ(built.exit_code, kExitOk) << built.err;
    return dir_ / name;
  }

  [[nodiscard]] std::string host_options() const {
    return fmt::format("--no-default-plugin-dir --plugin-dir '{}' --db '{}'", (dir_ / "plugins").string(),
                       testing::store_locator(dir_ / "crm.db"));
  }

  nlohmann::json plugin_listing(const std::string& extra = "") {
    const Outcome listed = run(fmt::format("{} {} plugins --json", extra, host_options()));
    EXPECT_EQ(listed.exit_code, kExitOk) << listed.err;
    return nlohmann::json::parse(listed.out, nullptr, false);
  }

  // The one line of a refused install, which must leave the plugin folder untouched.
  std::string refused_install(const fs::path& pack, const std::string& trust = "vendor.key.pub") {
    const Outcome outcome =
        run(fmt::format("plugins install '{}' --trust {} --plugin-dir plugins", pack.string(), trust));
    EXPECT_EQ(outcome.exit_code, kExitConfig) << outcome.out << outcome.err;
    EXPECT_TRUE(outcome.out.empty()) << outcome.out;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
    EXPECT_TRUE(fs::is_empty(dir_ / "plugins"));
    return outcome.err;
  }

  fs::path dir_;
};

TEST_F(PackCli, KeygenSaysWhereBothKeysWent) {
  const Outcome outcome = run("pack keygen --out vendor.key");
  ASSERT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_NE(outcome.out.find("private key: vendor.key (mode 0600"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("public key:  vendor.key.pub"), std::string::npos) << outcome.out;
  struct stat status {};
  ASSERT_EQ(::stat((dir_ / "vendor.key").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600U);
  EXPECT_TRUE(fs::exists(dir_ / "vendor.key.pub"));
  const Outcome again = run("pack keygen --out vendor.key");
  EXPECT_EQ(again.exit_code, kExitConfig);
  EXPECT_NE(again.err.find("keygen never overwrites a key"), std::string::npos) << again.err;
}

TEST_F(PackCli, BuildInstallThenTheHostLoadsThePackAndRollbackSwitchesBack) {
  ASSERT_EQ(run("pack keygen --out vendor.key").exit_code, kExitOk);
  Outcome built = run("pack build vendor --key vendor.key --out rfm.crmpack --json");
  ASSERT_EQ(built.exit_code, kExitOk) << built.err;
  const nlohmann::json build_json = nlohmann::json::parse(built.out);
  EXPECT_EQ(build_json["name"], "scorer_rfm");
  EXPECT_EQ(build_json["version"], "1.0.0");
  ASSERT_EQ(build_json["files"].size(), 2U);
  EXPECT_EQ(build_json["files"][0]["name"], "scorer_rfm.so");
  EXPECT_EQ(build_json["files"][0]["sha256"], sha256_file_hex(dir_ / "vendor" / "scorer_rfm.so"));

  Outcome installed = run("plugins install rfm.crmpack --trust vendor.key.pub --plugin-dir plugins --json");
  ASSERT_EQ(installed.exit_code, kExitOk) << installed.err;
  nlohmann::json install_json = nlohmann::json::parse(installed.out);
  EXPECT_EQ(install_json["installed_to"], "plugins/packs/scorer_rfm/1.0.0");
  EXPECT_EQ(install_json["current"], "plugins/packs/scorer_rfm/current");
  EXPECT_EQ(install_json["previous_version"], nullptr);
  EXPECT_EQ(install_json["plugins"][0]["id"], "scorer_rfm");

  nlohmann::json listing = plugin_listing();
  ASSERT_EQ(listing["plugins"].size(), 1U) << listing.dump();
  EXPECT_EQ(listing["plugins"][0]["id"], "scorer_rfm");
  EXPECT_EQ(listing["plugins"][0]["state"], "loaded");
  EXPECT_EQ(listing["plugins"][0]["file"], (dir_ / "plugins/packs/scorer_rfm/current/scorer_rfm.so").string());

  ASSERT_EQ(run("pack build vendor --key vendor.key --out rfm2.crmpack --version 1.1.0").exit_code, kExitOk);
  installed = run("--plugin-dir plugins plugins install rfm2.crmpack --trust vendor.key.pub");
  ASSERT_EQ(installed.exit_code, kExitOk) << installed.err;
  EXPECT_NE(installed.out.find("installed pack scorer_rfm 1.1.0"), std::string::npos) << installed.out;
  EXPECT_NE(installed.out.find("(was 1.0.0)"), std::string::npos) << installed.out;
  EXPECT_EQ(fs::read_symlink(dir_ / "plugins/packs/scorer_rfm/current"), "1.1.0");

  const Outcome rolled = run("plugins rollback scorer_rfm --plugin-dir plugins --json");
  ASSERT_EQ(rolled.exit_code, kExitOk) << rolled.err;
  const nlohmann::json rollback_json = nlohmann::json::parse(rolled.out);
  EXPECT_EQ(rollback_json["from_version"], "1.1.0");
  EXPECT_EQ(rollback_json["to_version"], "1.0.0");
  EXPECT_EQ(fs::read_symlink(dir_ / "plugins/packs/scorer_rfm/current"), "1.0.0");
  listing = plugin_listing();
  EXPECT_EQ(listing["plugins"][0]["state"], "loaded");

  const Outcome unknown = run("plugins rollback scorer_health --plugin-dir plugins");
  EXPECT_EQ(unknown.exit_code, kExitNotFound);
  EXPECT_EQ(unknown.err, "crmhost: no pack scorer_health is installed in plugins/packs\n");
}

TEST_F(PackCli, TamperedUnsignedWronglySignedAndTruncatedPacksAreRefusedWithOneLine) {
  const fs::path pack = keygen_and_build();
  const std::string good = read_text(pack);

  std::string tampered = good;
  const std::size_t library_at = tampered.find(
      "\x7f"
      "ELF");
  ASSERT_NE(library_at, std::string::npos);
  tampered[library_at + 4000] = static_cast<char>(tampered[library_at + 4000] ^ 0x20);
  std::ofstream(dir_ / "tampered.crmpack", std::ios::binary) << tampered;
  EXPECT_NE(refused_install(dir_ / "tampered.crmpack").find("scorer_rfm.so at byte "), std::string::npos);

  std::string manifest_changed = good;
  const std::size_t version_at = manifest_changed.find("\"version\": \"1.0.0\"");
  manifest_changed[version_at + 16] = '7';
  std::ofstream(dir_ / "manifest.crmpack", std::ios::binary) << manifest_changed;
  EXPECT_NE(refused_install(dir_ / "manifest.crmpack").find("the signature does not match pack.json"),
            std::string::npos);

  std::vector<PackEntry> entries = read_pack_archive(good, "pack");
  std::erase_if(entries, [](const PackEntry& entry) { return entry.name == "pack.sig"; });
  std::ofstream(dir_ / "unsigned.crmpack", std::ios::binary) << write_pack_archive(entries);
  EXPECT_EQ(refused_install(dir_ / "unsigned.crmpack"),
            fmt::format("crmhost: {}: is not signed (no pack.sig); install only packs signed by a key you trust\n",
                        (dir_ / "unsigned.crmpack").string()));

  ASSERT_EQ(run("pack keygen --out other.key").exit_code, kExitOk);
  EXPECT_NE(refused_install(pack, "other.key.pub").find("signed by another key"), std::string::npos);

  std::ofstream(dir_ / "truncated.crmpack", std::ios::binary) << good.substr(0, good.size() / 2);
  EXPECT_NE(refused_install(dir_ / "truncated.crmpack").find("(truncated pack)"), std::string::npos);

  const Outcome as_json = run("plugins install truncated.crmpack --trust vendor.key.pub --plugin-dir plugins --json");
  EXPECT_EQ(as_json.exit_code, kExitConfig);
  const nlohmann::json error = nlohmann::json::parse(as_json.out, nullptr, false);
  EXPECT_EQ(error["error"]["code"], kExitConfig) << as_json.out;
}

TEST_F(PackCli, APinInTheConfigurationRefusesAnotherFileAndAMalformedPinIsAConfigurationError) {
  fs::copy_file(dir_ / "vendor" / "scorer_rfm.so", dir_ / "plugins" / "scorer_rfm.so");
  fs::copy_file(dir_ / "vendor" / "scorer_rfm.json", dir_ / "plugins" / "scorer_rfm.json");
  const std::string actual = sha256_file_hex(dir_ / "plugins" / "scorer_rfm.so");
  std::ofstream(dir_ / "good.json") << fmt::format(R"({{"plugins": {{"scorer_rfm": {{"sha256": "{}"}}}}}})", actual);
  EXPECT_EQ(plugin_listing("--config good.json")["plugins"][0]["state"], "loaded");

  std::ofstream(dir_ / "other.json") << fmt::format(R"({{"plugins": {{"scorer_rfm": {{"sha256": "{}"}}}}}})",
                                                    std::string(64, '0'));
  const nlohmann::json listing = plugin_listing("--config other.json");
  EXPECT_EQ(listing["plugins"][0]["state"], "refused");
  EXPECT_NE(listing["plugins"][0]["reason"].get<std::string>().find(
                fmt::format("pins 000000000000… but {} has SHA-256 {}…", (dir_ / "plugins/scorer_rfm.so").string(),
                            actual.substr(0, 12))),
            std::string::npos)
      << listing.dump();

  std::ofstream(dir_ / "bad.json") << R"({"plugins": {"scorer_rfm": {"sha256": "12ab"}}})";
  const Outcome bad = run(fmt::format("--config bad.json {} plugins", host_options()));
  EXPECT_EQ(bad.exit_code, kExitConfig);
  EXPECT_NE(bad.err.find("plugins.scorer_rfm.sha256 must be the 64 hex digits"), std::string::npos) << bad.err;
}

TEST_F(PackCli, EachCommandHasHelp) {
  for (const char* command : {"pack --help", "pack keygen --help", "pack build --help", "plugins install --help",
                              "plugins rollback --help"}) {
    const Outcome outcome = run(command);
    EXPECT_EQ(outcome.exit_code, kExitOk) << command;
    EXPECT_NE(outcome.out.find("Usage"), std::string::npos) << command << ": " << outcome.out;
  }
  EXPECT_EQ(run("pack build vendor").exit_code, kExitUsage);  // --key and --out are required
}

}  // namespace
}  // namespace crm::host
