// The crmhost binary as users and scripts see it: exit codes, --json, --help.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <sys/wait.h>

#include "cli/exit_codes.hpp"
#include "crm/abi.h"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout only
};

CommandResult run_crmhost(const std::string& arguments) {
  const std::string command = fmt::format("'{}' {} 2>/dev/null", CRM_HOST_BINARY, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {};
  }
  CommandResult result;
  std::array<char, 4096> chunk{};
  std::size_t read = 0;
  while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    result.output.append(chunk.data(), read);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class CrmhostCli : public ::testing::Test {
 protected:
  CrmhostCli()
      : dir_(fs::temp_directory_path() / fmt::format("crm-cli-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  CrmhostCli(const CrmhostCli&) = delete;
  CrmhostCli& operator=(const CrmhostCli&) = delete;
  ~CrmhostCli() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
    return dir_ / name;
  }

  fs::path dir_;
};

TEST_F(CrmhostCli, PluginsJsonListsTheBuiltPlugins) {
  const CommandResult result = run_crmhost("plugins --json");
  ASSERT_EQ(result.exit_code, kExitOk);
  const auto listing = nlohmann::json::parse(result.output);
  EXPECT_EQ(listing["host_abi"], fmt::format("{}.{}", CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR));
  std::set<std::string> loaded;
  for (const auto& plugin : listing["plugins"]) {
    if (plugin["state"] == "loaded") {
      loaded.insert(plugin["id"].get<std::string>());
      EXPECT_TRUE(fs::exists(plugin["file"].get<std::string>()));
    }
  }
  EXPECT_TRUE(loaded.count("scorer_example_c") == 1 && loaded.count("scorer_example_cpp") == 1);
}

TEST_F(CrmhostCli, RunRecordsItselfInTheDatabaseAndReportsRefusalsWithExitCode4) {
  // A second copy of a plugin under another name: its duplicate id is refused.
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.so", dir_ / "copy.so");
  fs::copy_file(fs::path(CRM_PLUGIN_DIR) / "scorer_example_c.json", dir_ / "copy.json");
  const fs::path db = dir_ / "crm.db";
  CommandResult result = run_crmhost(fmt::format("run --json --db '{}' --plugin-dir '{}'", db.string(), dir_.string()));
  EXPECT_EQ(result.exit_code, kExitPartial);
  auto summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["status"], "partial");
  EXPECT_EQ(summary["loaded"], 6);  // the six scorers; connectors wait for their configuration
  EXPECT_EQ(summary["refused"], 1);
  EXPECT_TRUE(fs::exists(db));

  result = run_crmhost(fmt::format("run --json --db '{}'", db.string()));
  EXPECT_EQ(result.exit_code, kExitOk);
  summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["status"], "ok");
  EXPECT_EQ(summary["run_id"], 2);
}

TEST_F(CrmhostCli, ConfigurationErrorsExitWith3) {
  const fs::path config = write("bad.json", R"({"plugins": {"scorer_example_c": {"enabeld": true}}})");
  EXPECT_EQ(run_crmhost(fmt::format("--config '{}' plugins", config.string())).exit_code, kExitConfig);
  const fs::path broken = write("broken.json", R"({"database": )");
  EXPECT_EQ(run_crmhost(fmt::format("--config '{}' plugins", broken.string())).exit_code, kExitConfig);
}

TEST_F(CrmhostCli, ConfigurationReachesPlugins) {
  const fs::path config =
      write("crmhost.json", R"({"plugins": {"scorer_example_c": {"config": {"max_recency_days": -1}},
                                           "scorer_example_cpp": {"enabled": false}}})");
  const CommandResult result = run_crmhost(fmt::format("--config '{}' plugins --json", config.string()));
  ASSERT_EQ(result.exit_code, kExitOk);
  const auto listing = nlohmann::json::parse(result.output);
  std::map<std::string, std::string> states;
  for (const auto& plugin : listing["plugins"]) {
    states[plugin["id"].get<std::string>()] = plugin["state"].get<std::string>();
  }
  EXPECT_EQ(states["scorer_example_c"], "refused");
  EXPECT_EQ(states["scorer_example_cpp"], "disabled");
}

TEST_F(CrmhostCli, HelpAndUsage) {
  for (const char* command : {"--help", "plugins --help", "run --help", "version --help"}) {
    const CommandResult help = run_crmhost(command);
    EXPECT_EQ(help.exit_code, kExitOk) << command;
    EXPECT_NE(help.output.find("Usage:"), std::string::npos) << command;
  }
  EXPECT_EQ(run_crmhost("").exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost("frobnicate").exit_code, kExitUsage);
  EXPECT_EQ(run_crmhost("plugins --no-such-flag").exit_code, kExitUsage);
}

}  // namespace
}  // namespace crm::host
