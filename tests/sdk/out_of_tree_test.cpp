// Installs the SDK, builds examples/out_of_tree_plugin against the installed
// copy with find_package(CrmSdk), and loads the result through the loader.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "loader/scorer_call.hpp"
#include "testing/test_host.hpp"
#include "testing/text_files.hpp"

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

}  // namespace
}  // namespace crm::host
