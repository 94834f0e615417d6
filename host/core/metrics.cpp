#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <stdexcept>

namespace crm::host {
namespace {

// Label values are joined with a byte UTF-8 text never holds, so that ("a,b", "c") and ("a", "b,c") stay apart.
constexpr char kKeySeparator = '\xff';

bool valid_metric_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
  });
}

bool valid_label_name(std::string_view name) {
  return valid_metric_name(name) && name.find(':') == std::string_view::npos && !name.starts_with("__");
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} plus an optional extra pair (a histogram's le); "" when there is nothing.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) {
    return;
  }
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += fmt::format("{}{}=\"{}\"", i == 0 ? "" : ",", names[i], escape_label_value(values[i]));
  }
  if (!extra_name.empty()) {
    out += fmt::format("{}{}=\"{}\"", names.empty() ? "" : ",", extra_name, extra_value);
  }
  out += '}';
}

}  // namespace

std::string escape_help_text(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string escape_label_value(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

void Counter::inc(double by) {
  if (!(by >= 0.0)) {
    throw std::invalid_argument(fmt::format("a counter cannot go down (inc by {})", by));
  }
  value_.fetch_add(by, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : upper_bounds_(upper_bounds), counts_(new std::atomic<std::uint64_t>[upper_bounds.size() + 1]) {
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double value) {
  if (std::isnan(value)) {
    return;
  }
  // Buckets are "less than or equal": the first bound not below the value.
  const auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  counts_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

// The count is the sum of the buckets read, so _count and the +Inf bucket always agree.
Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.cumulative_counts.reserve(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                           std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

MetricFamily::Child& MetricFamily::child(std::initializer_list<std::string_view> label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument(
        fmt::format("metric {} takes {} label values, not {}", name_, label_names_.size(), label_values.size()));
  }
  // One key buffer per thread: finding a child that exists allocates nothing.
  thread_local std::string key;
  key.clear();
  for (const std::string_view value : label_values) {
    key.append(value);
    key += kKeySeparator;
  }
  {
    const std::shared_lock read(mutex_);
    if (const auto found = children_.find(key); found != children_.end()) {
      return *found->second;
    }
  }
  const std::unique_lock write(mutex_);
  auto [slot, inserted] = children_.try_emplace(key);
  if (inserted) {
    auto made = std::make_unique<Child>();
    made->label_values.assign(label_values.begin(), label_values.end());
    if (type_ == MetricType::histogram) {
      made->histogram = std::make_unique<Histogram>(upper_bounds_);
    }
    slot->second = std::move(made);
  }
  return *slot->second;
}

void MetricFamily::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help_text(help_), name_, type_name(type_));
  const std::shared_lock read(mutex_);
  for (const auto& [key, child] : children_) {
    switch (type_) {
      case MetricType::counter:
      case MetricType::gauge:
        out += name_;
        append_labels(out, label_names_, child->label_values);
        out += fmt::format(
            " {}\n", format_sample_value(type_ == MetricType::counter ? child->counter.value() : child->gauge.value()));
        break;
      case MetricType::histogram: {
        const Histogram::Snapshot snapshot = child->histogram->snapshot();
        for (std::size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
          out += name_;
          out += "_bucket";
          const std::string le = i < upper_bounds_.size() ? format_sample_value(upper_bounds_[i]) : std::string("+Inf");
          append_labels(out, label_names_, child->label_values, "le", le);
          out += fmt::format(" {}\n", snapshot.cumulative_counts[i]);
        }
        out += name_;
        out += "_sum";
        append_labels(out, label_names_, child->label_values);
        out += fmt::format(" {}\n", format_sample_value(snapshot.sum));
        out += name_;
        out += "_count";
        append_labels(out, label_names_, child->label_values);
        out += fmt::format(" {}\n", snapshot.count);
        break;
      }
    }
  }
}

void GaugeFamily::zero_all() {
  each_child([](Child& child) { child.gauge.set(0.0); });
}

MetricFamily& MetricsRegistry::add(const std::string& name, const std::string& help, MetricType type,
                                   const std::vector<std::string>& label_names,
                                   const std::vector<double>& upper_bounds) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument(fmt::format("metric name '{}' is not [a-zA-Z_:][a-zA-Z0-9_:]*", name));
  }
  if (type == MetricType::counter && !name.ends_with("_total")) {
    throw std::invalid_argument(fmt::format("counter {} must end in _total", name));
  }
  for (const std::string& label : label_names) {
    if (!valid_label_name(label) || (type == MetricType::histogram && label == "le")) {
      throw std::invalid_argument(fmt::format(
          "metric {}: label name '{}' is not [a-zA-Z_][a-zA-Z0-9_]* (nor __*, nor le on a histogram)", name, label));
    }
  }
  if (std::adjacent_find(upper_bounds.begin(), upper_bounds.end(), std::greater_equal<>()) != upper_bounds.end() ||
      std::any_of(upper_bounds.begin(), upper_bounds.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument(
        fmt::format("histogram {}: bucket bounds must be finite and strictly increasing", name));
  }
  const std::lock_guard lock(mutex_);
  if (const auto found = families_.find(name); found != families_.end()) {
    const MetricFamily& family = *found->second;
    if (family.type() != type || family.label_names() != label_names || family.upper_bounds() != upper_bounds) {
      throw std::invalid_argument(
          fmt::format("metric {} is registered already as another {} or with other labels", name, type_name(type)));
    }
    return *found->second;
  }
  std::unique_ptr<MetricFamily> family;
  switch (type) {
    case MetricType::counter:
      family = std::make_unique<CounterFamily>(name, help, type, label_names, upper_bounds);
      break;
    case MetricType::gauge:
      family = std::make_unique<GaugeFamily>(name, help, type, label_names, upper_bounds);
      break;
    case MetricType::histogram:
      family = std::make_unique<HistogramFamily>(name, help, type, label_names, upper_bounds);
      break;
  }
  return *families_.emplace(name, std::move(family)).first->second;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& label_names) {
  return static_cast<CounterFamily&>(add(name, help, MetricType::counter, label_names, {}));
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& label_names) {
  return static_cast<GaugeFamily&>(add(name, help, MetricType::gauge, label_names, {}));
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& label_names,
                                            const std::vector<double>& upper_bounds) {
  return static_cast<HistogramFamily&>(add(name, help, MetricType::histogram, label_names, upper_bounds));
}

std::string MetricsRegistry::render() const {
  std::string out;
  const std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    family->render(out);
  }
  return out;
}

}  // namespace crm::host
