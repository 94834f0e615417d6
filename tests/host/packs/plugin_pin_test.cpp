// plugins.<id>.sha256 pins a plugin's library: the loader hashes the file
// before mapping it, and a file that differs is refused with no code of it run.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

#include "app/host_config.hpp"
#include "loader/file_digest.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

class PluginPin : public ::testing::Test {
 protected:
  PluginPin()
      : dir_(fs::temp_directory_path() / fmt::format("crm-pin-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* file : {"scorer_rfm.so", "scorer_rfm.json"}) {
      fs::copy_file(fs::path(CRM_PLUGIN_DIR) / file, dir_ / file);
    }
  }
  PluginPin(const PluginPin&) = delete;
  PluginPin& operator=(const PluginPin&) = delete;
  ~PluginPin() override { fs::remove_all(dir_); }

  [[nodiscard]] fs::path library() const { return dir_ / "scorer_rfm.so"; }

  static bool is_mapped(const fs::path& file) {
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle != nullptr) {
      dlclose(handle);
      return true;
    }
    return false;
  }

  fs::path dir_;
};

TEST(FileDigest, HashesAsSha256sumDoes) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const fs::path file = fs::temp_directory_path() / fmt::format("crm-digest-{}", ::getpid());
  std::ofstream(file, std::ios::binary) << std::string(200'000, 'a');
  EXPECT_EQ(sha256_file_hex(file), sha256_hex(std::string(200'000, 'a')));
  fs::remove(file);
  EXPECT_THROW((void)sha256_file_hex(file), std::runtime_error);
}

TEST_F(PluginPin, APinnedFileThatMatchesLoads) {
  std::string pin = sha256_file_hex(library());
  std::transform(pin.begin(), pin.end(), pin.begin(), [](unsigned char c) { return std::toupper(c); });
  testing::TestHost host;
  host.load({dir_}, {{"scorer_rfm", {{"sha256", pin}}}});
  ASSERT_NE(host.record("scorer_rfm"), nullptr);
  EXPECT_EQ(host.record("scorer_rfm")->state, PluginState::loaded) << host.record("scorer_rfm")->reason;
}

TEST_F(PluginPin, APinnedFileThatDiffersIsRefusedBeforeItIsMapped) {
  const std::string actual = sha256_file_hex(library());
  const std::string pinned(64, 'a');
  testing::TestHost host;
  host.load({dir_}, {{"scorer_rfm", {{"sha256", pinned}}}});
  const PluginRecord* record = host.record("scorer_rfm");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->state, PluginState::refused);
  EXPECT_EQ(record->reason,
            fmt::format("plugins.scorer_rfm.sha256 pins aaaaaaaaaaaa… but {} has SHA-256 {}…; install the file that "
                        "was pinned, or pin the new one (sha256sum {})",
                        library().string(), actual.substr(0, 12), library().string()));
  EXPECT_EQ(host.host().find("scorer_rfm"), nullptr);
  EXPECT_FALSE(is_mapped(library())) << "the library was mapped (its code ran) before the pin was checked";
}

TEST(PluginPinConfig, TheConfigurationTakesA64HexDigitPinAndRefusesAnyOther) {
  const HostConfig config =
      parse_host_config(nlohmann::json::parse(fmt::format(R"({{"plugins": {{"scorer_rfm": {{"sha256": "{}"}}}}}})",
                                                          std::string(64, 'F'))),
                        "/", "c.json");
  EXPECT_EQ(config.plugins["scorer_rfm"]["sha256"], std::string(64, 'F'));
  for (const auto& [pin, shown] : {std::pair<std::string, std::string>{R"("abc")", "a 3-character string"},
                                   {fmt::format(R"("{}")", std::string(64, 'g')), "a 64-character string"},
                                   {"42", "42"}}) {
    try {
      (void)parse_host_config(nlohmann::json::parse(fmt::format(R"({{"plugins": {{"x": {{"sha256": {}}}}}}})", pin)),
                              "/", "c.json");
      ADD_FAILURE() << "accepted the pin " << pin;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()),
                fmt::format("c.json: plugins.x.sha256 must be the 64 hex digits of the plugin library's SHA-256 (as "
                            "sha256sum prints it), not {}",
                            shown));
    }
  }
}

}  // namespace
}  // namespace crm::host
