// Installs the SDK, builds examples/out_of_tree_plugin and the plain-C pack the
// SDK installs with its docs against the installed copy with
// find_package(CrmSdk), and loads the results through the loader; and shows
// that crm_add_plugin refuses packs whose manifest disagrees with it.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>

#include "loader/channel_call.hpp"
#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

int shell(const std::string& command, const fs::path& log) {
  const std::string redirected = fmt::format("{} >>'{}' 2>&1", command, log.string());
  return std::system(redirected.c_str());  // NOLINT(concurrency-mt-unsafe)
}

using testing::read_text;

TEST(OutOfTreePlugin, BuildsAgainstTheInstalledSdkAndLoads) {
  const fs::path work = fs::temp_directory_path() / fmt::format("crm-out-of-tree-{}", ::getpid());
  fs::remove_all(work);
  fs::create_directories(work);
  const fs::path log = work / "build.log";
  const fs::path prefix = work / "sdk";
  const fs::path build = work / "build";

  ASSERT_EQ(shell(fmt::format("'{}' --install '{}' --prefix '{}' --component sdk", CRM_CMAKE_COMMAND, CRM_BINARY_DIR,
                              prefix.string()),
                  log),
            0)
      << read_text(log);
  EXPECT_TRUE(fs::exists(prefix / "include/crm/plugin.hpp"));
  EXPECT_TRUE(fs::exists(prefix / "lib/cmake/CrmSdk/CrmSdkConfig.cmake"));
  EXPECT_TRUE(fs::exists(prefix / "lib/cmake/CrmSdk/CrmPlugin.cmake"));

  ASSERT_EQ(shell(fmt::format("'{}' -S '{}/examples/out_of_tree_plugin' -B '{}' -DCMAKE_PREFIX_PATH='{}' "
                              "-DCMAKE_C_COMPILER='{}' -DCMAKE_CXX_COMPILER='{}' -DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
                              CRM_CMAKE_COMMAND, CRM_SOURCE_DIR, build.string(), prefix.string(), CRM_C_COMPILER,
                              CRM_CXX_COMPILER),
                  log),
            0)
      << read_text(log);
  ASSERT_EQ(shell(fmt::format("'{}' --build '{}'", CRM_CMAKE_COMMAND, build.string()), log), 0) << read_text(log);

  // It compiled against the installed headers, not this source tree's.
  const std::string commands = read_text(build / "compile_commands.json");
  EXPECT_NE(commands.find((prefix / "include").string()), std::string::npos);
  EXPECT_EQ(commands.find(std::string(CRM_SOURCE_DIR) + "/sdk"), std::string::npos);

  testing::TestHost test;
  test.load({build / "plugins"}, {{"scorer_acme", {{"config", {{"points_per_overdue_day", 5}}}}}});
  LoadedPlugin* scorer = test.host().find("scorer_acme");
  ASSERT_NE(scorer, nullptr) << (test.record("scorer_acme") ? test.record("scorer_acme")->reason : "not found");
  EXPECT_EQ(scorer->record().version, "1.2.0");
  FeatureBatch batch;
  batch.customer_ids = {"on-time", "late"};
  batch.feature_names = {"payment_delay_days"};
  batch.columns = {{0, 10}};
  const ScoreResult result = score_batch(*scorer, batch, true);
  EXPECT_DOUBLE_EQ(result.scores[0], 100.0);
  EXPECT_DOUBLE_EQ(result.scores[1], 50.0);
  EXPECT_DOUBLE_EQ(result.contributions[1], -50.0);
  fs::remove_all(work);
}

// The installed SDK, once per test program.
class InstalledSdk : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = fs::temp_directory_path() / fmt::format("crm-installed-sdk-{}", ::getpid());
    fs::remove_all(work_);
    fs::create_directories(work_);
    install_status_ = shell(fmt::format("'{}' --install '{}' --prefix '{}' --component sdk", CRM_CMAKE_COMMAND,
                                        CRM_BINARY_DIR, (work_ / "sdk").string()),
                            work_ / "install.log");
  }
  static void TearDownTestSuite() { fs::remove_all(work_); }

  void SetUp() override { ASSERT_EQ(install_status_, 0) << read_text(work_ / "install.log"); }

  static fs::path prefix() { return work_ / "sdk"; }
  static fs::path examples() { return prefix() / "share/doc/crm-sdk/examples"; }

  // Configures (and with `build`, builds) a C project against the installed SDK.
  static int configure(const fs::path& source, const fs::path& binary, const fs::path& log, bool build) {
    const int status =
        shell(fmt::format("'{}' -S '{}' -B '{}' -DCMAKE_PREFIX_PATH='{}' -DCMAKE_C_COMPILER='{}'", CRM_CMAKE_COMMAND,
                          source.string(), binary.string(), prefix().string(), CRM_C_COMPILER),
              log);
    if (status != 0 || !build) {
      return status;
    }
    return shell(fmt::format("'{}' --build '{}'", CRM_CMAKE_COMMAND, binary.string()), log);
  }

  static fs::path work_;
  static int install_status_;
};
fs::path InstalledSdk::work_;
int InstalledSdk::install_status_ = -1;

TEST_F(InstalledSdk, ShipsItsManualAndTheCPackExampleWhichBuildsOutOfTreeAndLoads) {
  EXPECT_TRUE(fs::exists(prefix() / "share/doc/crm-sdk/README.md"));
  EXPECT_TRUE(fs::exists(examples() / "out_of_tree_plugin/CMakeLists.txt"));
  ASSERT_TRUE(fs::exists(examples() / "c_pack/CMakeLists.txt"));
  const fs::path build = work_ / "c_pack";
  const fs::path log = work_ / "c_pack.log";
  ASSERT_EQ(configure(examples() / "c_pack", build, log, true), 0) << read_text(log);

  const fs::path out = work_ / "alerts.txt";
  testing::TestHost test;
  test.load({build / "plugins"}, {{"pack_purchase_log", {{"config", {{"path", (work_ / "log.txt").string()}}}}},
                                  {"pack_file_channel", {{"config", {{"path", out.string()}}}}}});
  ASSERT_NE(test.host().find("pack_purchase_log"), nullptr) << test.record("pack_purchase_log")->reason;
  LoadedPlugin* channel = test.host().find("pack_file_channel");
  ASSERT_NE(channel, nullptr) << test.record("pack_file_channel")->reason;
  EXPECT_EQ(test.record("pack_file_channel")->abi, "1.2");
  Notification notification;
  notification.idempotency_key = "k-1";
  notification.title = "[red] customer 7";
  notification.text = "health 12";
  notification.recipients = {"ops@example.test"};
  EXPECT_EQ(send_notification(*channel, notification).outcome, DeliveryOutcome::delivered);
  EXPECT_EQ(read_text(out), "=== k-1 warning opened\nto: ops@example.test\n[red] customer 7\nhealth 12\n");
}

// A copy of the installed C pack with its CMakeLists.txt and manifest edited.
fs::path edited_pack(const fs::path& from, const fs::path& to, const std::string& call_from, const std::string& call_to,
                     const std::string& manifest_from, const std::string& manifest_to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
  for (const auto& [file, before, after] : {std::tuple{to / "CMakeLists.txt", call_from, call_to},
                                            std::tuple{to / "plugin.json", manifest_from, manifest_to}}) {
    std::string text = read_text(file);
    const std::size_t at = text.find(before);
    EXPECT_NE(at, std::string::npos) << before;
    if (at != std::string::npos) {
      text.replace(at, before.size(), after);
    }
    std::ofstream(file, std::ios::trunc) << text;
  }
  return to;
}

TEST_F(InstalledSdk, CrmAddPluginChecksEveryPluginOfAPackAgainstKindsAndTheAbi) {
  struct Case {
    std::string name;
    std::string call_to;
    std::string manifest_from;
    std::string manifest_to;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"one-kind", "KIND connector", "", "",
       "plugin \"pack_file_channel\" is a channel, but crm_add_plugin says KIND connector; a pack of several kinds "
       "says KINDS connector channel"},
      {"kind-not-in-pack", "KINDS connector channel scorer", "", "",
       "crm_add_plugin says the library holds a scorer, but the manifest declares none"},
      {"abi-newer", "KINDS connector channel", "\"abi\": \"1.2\"", "\"abi\": \"1.5\"",
       "\"abi\" is \"1.5\" but this SDK (1.4) builds \"1.0\" to \"1.4\""},
      {"channel-at-1.0", "KINDS connector channel", "\"abi\": \"1.2\"", "\"abi\": \"1.0\"",
       "\"abi\" is \"1.0\" but channels arrived with ABI 1.1"},
  };
  for (const Case& c : cases) {
    const fs::path source = edited_pack(examples() / "c_pack", work_ / ("src-" + c.name), "KINDS connector channel",
                                        c.call_to, c.manifest_from.empty() ? "\"vendor\"" : c.manifest_from,
                                        c.manifest_to.empty() ? "\"vendor\"" : c.manifest_to);
    const fs::path log = work_ / (c.name + ".log");
    EXPECT_NE(configure(source, work_ / ("build-" + c.name), log, false), 0) << c.name;
    // CMake wraps long messages; compare with the line breaks and indentation folded.
    const std::string folded = std::regex_replace(read_text(log), std::regex("\\s+"), " ");
    EXPECT_NE(folded.find(c.expected), std::string::npos) << c.name << ":\n" << read_text(log);
  }
  // The same pack as a 1.1 plugin: accepted, built with CRM_TARGET_ABI_MINOR=1 ... but the
  // pack uses the 1.2 getters, so the compiler says so instead of a NULL call at run time.
  const fs::path older = edited_pack(examples() / "c_pack", work_ / "src-1.1", "KINDS connector channel",
                                     "KINDS connector channel", "\"abi\": \"1.2\"", "\"abi\": \"1.1\"");
  const fs::path log = work_ / "target-1.1.log";
  EXPECT_NE(configure(older, work_ / "build-1.1", log, true), 0);
  EXPECT_NE(read_text(log).find("config_get_string"), std::string::npos) << read_text(log);
}

}  // namespace
}  // namespace crm::host
