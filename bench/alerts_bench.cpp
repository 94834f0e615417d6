// crm_alerts_bench: alerts routed and delivered to a local webhook receiver
// (tests/servers/webhook_receiver.py on loopback) through the alert engine
// with its outbox on SQLite (WAL, every notification written before its send
// and marked after). Real clock, real loader, real alert_webhook plugin.
//
//   crm_alerts_bench --alerts 10000 --plugin-dir DIR [--mode burst|steady] [--rate 2000]
//     burst:  one scoring run raises every alert, then the outbox is drained,
//             as `crmhost run` does; the p99 is how long the last ones queue.
//     steady: alerts arrive at --rate per second in batches every 50 ms and
//             each tick delivers what is due; the p99 is a notification's wait.
//
// Prints one line: notifications/s, and p50/p99 from alert creation to delivery.
// Run by bench/alerts_bench.sh; figures go to BENCHMARKS.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <iostream>
#include <thread>

#include "alerts/alert_engine.hpp"
#include "core/huge_page_heap.hpp"
#include "store/store.hpp"
#include "support/controlled_server.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sync_harness.hpp"
#include "support/test_host.hpp"

namespace {

using namespace crm::host;  // NOLINT(google-build-using-namespace): a benchmark driver

double percentile(std::vector<std::int64_t> values, double fraction) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(std::lround(fraction * static_cast<double>(values.size() - 1)));
  return static_cast<double>(values[index]);
}

}  // namespace

int main(int argc, char** argv) {
  crm::host::restart_with_huge_page_heap(argv);
  CLI::App app{"Alerts delivered to a local webhook receiver through the outbox on SQLite"};
  std::size_t alerts_count = 10'000;
  std::string plugin_dir;
  std::string mode = "burst";
  double rate_per_second = 2'000;
  app.add_option("--alerts", alerts_count, "Alerts to raise and deliver");
  app.add_option("--plugin-dir", plugin_dir, "Directory of the built plugins")->required();
  app.add_option("--mode", mode, "burst or steady")->check(CLI::IsMember({"burst", "steady"}));
  app.add_option("--rate", rate_per_second, "Alerts raised per second in steady mode");
  CLI11_PARSE(app, argc, argv);

  testing::ControlledServer receiver("tests/servers/webhook_receiver.py");
  testing::TempDir dir("alerts-bench");
  Store store((dir / "crm.db").string());
  testing::TestHost plugins;
  plugins.load({plugin_dir},
               {{"alert_webhook",
                 {{"config",
                   {{"url", receiver.base_url() + "/hooks/crm"},
                    {"secret", {{"env", "CRM_BENCH_SECRET"}}},
                    {"timeout_ms", 5000}}}}}},
               {{"CRM_BENCH_SECRET", "bench-secret"}});
  if (plugins.host().find("alert_webhook") == nullptr) {
    std::cerr << "alert_webhook did not load: " << plugins.record("alert_webhook")->reason << '\n';
    return 1;
  }
  SystemClock clock;
  AlertSettings settings;
  settings.routes = {{.channel = "alert_webhook", .recipients = {"@owner"}}};
  settings.roles = {{"coo", {"coo@example.test"}}};
  settings.notify_resolved = false;
  AlertEngine engine(store, plugins.host(), plugins.logger(), clock, settings, {});

  std::size_t delivered = 0;
  double raise_seconds = 0;
  const auto start = std::chrono::steady_clock::now();
  if (mode == "burst") {
    std::vector<testing::ScoredCustomer> customers;
    for (std::size_t c = 1; c <= alerts_count; ++c) {
      customers.push_back({static_cast<std::int64_t>(c), "red", "", 35});
    }
    engine.evaluate(testing::insert_scoring_run(store, clock.now_ms(), customers));
    raise_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (DeliveryCounts counts = engine.deliver(); counts.delivered > 0; counts = engine.deliver()) {
      delivered += counts.delivered;
    }
  } else {
    constexpr auto kTick = std::chrono::milliseconds(50);
    const auto per_tick = static_cast<std::size_t>(rate_per_second / 20.0);
    std::int64_t next_customer = 1;
    auto tick = start;
    while (delivered < alerts_count) {
      // Each run scores only the new customers; the earlier alerts end (silently: notify_resolved is off).
      std::vector<testing::ScoredCustomer> customers;
      for (std::size_t i = 0; i < per_tick && next_customer <= static_cast<std::int64_t>(alerts_count); ++i) {
        customers.push_back({next_customer++, "red", "", 35});
      }
      if (!customers.empty()) {
        engine.evaluate(testing::insert_scoring_run(store, clock.now_ms(), customers));
      }
      delivered += engine.deliver().delivered;
      tick += kTick;
      std::this_thread::sleep_until(tick);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<std::int64_t> latencies_ms;
  Statement query = store.database().prepare(
      "SELECT sent_ms - json_extract(notification, '$.created_ms') FROM outbox WHERE state = 'sent'");
  while (query.step()) {
    latencies_ms.push_back(query.column_int64(0));
  }
  const auto received = receiver.control("count")["requests"].get<std::size_t>();
  std::cout << fmt::format(
      "{}: {} alerts, {} delivered, {} received, {:.3f} s ({:.3f} s raising and routing), {:.0f} notifications/s, "
      "creation to delivery p50 {:.0f} ms p99 {:.0f} ms\n",
      mode, alerts_count, delivered, received, seconds, raise_seconds, static_cast<double>(delivered) / seconds,
      percentile(latencies_ms, 0.50), percentile(latencies_ms, 0.99));
  return delivered == alerts_count && received == alerts_count ? 0 : 1;
}
