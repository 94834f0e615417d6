#include "service/metrics_collector.hpp"

#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

#include "loader/plugin_call_guard.hpp"
#include "store/store.hpp"
#include "support/child_process.hpp"
#include "support/required_program.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kNowMs = 1'700'000'000'000;

class MetricsCollectorTest : public ::testing::Test {
 protected:
  MetricsCollectorTest()
      : dir_(fs::temp_directory_path() / fmt::format("crm-metrics-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())),
        store_((fs::remove_all(dir_), fs::create_directories(dir_), testing::store_locator(dir_ / "crm.db"))) {
    // Two red alerts open (one past its deadline), one orange acknowledged past its deadline
    // (acknowledged: it met it), one resolved; the outbox with 2 pending, 1 dead, 1 sent.
    store_.database().exec(fmt::format(
        "INSERT INTO alerts(id, customer_id, reason, level, state, opened_ms, updated_ms, deadline_ms) VALUES "
        "(1, 1, 'band', 'red', 'open', 0, 0, {0}), (2, 2, 'band', 'red', 'open', 0, 0, {1}), "
        "(3, 3, 'band', 'orange', 'acknowledged', 0, 0, {0}), (4, 4, 'band', 'yellow', 'resolved', 0, 0, {0});"
        "INSERT INTO outbox(id, alert_id, channel_id, idempotency_key, notification, state, next_attempt_ms, "
        "created_ms) VALUES (1, 1, 'alert_console', 'k1', '{{}}', 'pending', 0, 0), "
        "(2, 1, 'alert_console', 'k2', '{{}}', 'pending', 0, 0), (3, 2, 'alert_console', 'k3', '{{}}', 'dead', 0, 0), "
        "(4, 2, 'alert_console', 'k4', '{{}}', 'sent', 0, 0);",
        kNowMs - 1, kNowMs + 3'600'000));
  }
  MetricsCollectorTest(const MetricsCollectorTest&) = delete;
  MetricsCollectorTest& operator=(const MetricsCollectorTest&) = delete;
  ~MetricsCollectorTest() override { fs::remove_all(dir_); }

  fs::path dir_;
  Store store_;
};

bool contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// promtool's verdict on `exposition`: its exit code and everything it printed.
std::pair<int, std::string> promtool_check(const fs::path& dir, const std::string& exposition) {
  testing::require(testing::kPromtool);
  const fs::path file = dir / "metrics.txt";
  std::ofstream(file) << exposition;
  testing::ShellResult result =
      testing::run_shell(fmt::format("'{}' check metrics < '{}' 2>&1", testing::kPromtool.path, file.string()));
  return {result.exit_code, std::move(result.output)};
}

TEST_F(MetricsCollectorTest, StoreGaugesAreReadAtScrape) {
  MetricsCollector collector;
  std::string text = collector.scrape(store_, kNowMs);
  EXPECT_TRUE(contains(text, "crm_alerts_open{level=\"red\"} 2")) << text;
  EXPECT_EQ(text.find("crm_alerts_open{level=\"orange\"}"), std::string::npos) << text;
  EXPECT_TRUE(contains(text, "crm_alerts_past_deadline 1")) << text;
  EXPECT_TRUE(contains(text, "crm_outbox_messages{state=\"pending\"} 2")) << text;
  EXPECT_TRUE(contains(text, "crm_outbox_messages{state=\"dead\"} 1")) << text;

  // Resolved since: a level with no open alert reads 0, not its last count.
  store_.database().exec("UPDATE alerts SET state = 'resolved'; UPDATE outbox SET state = 'sent'");
  text = collector.scrape(store_, kNowMs);
  EXPECT_TRUE(contains(text, "crm_alerts_open{level=\"red\"} 0")) << text;
  EXPECT_TRUE(contains(text, "crm_alerts_past_deadline 0")) << text;
  EXPECT_TRUE(contains(text, "crm_outbox_messages{state=\"pending\"} 0")) << text;
  EXPECT_TRUE(contains(text, "crm_outbox_messages{state=\"dead\"} 0")) << text;
}

TEST_F(MetricsCollectorTest, ObservationsOfRequestsJobsSyncsAndPluginCallsAreCounted) {
  MetricsCollector collector;
  collector.observe_http_request("/api/v1/customers/{id}", "GET", 200, 0.004);
  collector.observe_http_request("/api/v1/customers/{id}", "GET", 200, 0.02);
  collector.observe_http_request("/api/v1/customers/{id}", "GET", 404, 0.001);
  collector.observe_job("sync:erp_csv", "ok", 12);
  SyncSummary sync;
  sync.connector_id = "erp_csv";
  sync.counts = {5, 3, 2};
  sync.quarantined = 4;
  collector.observe_sync(sync);
  collector.observe_sync(sync);
  collector.install();
  { const PluginCallScope in_plugin("scorer_health", "score"); }
  {
    // Nested scopes (a library's load, then a plugin's create) each report their own call.
    const PluginCallScope load("libpack.so", "load");
    const PluginCallScope create("scorer_rfm", "create");
  }
  collector.uninstall();
  { const PluginCallScope after("scorer_health", "score"); }  // not observed any more

  const std::string text = collector.scrape(store_, kNowMs);
  EXPECT_TRUE(
      contains(text, "crm_http_requests_total{route=\"/api/v1/customers/{id}\",method=\"GET\",status=\"200\"} 2"))
      << text;
  EXPECT_TRUE(
      contains(text, "crm_http_requests_total{route=\"/api/v1/customers/{id}\",method=\"GET\",status=\"404\"} 1"))
      << text;
  EXPECT_TRUE(contains(
      text, "crm_http_request_duration_seconds_bucket{route=\"/api/v1/customers/{id}\",method=\"GET\",le=\"0.005\"} 2"))
      << text;
  EXPECT_TRUE(
      contains(text, "crm_http_request_duration_seconds_count{route=\"/api/v1/customers/{id}\",method=\"GET\"} 3"))
      << text;
  EXPECT_TRUE(contains(text, "crm_job_runs_total{job=\"sync:erp_csv\",outcome=\"ok\"} 1")) << text;
  EXPECT_TRUE(contains(text, "crm_job_duration_seconds_sum{job=\"sync:erp_csv\"} 12")) << text;
  EXPECT_TRUE(contains(text, "crm_connector_records_synced_total{connector=\"erp_csv\"} 20")) << text;
  EXPECT_TRUE(contains(text, "crm_connector_records_quarantined_total{connector=\"erp_csv\"} 8")) << text;
  EXPECT_TRUE(contains(text, "crm_plugin_call_duration_seconds_count{plugin=\"scorer_health\",call=\"score\"} 1"))
      << text;
  EXPECT_TRUE(contains(text, "crm_plugin_call_duration_seconds_count{plugin=\"libpack.so\",call=\"load\"} 1")) << text;
  EXPECT_TRUE(contains(text, "crm_plugin_call_duration_seconds_count{plugin=\"scorer_rfm\",call=\"create\"} 1"))
      << text;
}

// Every family crmhost serve exposes, each with children, as Prometheus's own linter reads it.
TEST_F(MetricsCollectorTest, EveryFamilyPassesPromtoolCheckMetrics) {
  MetricsCollector collector;
  collector.observe_http_request("/api/v1/customers/{id}", "GET", 200, 0.004);
  collector.observe_http_request("unmatched", "POST", 404, 0.0001);
  collector.observe_job("scoring", "failed", 3600.5);
  SyncSummary sync;
  sync.connector_id = "erp_csv";
  sync.counts = {1, 0, 0};
  collector.observe_sync(sync);
  collector.on_plugin_call("alert_wecom", "send", 0.25);
  collector.registry()
      .gauge("crm_escaping_check", "A label value with \\ \" and a\nnewline.", {"value"})
      .with({"back\\slash \"quote\"\nnewline"})
      .set(1);
  const std::string text = collector.scrape(store_, kNowMs);
  for (const char* family :
       {"crm_http_requests_total", "crm_http_request_duration_seconds", "crm_job_runs_total",
        "crm_job_duration_seconds", "crm_connector_records_synced_total", "crm_connector_records_quarantined_total",
        "crm_plugin_call_duration_seconds", "crm_alerts_open", "crm_alerts_past_deadline", "crm_outbox_messages"}) {
    EXPECT_NE(text.find(fmt::format("# TYPE {} ", family)), std::string::npos) << family;
  }
  const auto [exit_code, verdict] = promtool_check(dir_, text);
  EXPECT_EQ(exit_code, 0) << verdict << "\n" << text;
  EXPECT_EQ(verdict, "") << text;

  // The check can fail: a counter without _total (made by hand) is reported.
  const auto [bad_code, bad_verdict] = promtool_check(dir_, "# HELP crm_bad Bad.\n# TYPE crm_bad counter\ncrm_bad 1\n");
  EXPECT_NE(bad_code, 0) << bad_verdict;
}

}  // namespace
}  // namespace crm::host
