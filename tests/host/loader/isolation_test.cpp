// Plugins in a worker process: real misbehaving plugins (tests/fixtures/plugins/misbehaving_*)
// crash, abort, exit, hang, run out of memory and lie, and the host survives each, names the
// plugin, the call and the cause, restarts the worker, and disables the plugin after too many.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "loader/channel_call.hpp"
#include "loader/plugin_host.hpp"
#include "loader/scorer_call.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

const fs::path kProcessEnders = fs::path(CRM_TEST_PLUGIN_DIR) / "process-enders";

// Sets an environment variable for one test (before its worker starts; no other thread reads the
// environment then) and puts back what was there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* previous = std::getenv(name); previous != nullptr) {  // NOLINT(concurrency-mt-unsafe)
      saved_ = previous;
    }
    ::setenv(name, value, 1);  // NOLINT(concurrency-mt-unsafe)
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;
  ~ScopedVariable() {
    if (saved_) {
      ::setenv(name_, saved_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    } else {
      ::unsetenv(name_);  // NOLINT(concurrency-mt-unsafe)
    }
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

// /proc/PID/NAME of a worker, whole.
std::string proc_file(pid_t pid, const char* name) {
  std::ifstream file(fmt::format("/proc/{}/{}", pid, name));
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

class IsolationTest : public ::testing::Test {
 protected:
  IsolationTest() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / fmt::format("crm-isolation-{}-{}", test->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "plugins");
  }
  ~IsolationTest() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void add(const fs::path& from, const std::string& name) {
    fs::copy_file(from / (name + ".so"), dir_ / "plugins" / (name + ".so"));
    fs::copy_file(from / (name + ".json"), dir_ / "plugins" / (name + ".json"));
  }

  LoadedPlugin& load(const std::string& id, const nlohmann::json& config, WorkerSettings worker = {},
                     nlohmann::json extra_settings = nlohmann::json::object()) {
    PluginHostOptions options;
    options.plugin_dirs = {dir_ / "plugins"};
    nlohmann::json settings = extra_settings;
    settings["config"] = config;
    options.plugin_settings = {{id, settings}};
    options.default_isolation = PluginIsolation::process;
    options.worker = std::move(worker);
    host_.load(options);
    LoadedPlugin* plugin = host_.host().find(id);
    if (plugin == nullptr) {
      ADD_FAILURE() << id << " did not load: " << (host_.record(id) ? host_.record(id)->reason : "no record");
      throw std::runtime_error("not loaded");
    }
    return *plugin;
  }

  static FeatureBatch two_customers() {
    FeatureBatch batch;
    batch.customer_ids = {"c1", "c2"};
    return batch;
  }

  // The message of the PluginCallError a scoring call throws, and its status.
  static std::pair<crm_status, std::string> score_failure(LoadedPlugin& scorer) {
    try {
      score_batch(scorer, two_customers(), false);
    } catch (const PluginCallError& e) {
      return {e.status(), e.what()};
    }
    return {CRM_STATUS_OK, ""};
  }

  static std::string contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos ? "" : fmt::format("'{}' is not in '{}'", part, text);
  }

  fs::path dir_;
  testing::TestHost host_;
};

TEST_F(IsolationTest, PluginsNotBuiltWithTheProductRunInAWorkerByDefaultAndTheProductsInTheHost) {
  add(kProcessEnders, "misbehaving_scorer");
  // A library claiming a bundled id, outside crmhost's own plugin folder, is not trusted for it.
  add(CRM_PLUGIN_DIR, "scorer_example_c");
  PluginHostOptions options;
  options.plugin_dirs = {dir_ / "plugins"};
  host_.load(options);
  ASSERT_NE(host_.record("misbehaving_scorer"), nullptr);
  EXPECT_EQ(host_.record("misbehaving_scorer")->isolation, "process");
  EXPECT_NE(host_.host().find("misbehaving_scorer")->remote(), nullptr);
  EXPECT_EQ(host_.record("scorer_example_c")->isolation, "process");

  testing::TestHost product;
  PluginHostOptions from_product_folder;
  from_product_folder.plugin_dirs = {CRM_PLUGIN_DIR};
  product.load(from_product_folder);
  ASSERT_NE(product.record("scorer_example_c"), nullptr);
  EXPECT_EQ(product.record("scorer_example_c")->isolation, "in_process");
  ASSERT_NE(product.host().find("scorer_example_c"), nullptr);
  EXPECT_EQ(product.host().find("scorer_example_c")->remote(), nullptr);
}

TEST_F(IsolationTest, AScorerScoresTheSameInAWorkerAsInTheHost) {
  add(CRM_PLUGIN_DIR, "scorer_rfm");
  testing::TestHost in_host;
  PluginHostOptions options;
  options.plugin_dirs = {dir_ / "plugins"};
  options.default_isolation = PluginIsolation::in_process;
  in_host.load(options);
  LoadedPlugin* local = in_host.host().find("scorer_rfm");
  ASSERT_NE(local, nullptr);
  LoadedPlugin& isolated = load("scorer_rfm", nlohmann::json::object());
  ASSERT_NE(isolated.remote(), nullptr);
  // Every feature it reads, over a spread of values with some missing.
  FeatureBatch batch;
  batch.as_of_ms = testing::TestHost::kStartMs;
  batch.feature_names = required_features(*local);
  for (int i = 0; i < 500; ++i) {
    batch.customer_ids.push_back(fmt::format("c{}", i));
  }
  for (std::size_t k = 0; k < batch.feature_names.size(); ++k) {
    std::vector<double> column;
    for (int i = 0; i < 500; ++i) {
      column.push_back((i + static_cast<int>(k)) % 37 == 0 ? std::nan("")
                                                           : static_cast<double>((i * 7919 + k * 31) % 1000) / 10.0);
    }
    batch.columns.push_back(std::move(column));
  }
  const ScoreResult expected = score_batch(*local, batch, true);
  const ScoreResult got = score_batch(isolated, batch, true);
  const auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](double x, double y) {
             return (std::isnan(x) && std::isnan(y)) || x == y;
           });
  };
  EXPECT_TRUE(same(got.scores, expected.scores));
  EXPECT_EQ(got.reasons, expected.reasons);
  ASSERT_EQ(got.output_columns.size(), expected.output_columns.size());
  for (std::size_t c = 0; c < got.output_columns.size(); ++c) {
    EXPECT_TRUE(same(got.output_columns[c], expected.output_columns[c])) << c;
  }
  EXPECT_TRUE(same(got.contributions, expected.contributions));
}

TEST_F(IsolationTest, BatchesCrossInSharedMemoryAndTheWorkerHoldsNoSecretOfTheHost) {
  add(kProcessEnders, "misbehaving_scorer");
  const ScopedVariable secret("CRM_TEST_HOST_SECRET", "s3cr3t-of-the-host");
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "ok"}});
  score_batch(scorer, two_customers(), false);
  const pid_t worker = scorer.remote()->status().pid;
  ASSERT_GT(worker, 0);
  EXPECT_EQ(contains(proc_file(worker, "maps"), "/memfd:crm-plugin"), "");
  const std::string variables = proc_file(worker, "environ");
  EXPECT_EQ(variables.find("s3cr3t-of-the-host"), std::string::npos);
  EXPECT_EQ(variables.find("CRM_TEST_HOST_SECRET"), std::string::npos);
}

// crmhost restarts itself with glibc's heap on huge pages (core/huge_page_heap.hpp); its workers get the same heap.
TEST_F(IsolationTest, AWorkerRunsOnTheHostsGlibcTunables) {
  add(kProcessEnders, "misbehaving_scorer");
  const ScopedVariable tunables("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "ok"}});
  score_batch(scorer, two_customers(), false);
  const pid_t worker = scorer.remote()->status().pid;
  ASSERT_GT(worker, 0);
  EXPECT_NE(proc_file(worker, "environ").find(std::string("GLIBC_TUNABLES=glibc.malloc.hugetlb=1") + '\0'),
            std::string::npos);
}

TEST_F(IsolationTest, ASegfaultEndsTheWorkerNotTheHostAndNamesThePluginTheCallAndTheSignal) {
  add(kProcessEnders, "misbehaving_scorer");
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "segfault"}});
  const auto [status, message] = score_failure(scorer);
  EXPECT_EQ(status, CRM_STATUS_RETRIABLE);
  EXPECT_EQ(contains(message,
                     "plugin 'misbehaving_scorer' crashed in score: its worker ended, killed by signal 11 "
                     "(SIGSEGV)"),
            "");
  EXPECT_EQ(scorer.remote()->status().crashes, 1);
}

TEST_F(IsolationTest, AbortAndExitEndTheWorkerWithTheirCause) {
  add(kProcessEnders, "misbehaving_scorer");
  LoadedPlugin& aborts = load("misbehaving_scorer", {{"does", "abort"}});
  EXPECT_EQ(contains(score_failure(aborts).second, "killed by signal 6 (SIGABRT)"), "");
  testing::TestHost second;
  PluginHostOptions options;
  options.plugin_dirs = {dir_ / "plugins"};
  options.plugin_settings = {{"misbehaving_scorer", {{"config", {{"does", "exit"}}}}}};
  options.default_isolation = PluginIsolation::process;
  second.load(options);
  ASSERT_NE(second.host().find("misbehaving_scorer"), nullptr);
  EXPECT_EQ(contains(score_failure(*second.host().find("misbehaving_scorer")).second,
                     "crashed in score: its worker ended, exit code 3"),
            "");
}

TEST_F(IsolationTest, RunningOutOfMemoryUnderTheWorkersLimitEndsTheWorkerOnly) {
  add(kProcessEnders, "misbehaving_scorer");
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "oom"}}, {}, {{"limits", {{"memory_mb", 256}}}});
  const auto [status, message] = score_failure(scorer);
  EXPECT_EQ(status, CRM_STATUS_RETRIABLE);
  EXPECT_EQ(contains(message, "plugin 'misbehaving_scorer' crashed in score: its worker ended"), "");
  EXPECT_EQ(contains(message, "(its memory limit is 256 MB)"), "");
}

TEST_F(IsolationTest, ACrashedWorkerIsReplacedAndTheNextCallIsAnswered) {
  add(kProcessEnders, "misbehaving_scorer");
  const fs::path once = dir_ / "crashed-once";
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "segfault"}, {"once_file", once.string()}});
  EXPECT_EQ(score_failure(scorer).first, CRM_STATUS_RETRIABLE);
  const ScoreResult result = score_batch(scorer, two_customers(), false);
  EXPECT_EQ(result.scores, (std::vector<double>{50.0, 50.0}));
  EXPECT_EQ(scorer.remote()->status().restarts, 1);
  EXPECT_TRUE(scorer.remote()->status().running);
}

TEST_F(IsolationTest, AfterTooManyCrashesInAWindowThePluginIsDisabledAndNoWorkerStartsAgain) {
  add(kProcessEnders, "misbehaving_scorer");
  WorkerSettings worker;
  worker.crash_limit = 3;
  worker.restart_backoff_ms = 1;
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "segfault"}}, worker);
  EXPECT_EQ(score_failure(scorer).first, CRM_STATUS_RETRIABLE);
  EXPECT_EQ(score_failure(scorer).first, CRM_STATUS_RETRIABLE);
  const auto [status, message] = score_failure(scorer);
  EXPECT_EQ(status, CRM_STATUS_FATAL);
  EXPECT_EQ(contains(message,
                     "disabled for the rest of this run after 3 failures within 600 s; the last: plugin "
                     "'misbehaving_scorer' crashed in score"),
            "");
  EXPECT_EQ(score_failure(scorer).first, CRM_STATUS_FATAL);
  EXPECT_EQ(scorer.remote()->status().crashes, 3);
  EXPECT_EQ(scorer.remote()->status().restarts, 2);
  EXPECT_FALSE(scorer.remote()->status().running);
}

TEST_F(IsolationTest, AHungCallPassesItsDeadlineAndItsWorkerIsStopped) {
  add(kProcessEnders, "misbehaving_scorer");
  LoadedPlugin& scorer = load("misbehaving_scorer", {{"does", "hang"}}, {}, {{"deadlines_ms", {{"score", 300}}}});
  const auto started = std::chrono::steady_clock::now();
  const auto [status, message] = score_failure(scorer);
  EXPECT_EQ(status, CRM_STATUS_RETRIABLE);
  EXPECT_EQ(contains(message,
                     "plugin 'misbehaving_scorer' did not finish score within its deadline of 300 ms; its "
                     "worker was stopped"),
            "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

TEST_F(IsolationTest, AConnectorIgnoringCancellationIsStoppedAfterTheGrace) {
  add(kProcessEnders, "misbehaving_connector");
  testing::SyncHarness sync(dir_ / "crm.db");
  WorkerSettings worker;
  worker.cancel_grace_ms = 300;
  LoadedPlugin& connector = sync.load(
      {dir_ / "plugins"}, {{"misbehaving_connector", {{"isolation", "process"}, {"config", {{"does", "hang"}}}}}},
      "misbehaving_connector", {}, worker);
  ASSERT_NE(connector.remote(), nullptr);
  // Cancels once the plugin says it is stuck, as Ctrl-C would.
  std::thread stopper([&sync] {
    const auto stuck = [&sync] {
      for (const std::string& line : sync.log_lines()) {
        if (line.find("misbehaving: about to hang") != std::string::npos) {
          return true;
        }
      }
      return false;
    };
    while (!stuck()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    sync.cancelled().store(true);
  });
  const SyncSummary summary = sync.sync(connector);
  stopper.join();
  EXPECT_EQ(summary.status, "cancelled") << summary.message;
  EXPECT_EQ(connector.remote()->status().crashes, 1);
  EXPECT_EQ(contains(connector.remote()->status().last_failure,
                     "plugin 'misbehaving_connector' did not stop fetch within 300 ms of the run being cancelled; its "
                     "worker was stopped"),
            "");
}

TEST_F(IsolationTest, LyingBatchesEndAsFailuresOfTheConnectorNeverOfTheHost) {
  add(kProcessEnders, "misbehaving_connector");
  const std::vector<std::pair<std::string, std::string>> lies = {
      {"lie_pointer", "crashed in fetch: its worker ended, killed by signal 11 (SIGSEGV)"},
      {"lie_count", "record set 0 claims 1099511627776 records of"}};
  for (const auto& [lie, expected] : lies) {
    testing::SyncHarness sync(dir_ / (lie + ".db"));
    LoadedPlugin& connector = sync.load(
        {dir_ / "plugins"}, {{"misbehaving_connector", {{"isolation", "process"}, {"config", {{"does", lie}}}}}},
        "misbehaving_connector");
    const SyncSummary summary = sync.sync(connector);
    EXPECT_EQ(summary.status, "failed") << lie;
    EXPECT_EQ(contains(summary.message, expected), "") << lie;
    EXPECT_EQ(sync.count("SELECT COUNT(*) FROM customers"), 0) << lie << ": nothing of a lying batch is written";
  }
  // A string with a size but no bytes is read as unknown, as the host reads it in its own process.
  testing::SyncHarness sync(dir_ / "lie_string.db");
  LoadedPlugin& connector = sync.load(
      {dir_ / "plugins"}, {{"misbehaving_connector", {{"isolation", "process"}, {"config", {{"does", "lie_string"}}}}}},
      "misbehaving_connector");
  const SyncSummary summary = sync.sync(connector);
  EXPECT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(sync.count("SELECT COUNT(*) FROM customers"), 2);
}

TEST_F(IsolationTest, AChannelWorkerThatDiesMidSendIsNotAskedToSendTwice) {
  add(kProcessEnders, "misbehaving_channel");
  const fs::path sent = dir_ / "sent.log";
  LoadedPlugin& channel =
      load("misbehaving_channel",
           {{"does", "exit"}, {"once_file", (dir_ / "exited-once").string()}, {"log_file", sent.string()}});
  Notification notification;
  notification.idempotency_key = "alert-7-opened";
  notification.title = "Customer at risk";
  notification.recipients = {"am@example.com"};
  const DeliveryResult first = send_notification(channel, notification);
  EXPECT_EQ(first.outcome, DeliveryOutcome::retriable);
  EXPECT_EQ(contains(first.error, "plugin 'misbehaving_channel' crashed in send: its worker ended, exit code 3"), "");
  const DeliveryResult second = send_notification(channel, notification);
  EXPECT_EQ(second.outcome, DeliveryOutcome::delivered) << second.error;
  std::ifstream log(sent);
  std::stringstream lines;
  lines << log.rdbuf();
  EXPECT_EQ(lines.str(), "alert-7-opened\n");
}

TEST_F(IsolationTest, AWorkerThatCannotBeStartedRefusesThePluginWithTheReason) {
  add(kProcessEnders, "misbehaving_scorer");
  PluginHostOptions options;
  options.plugin_dirs = {dir_ / "plugins"};
  options.default_isolation = PluginIsolation::process;
  options.worker.worker_executable = dir_ / "no-such-worker";
  host_.load(options);
  ASSERT_NE(host_.record("misbehaving_scorer"), nullptr);
  EXPECT_EQ(host_.record("misbehaving_scorer")->state, PluginState::refused);
  EXPECT_EQ(contains(host_.record("misbehaving_scorer")->reason, "cannot start the plugin worker"), "");
}

}  // namespace
}  // namespace crm::host
