#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crm::host {

// Metrics of a running host in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): counters,
// gauges and histograms, each a family of children told apart by label
// values.
//
// Threads: every member of every class here may be called from any thread.
// Observing (inc, set, observe) is lock-free on the child (atomics);
// finding a child by its label values takes its family's shared lock (an
// exclusive one only the first time those values are seen), so callers on
// hot paths may keep the reference `with()` returns: children live as long
// as their registry. Label values must be of bounded cardinality (a route
// template, never a customer id): a child, once made, is never dropped.

// The MIME type of render()'s output, for a /metrics response.
inline constexpr std::string_view kPrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";

class Counter {
 public:
  // `by` must not be negative (a counter only goes up); std::invalid_argument otherwise.
  void inc(double by = 1.0);
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `upper_bounds`: finite, strictly increasing; +Inf is implied.
  explicit Histogram(const std::vector<double>& upper_bounds);
  // A NaN is not counted.
  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative_counts;  // one per upper bound, then +Inf (== count)
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

// One metric name: its HELP, TYPE, label names and children.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
               std::vector<double> upper_bounds);
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;
  virtual ~MetricFamily() = default;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] MetricType type() const { return type_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
  [[nodiscard]] const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Appends this family in the text format: HELP, TYPE, then each child by label values.
  void render(std::string& out) const;

 protected:
  struct Child {
    std::vector<std::string> label_values;
    Counter counter;
    Gauge gauge;
    std::unique_ptr<Histogram> histogram;
  };
  // The child with these label values (as many as label names; std::invalid_argument otherwise), made on first use.
  Child& child(std::initializer_list<std::string_view> label_values);
  // Calls `visit` on every child, under the shared lock.
  template <class Visit>
  void each_child(Visit&& visit) {
    const std::shared_lock read(mutex_);
    for (const auto& [key, child] : children_) {
      visit(*child);
    }
  }

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> upper_bounds_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::unique_ptr<Child>, std::less<>> children_;  // by label values joined with '\xff'
};

class CounterFamily final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  Counter& with(std::initializer_list<std::string_view> label_values) { return child(label_values).counter; }
};

class GaugeFamily final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  Gauge& with(std::initializer_list<std::string_view> label_values) { return child(label_values).gauge; }
  // Sets every child to 0: a scrape that refreshes the family from a query
  // first zeroes it, so label values that are gone read 0 instead of their last value.
  void zero_all();
};

class HistogramFamily final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  Histogram& with(std::initializer_list<std::string_view> label_values) { return *child(label_values).histogram; }
};

// The metric families of one process. Registering a name again with the same
// type, label names (and bounds) returns the family already registered; with
// anything else, or an invalid name, throws std::invalid_argument.
// Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in
// "_total", label names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__"
// (histograms may not use "le").
class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  CounterFamily& counter(const std::string& name, const std::string& help,
                         const std::vector<std::string>& label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names, const std::vector<double>& upper_bounds);

  // Every family, by name, in the text format 0.0.4.
  [[nodiscard]] std::string render() const;

 private:
  MetricFamily& add(const std::string& name, const std::string& help, MetricType type,
                    const std::vector<std::string>& label_names, const std::vector<double>& upper_bounds);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<MetricFamily>, std::less<>> families_;
};

// Text-format escaping: HELP text (\ and newline) and label values (\, " and newline).
std::string escape_help_text(std::string_view text);
std::string escape_label_value(std::string_view text);
// A sample value as the text format writes it: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_sample_value(double value);

}  // namespace crm::host
