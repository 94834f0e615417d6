// What the plugin boundary costs: scoring N customers through the real
// scorer_example_c.so (loaded by the host's loader) against the same
// arithmetic compiled into the benchmark (the in-process peer), in batches
// of 1 to 100,000 customers.
#include <algorithm>
#include <benchmark/benchmark.h>
#include <cmath>
#include <fmt/format.h>
#include <random>

#include "loader/scorer_call.hpp"
#include "support/test_host.hpp"

namespace {

using crm::host::FeatureBatch;

constexpr std::size_t kCustomers = 100'000;
constexpr double kMaxRecencyDays = 365;

std::vector<double> recency_days() {
  std::mt19937 random(42);
  std::uniform_real_distribution<double> days(0, 720);
  std::vector<double> values(kCustomers);
  std::generate(values.begin(), values.end(), [&] { return days(random); });
  return values;
}

FeatureBatch batch_of(std::size_t size) {
  static const std::vector<double> kDays = recency_days();
  FeatureBatch batch;
  batch.feature_names = {"recency_days"};
  batch.columns = {std::vector<double>(kDays.begin(), kDays.begin() + static_cast<std::ptrdiff_t>(size))};
  for (std::size_t i = 0; i < size; ++i) {
    batch.customer_ids.push_back(fmt::format("C{}", i));
  }
  return batch;
}

// The peer: the same score, no plugin boundary, no host.
void score_in_process(const std::vector<double>& days, std::vector<double>& scores) {
  for (std::size_t i = 0; i < days.size(); ++i) {
    scores[i] = std::clamp(100.0 * (1.0 - days[i] / kMaxRecencyDays), 0.0, 100.0);
  }
}

void BM_ScoreInProcess(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  const FeatureBatch batch = batch_of(batch_size);
  std::vector<double> scores(batch_size);
  for (auto _ : state) {
    for (std::size_t done = 0; done < kCustomers; done += batch_size) {
      score_in_process(batch.columns[0], scores);
      benchmark::DoNotOptimize(scores.data());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kCustomers));
}

void BM_ScoreThroughPlugin(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  crm::host::testing::TestHost test;
  test.load({CRM_PLUGIN_DIR});
  crm::host::LoadedPlugin* scorer = test.host().find("scorer_example_c");
  if (scorer == nullptr) {
    state.SkipWithError("scorer_example_c did not load");
    return;
  }
  const FeatureBatch batch = batch_of(batch_size);
  for (auto _ : state) {
    for (std::size_t done = 0; done < kCustomers; done += batch_size) {
      benchmark::DoNotOptimize(crm::host::score_batch(*scorer, batch, false));
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kCustomers));
}

BENCHMARK(BM_ScoreInProcess)->Arg(1)->Arg(100)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ScoreThroughPlugin)->Arg(1)->Arg(100)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
