// The loader against real .so files: every refusal names its exact reason,
// and the host keeps the good plugins beside the bad one.
#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

#include "core/config.hpp"
#include "loader/plugin_call_guard.hpp"
#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// The fixtures that end the process, in a folder of their own (see tests/fixtures/plugins).
const std::string kProcessEnders = std::string(CRM_TEST_PLUGIN_DIR) + "/process-enders";

const std::string kHostAbi = fmt::format("{}.{}", CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR);

// A plugin directory of the test's own, holding exactly the libraries it chose.
class PluginDir {
 public:
  PluginDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            fmt::format("crm-loader-{}-{}-{}", test->test_suite_name(), test->name(), ::getpid());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  PluginDir(const PluginDir&) = delete;
  PluginDir& operator=(const PluginDir&) = delete;
  ~PluginDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

  // Copies a built library and its manifest in, optionally under another name.
  fs::path add(const fs::path& from_dir, const std::string& name, const std::string& as = {}) {
    const std::string target = as.empty() ? name : as;
    fs::copy_file(from_dir / (name + ".so"), path_ / (target + ".so"));
    fs::copy_file(from_dir / (name + ".json"), path_ / (target + ".json"));
    return path_ / (target + ".so");
  }
  fs::path add_fixture(const std::string& name) { return add(CRM_TEST_PLUGIN_DIR, name); }
  fs::path add_good(const std::string& name = "scorer_example_c") { return add(CRM_PLUGIN_DIR, name); }

  fs::path write(const std::string& file_name, const std::string& content) {
    std::ofstream(path_ / file_name) << content;
    return path_ / file_name;
  }

  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class PluginHostTest : public ::testing::Test {
 protected:
  // Loads the directory and checks the good example plugin survived.
  PluginHost& load(const nlohmann::json& settings = nlohmann::json::object(),
                   std::map<std::string, std::string> environment = {}) {
    PluginHost& host = test_.load({dir_.path()}, settings, std::move(environment));
    return host;
  }

  void expect_refused(const std::string& id, const std::string& reason) {
    const PluginRecord* record = test_.record(id);
    ASSERT_NE(record, nullptr) << "no record for " << id;
    EXPECT_EQ(record->state, PluginState::refused);
    EXPECT_EQ(record->reason, reason);
    EXPECT_EQ(test_.host().find(id), nullptr);
  }

  void expect_good_plugin_kept(const std::string& id = "scorer_example_c") {
    LoadedPlugin* plugin = test_.host().find(id);
    ASSERT_NE(plugin, nullptr) << id << " was not kept: " << (test_.record(id) ? test_.record(id)->reason : "");
    FeatureBatch batch;
    batch.customer_ids = {"c1"};
    batch.feature_names = {"recency_days", "complaints_window", "days_since_login"};
    batch.columns = {{0}, {0}, {0}};
    EXPECT_EQ(score_batch(*plugin, batch, false).scores.size(), 1U);
  }

  static bool is_mapped(const fs::path& library) {
    void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle != nullptr) {
      dlclose(handle);
      return true;
    }
    return false;
  }

  PluginDir dir_;
  testing::TestHost test_;
};

TEST_F(PluginHostTest, LoadsGoodPluginsWithTheirRecords) {
  dir_.add_good("scorer_example_c");
  dir_.add_good("scorer_example_cpp");
  PluginHost& host = load();
  ASSERT_EQ(host.records().size(), 2U);
  EXPECT_EQ(host.refused_count(), 0U);
  const PluginRecord* record = test_.record("scorer_example_cpp");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->kind, "scorer");
  EXPECT_EQ(record->version, "0.1.0");
  EXPECT_EQ(record->abi, "1.2");  // its manifest's, older than this host's
  EXPECT_EQ(record->file, dir_.path() / "scorer_example_cpp.so");
  EXPECT_EQ(host.plugins_of_kind(CRM_KIND_SCORER).size(), 2U);
}

TEST_F(PluginHostTest, AbiMajorMismatchIsRefusedBeforeTheLibraryIsMapped) {
  const fs::path library = dir_.add_fixture("abi_major2");
  dir_.add_good();
  load();
  expect_refused("abi_major2", fmt::format("built for ABI 2.0, this host speaks ABI {}: the major versions differ; "
                                           "rebuild the plugin against SDK {}.x",
                                           kHostAbi, CRM_ABI_VERSION_MAJOR));
  EXPECT_FALSE(is_mapped(library)) << "no code of an incompatible plugin may run";
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, AbiMajorMismatchBehindAWrongManifestRunsNothingButTheVersionFunction) {
  // Its crm_on_library() aborts: reaching it would kill this test.
  dir_.add_fixture("abi_major2_lying");
  dir_.add_good();
  load();
  expect_refused("abi_major2_lying",
                 fmt::format("built for ABI 2.0, this host speaks ABI {}: the major versions differ; rebuild the "
                             "plugin against SDK {}.x",
                             kHostAbi, CRM_ABI_VERSION_MAJOR));
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, MinorVersionNewerThanTheHostIsRefused) {
  const fs::path library = dir_.add_fixture("abi_minor_newer");
  dir_.add_good();
  load();
  const std::string newer = fmt::format("{}.{}", CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR + 1);
  expect_refused("abi_minor_newer",
                 fmt::format("built for ABI {}, newer than this host's ABI {}; upgrade the host or rebuild the plugin "
                             "against SDK {}",
                             newer, kHostAbi, kHostAbi));
  EXPECT_FALSE(is_mapped(library));
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, StructSizeLargerThanTheHostKnowsIsRefused) {
  dir_.add_fixture("struct_too_large");
  dir_.add_good();
  load();
  expect_refused("struct_too_large",
                 fmt::format("crm_plugin_descriptor struct_size {} is larger than this host knows ({}) for ABI {}; "
                             "rebuild the plugin against the SDK headers of the ABI it declares",
                             sizeof(crm_plugin_descriptor) + 2 * sizeof(void*), sizeof(crm_plugin_descriptor),
                             "1.1"));  // its manifest's abi
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, MissingEntryPointIsRefused) {
  dir_.add_fixture("missing_entry");
  dir_.add_good();
  load();
  expect_refused("missing_entry",
                 "missing entry point crm_on_library(); export it with CRM_DEFINE_LIBRARY (C) or CRM_EXPORT_PLUGINS "
                 "(C++)");
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, AFileThatIsNotASharedLibraryIsRefused) {
  const fs::path garbage =
      dir_.write("garbage.so", std::string(200, '#') + "\nthis is a text file, not an ELF object\n");
  dir_.write("garbage.json", R"({"id": "garbage", "kind": "scorer", "version": "1.0.0", "abi": "1.1"})");
  dir_.add_good();
  load();
  expect_refused("garbage", fmt::format("not a loadable shared library ({}: invalid ELF header); rebuild it as a "
                                        "shared library for this platform",
                                        garbage.string()));
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, ALibraryWithoutAManifestIsRefused) {
  const fs::path library = dir_.add_good("scorer_example_cpp");
  fs::remove(dir_.path() / "scorer_example_cpp.json");
  dir_.add_good();
  PluginHost& host = load();
  ASSERT_EQ(host.records().size(), 2U);
  const auto refused = std::find_if(host.records().begin(), host.records().end(),
                                    [](const PluginRecord& record) { return record.state == PluginState::refused; });
  ASSERT_NE(refused, host.records().end());
  EXPECT_EQ(refused->file, library);
  EXPECT_EQ(refused->reason,
            "no manifest scorer_example_cpp.json beside the library; install the plugin's plugin.json as "
            "scorer_example_cpp.json");
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, TwoPluginsWithOneIdKeepTheFirst) {
  const fs::path first = dir_.add(CRM_PLUGIN_DIR, "scorer_example_c", "a_first");
  const fs::path second = dir_.add(CRM_PLUGIN_DIR, "scorer_example_c", "b_second");
  dir_.add_good("scorer_example_cpp");
  PluginHost& host = load();
  ASSERT_EQ(host.records().size(), 3U);
  const PluginRecord& refused = host.records()[1];
  EXPECT_EQ(refused.file, second);
  EXPECT_EQ(refused.state, PluginState::refused);
  EXPECT_EQ(refused.reason, fmt::format("duplicate id: plugin 'scorer_example_c' is already loaded from {}; remove "
                                        "one of the two libraries or give one plugin another id",
                                        first.string()));
  ASSERT_NE(host.find("scorer_example_c"), nullptr);
  EXPECT_EQ(host.find("scorer_example_c")->record().file, first);
  expect_good_plugin_kept("scorer_example_cpp");
}

TEST_F(PluginHostTest, APluginWhoseInitFailsIsRefused) {
  dir_.add_fixture("init_fails");
  dir_.add_good();
  load();
  expect_refused("init_fails",
                 "init failed (config error): api_url http://127.0.0.1:9 refused the connection; fix the plugin's "
                 "configuration");
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, APluginThatThrowsThroughTheCppLayerIsRefused) {
  dir_.add_fixture("throws_cpp");
  dir_.add_good();
  load();
  expect_refused("throws_cpp",
                 "init failed (fatal error): unexpected exception: model file /nonexistent/model.bin is missing; see "
                 "the plugin's log lines above");
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, AnExceptionThrownAcrossTheCBoundaryIsCaught) {
  dir_.add_fixture("throws_raw");
  dir_.add_good();
  load();
  expect_refused("throws_raw",
                 "create threw an exception (raw exception across the C boundary); a plugin must return a status "
                 "instead of throwing (the SDK's C++ layer does this)");
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, ConfigurationThatBreaksTheSchemaIsRefused) {
  dir_.add_good("scorer_example_c");
  dir_.add_good("scorer_example_cpp");
  load({{"scorer_example_c", {{"config", {{"max_recency_days", "soon"}}}}}});
  expect_refused("scorer_example_c",
                 "configuration breaks the plugin's schema: /max_recency_days: must be of type number, not string; "
                 "fix plugins.scorer_example_c.config in the host configuration");
  expect_good_plugin_kept("scorer_example_cpp");
}

TEST_F(PluginHostTest, ManifestThatDisagreesWithTheBinaryIsRefused) {
  dir_.add_fixture("manifest_mismatch");
  dir_.add_good();
  load();
  expect_refused("manifest_mismatch",
                 "manifest disagrees with the compiled descriptor: version is 2.3.0 in manifest_mismatch.json but "
                 "1.0.0 in the library; ship the manifest that was built with this library");
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, AVendorPackLoadsEveryPluginItHolds) {
  dir_.add_fixture("vendor_pack");
  PluginHost& host = load();
  EXPECT_EQ(host.refused_count(), 0U);
  ASSERT_NE(host.find("pack_scorer_a"), nullptr);
  ASSERT_NE(host.find("pack_scorer_b"), nullptr);
  EXPECT_EQ(host.find("pack_scorer_a")->record().file, host.find("pack_scorer_b")->record().file);
}

TEST_F(PluginHostTest, ADisabledPluginIsListedButNotStarted) {
  dir_.add_good("scorer_example_c");
  dir_.add_good("scorer_example_cpp");
  load({{"scorer_example_cpp", {{"enabled", false}}}});
  const PluginRecord* record = test_.record("scorer_example_cpp");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->state, PluginState::disabled);
  EXPECT_EQ(record->reason, "disabled in the configuration (plugins.scorer_example_cpp.enabled)");
  EXPECT_EQ(test_.host().find("scorer_example_cpp"), nullptr);
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, APluginThatNeedsSettingsAndHasNoneIsUnconfiguredNotRefused) {
  dir_.add_fixture("services_probe");
  dir_.add_good();
  PluginHost& host = load();
  const PluginRecord* record = test_.record("services_probe");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->state, PluginState::unconfigured);
  EXPECT_EQ(record->reason,
            "needs configuration (/: missing required property \"token\"); add plugins.services_probe.config to the "
            "host configuration");
  EXPECT_EQ(host.refused_count(), 0U);
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, SettingsForAnUnknownPluginIdAreReportedWithTheClosestKnownId) {
  dir_.add_good();
  dir_.add_good("scorer_example_cpp");
  load({{"scorer_exmaple_c", {{"config", {{"max_recency_days", 30}}}}}});
  const auto lines = test_.log_lines();
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.find(
               "WARN  [host] plugins.scorer_exmaple_c: no plugin found has this id; did you mean "
               "scorer_example_c? (fix the id, or remove the entry)") != std::string::npos;
  }));
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, SettingsForAnUnknownPluginIdAreAnErrorWhenAskedAsCrmhostDoes) {
  dir_.add_good();
  dir_.add_good("scorer_example_cpp");
  PluginHostOptions options;
  options.default_isolation = testing::test_isolation();
  options.plugin_dirs = {dir_.path()};
  options.unknown_plugin_ids_are_errors = true;
  options.plugin_settings = {{"scorer_example_cp", {{"enabled", false}}},
                             {"scorer_example_c", nlohmann::json::object()}};
  try {
    test_.load(options);
    FAIL() << "an unknown plugin id must be a configuration error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "plugins.scorer_example_cp: no plugin found has this id; did you mean scorer_example_c or "
                 "scorer_example_cpp? (fix the id, or remove the entry)");
  }
}

TEST(PluginSettingsProblems, SuggestOnlyAnIdCloseEnoughAndListTheOthersOtherwise) {
  std::vector<PluginRecord> records(3);
  records[0].id = "scorer_health";
  records[1].id = "erp_csv";
  records[2].id = "scorer_rfm";
  records.emplace_back();  // a file whose manifest could not be read has no id
  const nlohmann::json settings = {{"scorer_heatlh", {}}, {"scorer_helth", {}}, {"erp_cvs", {}},
                                   {"crm_import", {}},    {"scorer_rfm", {}},   {"email_imap", {}}};
  EXPECT_EQ(plugin_settings_problems(settings, records),
            (std::vector<std::string>{
                "plugins.crm_import: no plugin found has this id; the plugins found are erp_csv, scorer_health, "
                "scorer_rfm (fix the id, or remove the entry)",
                "plugins.email_imap: no plugin found has this id; the plugins found are erp_csv, scorer_health, "
                "scorer_rfm (fix the id, or remove the entry)",
                "plugins.erp_cvs: no plugin found has this id; did you mean erp_csv? (fix the id, or remove the entry)",
                "plugins.scorer_heatlh: no plugin found has this id; did you mean scorer_health? (fix the id, or "
                "remove the entry)",
                "plugins.scorer_helth: no plugin found has this id; did you mean scorer_health? (fix the id, or remove "
                "the entry)"}));
  EXPECT_EQ(plugin_settings_problems({{"x", {}}}, {}),
            (std::vector<std::string>{"plugins.x: no plugin found has this id; no plugin was found at all; check "
                                      "plugin_dirs and --plugin-dir (fix the id, or remove the entry)"}));
  EXPECT_TRUE(plugin_settings_problems({{"scorer_rfm", {}}}, records).empty());
}

TEST_F(PluginHostTest, PluginFilesOrFoldersOtherUsersCanWriteAreRefusedUnlessAllowed) {
  const fs::path library = dir_.add_good();
  const fs::path manifest = fs::path(library).replace_extension(".json");
  const auto load_with = [&](bool allow) {
    testing::TestHost host;
    PluginHostOptions options;
    options.default_isolation = testing::test_isolation();
    options.plugin_dirs = {dir_.path()};
    options.allow_writable_plugins = allow;
    host.load(options);
    return *host.record("scorer_example_c");
  };
  // The files as a build with umask 022 leaves them load.
  EXPECT_EQ(load_with(false).state, PluginState::loaded);

  fs::permissions(library, fs::perms::group_write | fs::perms::others_write, fs::perm_options::add);
  PluginRecord record = load_with(false);
  EXPECT_EQ(record.state, PluginState::refused);
  EXPECT_EQ(record.reason,
            fmt::format("plugin file {} is writable by other users (mode 0777), so they could change the code crmhost "
                        "runs; chmod go-w it, or set allow_writable_plugins in the configuration",
                        library.string()));
  EXPECT_EQ(load_with(true).state, PluginState::loaded);
  fs::permissions(library, fs::perms::group_write | fs::perms::others_write, fs::perm_options::remove);

  // The manifest decides what the host believes of the library.
  fs::permissions(manifest, fs::perms::group_write, fs::perm_options::add);
  record = load_with(false);
  EXPECT_EQ(record.state, PluginState::refused);
  EXPECT_EQ(record.reason,
            fmt::format("plugin file {} is writable by other users (mode 0664), so they could change the code crmhost "
                        "runs; chmod go-w it, or set allow_writable_plugins in the configuration",
                        manifest.string()));
  fs::permissions(manifest, fs::perms::group_write, fs::perm_options::remove);

  // In a folder anyone may write to, anyone may put a library beside it, or in its place.
  fs::permissions(dir_.path(), fs::perms::others_write | fs::perms::others_exec, fs::perm_options::add);
  record = load_with(false);
  EXPECT_EQ(record.state, PluginState::refused);
  EXPECT_EQ(record.reason,
            fmt::format("plugin folder {} is writable by other users (mode 0757), so they could change the code "
                        "crmhost runs; chmod go-w it, or set allow_writable_plugins in the configuration",
                        dir_.path().string()));
  EXPECT_EQ(load_with(true).state, PluginState::loaded);
  fs::permissions(dir_.path(), fs::perms::others_write, fs::perm_options::remove);
  EXPECT_EQ(load_with(false).state, PluginState::loaded);
}

TEST_F(PluginHostTest, PluginFilesOwnedByAnotherUserAreRefused) {
  const fs::path library = dir_.add_good();
  if (::geteuid() != 0) {
    // Without root no file can be given to another user; root's own files are trusted, as sshd trusts them.
    EXPECT_EQ(unsafe_plugin_path_problem("/usr"), "");
    return;
  }
  constexpr uid_t kNobody = 65534;
  ASSERT_EQ(::chown(library.c_str(), kNobody, static_cast<gid_t>(-1)), 0);
  PluginHost& host = load();
  const PluginRecord* record = test_.record("scorer_example_c");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->state, PluginState::refused);
  EXPECT_NE(record->reason.find(fmt::format("plugin file {} is owned by ", library.string())), std::string::npos)
      << record->reason;
  EXPECT_NE(record->reason.find("uid 65534"), std::string::npos) << record->reason;
  EXPECT_NE(record->reason.find(", neither root nor the user running crmhost, root (uid 0), so that user "
                                "could change the code crmhost runs; chown it, or set allow_writable_plugins in the "
                                "configuration"),
            std::string::npos)
      << record->reason;
  EXPECT_EQ(host.find("scorer_example_c"), nullptr);
}

TEST_F(PluginHostTest, APackDeclaringOneIdTwiceIsRefused) {
  const fs::path library = dir_.add_fixture("vendor_pack");
  dir_.write("vendor_pack.json", R"({"abi": "1.1", "plugins": [
      {"id": "pack_scorer_a", "kind": "scorer", "version": "1.0.0"},
      {"id": "pack_scorer_a", "kind": "scorer", "version": "1.0.0"}]})");
  PluginHost& host = load();
  ASSERT_EQ(host.records().size(), 1U);
  EXPECT_EQ(host.records()[0].file, library);
  EXPECT_EQ(host.records()[0].reason,
            "bad manifest: vendor_pack.json: plugin id \"pack_scorer_a\" is declared twice; give every plugin of a "
            "pack its own id; fix vendor_pack.json");
}

// --- host services and secrets, through the services_probe fixture

constexpr const char* kToken = "s3cr3t-token-value";

TEST_F(PluginHostTest, HostServicesWorkAndSecretsNeverReachTheLog) {
  dir_.add_fixture("services_probe");
  load({{"services_probe", {{"config", {{"token", {{"env", "CRM_TEST_TOKEN"}}}}}}}}, {{"CRM_TEST_TOKEN", kToken}});
  ASSERT_NE(test_.host().find("services_probe"), nullptr) << test_.record("services_probe")->reason;
  const std::vector<std::string> lines = test_.log_lines();
  const auto has_line = [&](const std::string& fragment) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& line) { return line.find(fragment) != std::string::npos; });
  };
  // The plugin saw its configuration with the reference, and the default filled in.
  EXPECT_TRUE(has_line(R"(config={"greeting":"hello","token":{"env":"CRM_TEST_TOKEN"}})"));
  // secret_get gave the value (and its size through BUFFER_TOO_SMALL), and the log masked it.
  EXPECT_TRUE(has_line("[services_probe] secret token has 18 bytes (needed 18): ***"));
  EXPECT_FALSE(has_line(kToken));
  EXPECT_TRUE(has_line("greeting=\"hello\""));
  EXPECT_TRUE(has_line(fmt::format("now_ms={} cancelled=0", testing::TestHost::kStartMs)));
  EXPECT_EQ(test_.state().read_checkpoint("services_probe"), std::optional<std::string>("cursor-1"));
  const auto quarantined = test_.state().quarantined();
  ASSERT_EQ(quarantined.size(), 1U);
  EXPECT_EQ(quarantined[0].plugin_id, "services_probe");
  EXPECT_EQ(quarantined[0].raw_record, "7;ACME;abc");
  EXPECT_EQ(quarantined[0].reason, "line 7: column 'amount' is not a number");
  EXPECT_EQ(quarantined[0].created_ms, testing::TestHost::kStartMs);
}

TEST_F(PluginHostTest, AnInlineSecretIsRefusedWithoutEchoingIt) {
  dir_.add_fixture("services_probe");
  dir_.add_good();
  load({{"services_probe", {{"config", {{"token", kToken}}}}}});
  expect_refused("services_probe",
                 "configuration: /token is a secret and must be given as {\"env\": \"VARIABLE\"}, not inline; put the "
                 "value in an environment variable and reference it in plugins.services_probe.config");
  for (const std::string& line : test_.log_lines()) {
    EXPECT_EQ(line.find(kToken), std::string::npos) << line;
  }
  expect_good_plugin_kept();
}

TEST_F(PluginHostTest, ASecretWhoseVariableIsUnsetIsRefused) {
  dir_.add_fixture("services_probe");
  load({{"services_probe", {{"config", {{"token", {{"env", "CRM_TEST_TOKEN"}}}}}}}});
  expect_refused("services_probe",
                 "configuration: secret /token refers to environment variable CRM_TEST_TOKEN, which is not set; set it "
                 "before starting the host");
}

TEST_F(PluginHostTest, ASecretIsValidatedAgainstTheSchemaWithoutBeingShown) {
  dir_.add_fixture("services_probe");
  load({{"services_probe", {{"config", {{"token", {{"env", "CRM_TEST_TOKEN"}}}}}}}}, {{"CRM_TEST_TOKEN", "short"}});
  expect_refused("services_probe",
                 "configuration breaks the plugin's schema: /token: must be at least 8 characters long; fix "
                 "plugins.services_probe.config in the host configuration");
}

TEST_F(PluginHostTest, CheckpointsPersistAcrossInstancesOfTheSameStore) {
  dir_.add_fixture("services_probe");
  const nlohmann::json settings = {{"services_probe", {{"config", {{"token", {{"env", "T"}}}}}}}};
  load(settings, {{"T", kToken}});
  // A second host over the same state store resumes from the first one's cursor.
  Logger quiet_logger(test_.clock(), LogLevel::error, [](std::string_view) {});
  PluginHost second(quiet_logger, test_.clock(), test_.state(), test_.cancelled());
  PluginHostOptions options;
  options.default_isolation = testing::test_isolation();
  options.plugin_dirs = {dir_.path()};
  options.plugin_settings = settings;
  options.environment = [](const std::string&) { return std::optional<std::string>(kToken); };
  second.load(options);
  EXPECT_EQ(test_.state().read_checkpoint("services_probe"), std::optional<std::string>("cursor-1+1"));
}

TEST_F(PluginHostTest, ScorerNeedingAFeatureTheHostDoesNotComputeIsRefusedUnlessDisabled) {
  dir_.add_good("scorer_example_cpp");
  dir_.add_good();
  PluginHostOptions options;
  options.default_isolation = testing::test_isolation();
  options.plugin_dirs = {dir_.path()};
  options.available_features = {"recency_days", "days_since_login"};
  test_.load(options);
  expect_refused("scorer_example_cpp",
                 "it needs feature complaints_window that this host does not compute; see `crmhost features` for the "
                 "list, or upgrade the host");
  expect_good_plugin_kept();

  testing::TestHost other;
  options.plugin_settings = {{"scorer_example_cpp", {{"enabled", false}}}};
  other.load(options);
  EXPECT_EQ(other.record("scorer_example_cpp")->state, PluginState::disabled);
}

TEST_F(PluginHostTest, AScorerBuiltForAbi10LoadsAndScoresInThisHost) {
  dir_.add_fixture("abi_1_0_scorer");
  load();
  LoadedPlugin* scorer = test_.host().find("abi_1_0_scorer");
  ASSERT_NE(scorer, nullptr) << test_.record("abi_1_0_scorer")->reason;
  EXPECT_EQ(test_.record("abi_1_0_scorer")->abi, "1.0");
  EXPECT_FALSE(is_trainable(*scorer));
  EXPECT_TRUE(reason_codes(*scorer).empty());
  FeatureBatch batch;
  batch.customer_ids = {"a", "b"};
  const ScoreResult result = score_batch(*scorer, batch, true);
  EXPECT_EQ(result.scores, (std::vector<double>{50.0, 50.0}));
  EXPECT_TRUE(result.reasons.empty());
  EXPECT_TRUE(result.output_columns.empty());
}

TEST_F(PluginHostTest, APluginTargetingAnOlderMinorWithTodaysSdkLoadsAsThatVersion) {
  // Built through crm_add_plugin from a manifest saying "abi": "1.0": the C++
  // layer filled a scorer table of the 1.0 size and reports 1.0, as a 1.0 host needs.
  dir_.add_fixture("target_1_0_cpp");
  load({{"target_1_0_cpp", {{"config", {{"score", 61.5}}}}}});
  LoadedPlugin* scorer = test_.host().find("target_1_0_cpp");
  ASSERT_NE(scorer, nullptr) << test_.record("target_1_0_cpp")->reason;
  EXPECT_EQ(test_.record("target_1_0_cpp")->abi, "1.0");
  ASSERT_NE(scorer->scorer_api(), nullptr);
  EXPECT_EQ(scorer->scorer_api()->struct_size, offsetof(crm_scorer_api, score) + sizeof(crm_on_score_fn));
  EXPECT_FALSE(is_trainable(*scorer));
  FeatureBatch batch;
  batch.customer_ids = {"a"};
  EXPECT_EQ(score_batch(*scorer, batch, false).scores, std::vector<double>{61.5});
}

TEST_F(PluginHostTest, APluginBuiltForAbi11KeepsLoadingAndUsingTheHostServices) {
  dir_.add_fixture("services_probe");
  load({{"services_probe", {{"config", {{"token", {{"env", "CRM_TEST_TOKEN"}}}}}}}}, {{"CRM_TEST_TOKEN", kToken}});
  ASSERT_NE(test_.host().find("services_probe"), nullptr) << test_.record("services_probe")->reason;
  EXPECT_EQ(test_.record("services_probe")->abi, "1.1");
  EXPECT_EQ(test_.state().read_checkpoint("services_probe"), std::optional<std::string>("cursor-1"));
}

TEST_F(PluginHostTest, AChannelBuiltForAbi11LoadsWithoutPerRecipientLimits) {
  // Its crm_channel_api ends at send: the 1.3 per-recipient limits read as 0, no limit.
  dir_.add_fixture("fatal_channel");
  load();
  LoadedPlugin* channel = test_.host().find("fatal_channel");
  ASSERT_NE(channel, nullptr) << test_.record("fatal_channel")->reason;
  EXPECT_EQ(test_.record("fatal_channel")->abi, "1.1");
  ASSERT_NE(channel->channel_api(), nullptr);
  EXPECT_EQ(channel->channel_api()->struct_size, offsetof(crm_channel_api, send) + sizeof(crm_on_send_fn));
  EXPECT_EQ(channel->channel_api()->recipient_messages_per_minute, 0U);
  EXPECT_EQ(channel->channel_api()->recipient_messages_per_hour, 0U);
}

TEST(PluginCallScope, NamesTheInnermostCallAndRestoresTheOuterOne) {
  EXPECT_EQ(current_plugin_call(), "");
  {
    const PluginCallScope library("vendor_pack.so", "load");
    EXPECT_EQ(current_plugin_call(), "plugin 'vendor_pack.so' (load)");
    {
      const PluginCallScope create("vendor_scorer", "create");
      EXPECT_EQ(current_plugin_call(), "plugin 'vendor_scorer' (create)");
    }
    EXPECT_EQ(current_plugin_call(), "plugin 'vendor_pack.so' (load)");
  }
  EXPECT_EQ(current_plugin_call(), "");
  // A name longer than the record holds is cut, not overflowed.
  const PluginCallScope long_name(std::string(500, 'x'), "fetch");
  EXPECT_EQ(current_plugin_call(), "plugin '" + std::string(160, 'x') + "' (fetch)");
}

TEST_F(PluginHostTest, APluginThatExitsInCreateEndsTheProcessWithTheChosenCodeNamingItself) {
  dir_.add(kProcessEnders, "exits_in_create");
  EXPECT_EXIT(
      {
        install_plugin_fault_reporting(7);
        load({{"exits_in_create", {{"isolation", "in_process"}}}});
      },
      ::testing::ExitedWithCode(7), "crmhost: plugin 'exits_in_create' ended the process during its create call");
}

TEST_F(PluginHostTest, ACheckWithoutInstancesValidatesEveryPluginButCreatesNone) {
  // Its create calls exit(0): were it called, this test would end.
  dir_.add(kProcessEnders, "exits_in_create");
  dir_.add_good();
  PluginHostOptions options;
  options.default_isolation = testing::test_isolation();
  options.plugin_dirs = {dir_.path()};
  options.plugin_settings = {{"scorer_example_c", {{"config", {{"max_recency_days", -1}}}}}};
  options.create_instances = false;
  PluginHost& host = test_.load(options);
  ASSERT_NE(test_.record("exits_in_create"), nullptr);
  EXPECT_EQ(test_.record("exits_in_create")->state, PluginState::loaded);
  ASSERT_NE(test_.record("scorer_example_c"), nullptr);
  EXPECT_EQ(test_.record("scorer_example_c")->state, PluginState::refused);
  EXPECT_TRUE(host.plugins().empty());
}

}  // namespace
}  // namespace crm::host
