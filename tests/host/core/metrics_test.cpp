#include "core/metrics.hpp"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace crm::host {
namespace {

TEST(Metrics, CountersAndGaugesRenderWithHelpTypeAndSortedChildren) {
  MetricsRegistry registry;
  CounterFamily& requests = registry.counter("crm_test_requests_total", "Requests.", {"route", "status"});
  requests.with({"/b", "200"}).inc();
  requests.with({"/a", "500"}).inc(2);
  requests.with({"/a", "200"}).inc();
  registry.gauge("crm_test_queue", "Queue length.").with({}).set(7.5);
  EXPECT_EQ(registry.render(),
            "# HELP crm_test_queue Queue length.\n"
            "# TYPE crm_test_queue gauge\n"
            "crm_test_queue 7.5\n"
            "# HELP crm_test_requests_total Requests.\n"
            "# TYPE crm_test_requests_total counter\n"
            "crm_test_requests_total{route=\"/a\",status=\"200\"} 1\n"
            "crm_test_requests_total{route=\"/a\",status=\"500\"} 2\n"
            "crm_test_requests_total{route=\"/b\",status=\"200\"} 1\n");
}

TEST(Metrics, HistogramsAreCumulativeWithInfSumAndCountAndBoundsAreInclusive) {
  MetricsRegistry registry;
  Histogram& latency =
      registry.histogram("crm_test_duration_seconds", "Latency.", {"route"}, {0.25, 1, 2}).with({"/x"});
  latency.observe(0.25);  // on a bound: counted in that bucket (le is "less or equal")
  latency.observe(0.5);
  latency.observe(0.5);
  latency.observe(3);
  latency.observe(std::nan(""));  // not counted
  EXPECT_EQ(registry.render(),
            "# HELP crm_test_duration_seconds Latency.\n"
            "# TYPE crm_test_duration_seconds histogram\n"
            "crm_test_duration_seconds_bucket{route=\"/x\",le=\"0.25\"} 1\n"
            "crm_test_duration_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
            "crm_test_duration_seconds_bucket{route=\"/x\",le=\"2\"} 3\n"
            "crm_test_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
            "crm_test_duration_seconds_sum{route=\"/x\"} 4.25\n"
            "crm_test_duration_seconds_count{route=\"/x\"} 4\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.counter("crm_test_total", "Line one\\two\nthree \"quoted\".", {"v"}).with({"a\\b\"c\nd"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP crm_test_total Line one\\\\two\\nthree \"quoted\".\n"
            "# TYPE crm_test_total counter\n"
            "crm_test_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
  EXPECT_EQ(format_sample_value(0.25), "0.25");
  EXPECT_EQ(format_sample_value(12), "12");
}

TEST(Metrics, LabelValuesThatJoinAlikeStayApart) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter("crm_test_total", "T.", {"a", "b"});
  family.with({"x,y", "z"}).inc();
  family.with({"x", "y,z"}).inc(3);
  EXPECT_EQ(family.with({"x,y", "z"}).value(), 1);
  EXPECT_EQ(family.with({"x", "y,z"}).value(), 3);
}

TEST(Metrics, BadNamesLabelsBoundsAndValuesAreRefused) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.counter("crm_requests", "no _total"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("9lives", "starts with a digit"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("crm-dash", "dash"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("crm_x", "label", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("crm_x", "label", {"a-b"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("crm_h_seconds", "le", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("crm_h_seconds", "order", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("crm_h_seconds", "order", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("crm_h_seconds", "inf", {}, {1, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);

  GaugeFamily& gauge = registry.gauge("crm_x", "X.", {"a"});
  EXPECT_EQ(&registry.gauge("crm_x", "X.", {"a"}), &gauge);  // the same registration again
  EXPECT_THROW(registry.gauge("crm_x", "X.", {"b"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("crm_x_total", "X.").with({"extra"}), std::invalid_argument);
  EXPECT_THROW(gauge.with({}), std::invalid_argument);
  EXPECT_THROW(registry.counter("crm_y_total", "Y.").with({}).inc(-1), std::invalid_argument);
}

TEST(Metrics, ZeroAllKeepsChildrenAtZero) {
  MetricsRegistry registry;
  GaugeFamily& open = registry.gauge("crm_open", "Open.", {"level"});
  open.with({"red"}).set(3);
  open.zero_all();
  EXPECT_EQ(registry.render(), "# HELP crm_open Open.\n# TYPE crm_open gauge\ncrm_open{level=\"red\"} 0\n");
}

TEST(Metrics, ObservationsFromManyThreadsAreAllCounted) {
  MetricsRegistry registry;
  CounterFamily& counter = registry.counter("crm_test_total", "T.", {"route"});
  HistogramFamily& histogram = registry.histogram("crm_test_seconds", "T.", {"route"}, {0.5});
  constexpr int kThreads = 4;
  constexpr int kEach = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter, &histogram, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string route = "/r" + std::to_string((i + t) % 3);
        counter.with({route}).inc();
        histogram.with({route}).observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  double total = 0;
  std::uint64_t observed = 0;
  for (const char* route : {"/r0", "/r1", "/r2"}) {
    total += counter.with({route}).value();
    observed += histogram.with({route}).snapshot().count;
  }
  EXPECT_EQ(total, kThreads * kEach);
  EXPECT_EQ(observed, static_cast<std::uint64_t>(kThreads * kEach));
}

}  // namespace
}  // namespace crm::host
