// crm_scoring_bench: churn detection at scale.
//
//   crm_scoring_bench generate --db FILE [--customers N] [--orders N] [--events N]
//       a synthetic store: customers with their own purchase rhythm, some of
//       whom stop buying, orders over three years, logins and downloads.
//   crm_scoring_bench end-to-end --db FILE --plugin-dir DIR
//       feature build + every scorer + storing the run, timed, peak memory.
//   crm_scoring_bench abi --db FILE --plugin-dir DIR [--runs N]
//       scorer_health through the plugin ABI against the same code linked in.
//   crm_scoring_bench export --db FILE --out DIR
//       the logistic-regression features and labels for the scikit-learn peer.
//
// Run by bench/scoring_bench.sh; figures go to BENCHMARKS.md.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <sys/resource.h>

#include "core/huge_page_heap.hpp"
#include "health_model.hpp"
#include "loader/scorer_call.hpp"
#include "scoring/backtest.hpp"
#include "scoring/calibration.hpp"
#include "scoring/features.hpp"
#include "scoring/scoring.hpp"
#include "store/score_run_repository.hpp"
#include "store/store.hpp"
#include "support/test_host.hpp"

namespace {

using namespace crm::host;  // NOLINT(google-build-using-namespace): a benchmark driver

constexpr std::int64_t kDay = kMillisecondsPerDay;
constexpr std::int64_t kStartMs = 19'358 * kDay;  // 2023-01-01
constexpr int kSpanDays = 3 * 365;
constexpr std::int64_t kAsOfMs = kStartMs + kSpanDays * kDay;  // 2025-12-31

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

int generate(const std::string& path, std::size_t customers, std::size_t orders, std::size_t events) {
  std::filesystem::remove(path);
  Store store(path);
  Database& db = store.database();
  db.exec("PRAGMA synchronous = OFF");
  const auto start = std::chrono::steady_clock::now();
  std::mt19937_64 random(2026);
  std::uniform_real_distribution<double> uniform(0, 1);
  Transaction transaction(db);
  Statement customer =
      db.prepare("INSERT INTO customers(id, source, external_id, unified_id, industry) VALUES (?1, 'erp', ?2, ?1, ?3)");
  const char* const industries[] = {"manufacturing", "retail", "logistics", "software"};
  for (std::size_t c = 1; c <= customers; ++c) {
    customer.bind(1, static_cast<std::int64_t>(c))
        .bind(2, fmt::format("C{}", c))
        .bind(3, std::string_view(industries[c % 4]))
        .run();
  }
  // Each customer buys at its own rate from its own first day; a third stop at a random day.
  Statement order = db.prepare(
      "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES "
      "('erp', ?1, ?2, ?3, ?4, 'confirmed')");
  const double per_customer = static_cast<double>(orders) / static_cast<double>(customers);
  std::vector<double> first_days(customers + 1);
  std::vector<double> stop_days(customers + 1);
  std::size_t written = 0;
  const auto write_order = [&](std::size_t c, double day) {
    order.bind(1, fmt::format("O{}", written))
        .bind(2, static_cast<std::int64_t>(c))
        .bind(3, kStartMs + static_cast<std::int64_t>(day * kDay))
        .bind(4, std::round(20 + uniform(random) * 500))
        .run();
    ++written;
  };
  for (std::size_t c = 1; c <= customers && written < orders; ++c) {
    first_days[c] = uniform(random) * kSpanDays * 0.5;
    stop_days[c] = uniform(random) < 0.33 ? first_days[c] + uniform(random) * (kSpanDays - first_days[c]) : kSpanDays;
    const auto count = static_cast<std::size_t>(per_customer * (0.5 + uniform(random)));
    const double spacing = (kSpanDays - first_days[c]) / static_cast<double>(std::max<std::size_t>(count, 1));
    for (double day = first_days[c]; day < stop_days[c] && written < orders;
         day += spacing * (0.3 + 1.4 * uniform(random))) {
      write_order(c, day);
    }
  }
  // Those who stopped early left orders unplaced: spread them over everyone's active span.
  while (written < orders) {
    const std::size_t c = 1 + random() % customers;
    write_order(c, first_days[c] + uniform(random) * (stop_days[c] - first_days[c]));
  }
  Statement event = db.prepare(
      "INSERT INTO activities(source, external_id, customer_id, occurred_at_ms, kind) VALUES ('portal', ?1, ?2, ?3, "
      "?4)");
  for (std::size_t e = 0; e < events; ++e) {
    event.bind(1, fmt::format("E{}", e))
        .bind(2, static_cast<std::int64_t>(1 + random() % customers))
        .bind(3, kStartMs + static_cast<std::int64_t>(uniform(random) * kSpanDays * kDay))
        .bind(4, std::string_view(e % 3 == 0 ? "download" : "login"))
        .run();
  }
  transaction.commit();
  std::cout << fmt::format("generated {} customers, {} orders, {} events in {:.1f} s\n", customers, written, events,
                           seconds_since(start));
  return 0;
}

// Loads the real plugins of `plugin_dir` with the benchmark's settings.
void load_plugins(testing::TestHost& test, const std::string& plugin_dir) {
  test.load({plugin_dir}, {{"scorer_example_c", {{"enabled", false}}},
                           {"scorer_example_cpp", {{"enabled", false}}},
                           {"erp_csv", {{"enabled", false}}}});
}

int end_to_end(const std::string& path, const std::string& plugin_dir) {
  Store store(path);
  store.database().exec(
      "DELETE FROM run_list_by_score; DELETE FROM run_list_by_change; DELETE FROM run_list_by_value; DELETE FROM "
      "score_run_bands; DELETE FROM customer_scores; DELETE FROM "
      "score_runs;");
  testing::TestHost test;
  load_plugins(test, plugin_dir);
  std::map<std::string, std::string> models;
  const std::vector<std::string> untrained = load_stored_models(store, test.host(), models);
  if (!untrained.empty()) {
    std::cerr << "train first: " << untrained.front() << '\n';
    return 1;
  }
  const ScoringSettings settings;
  const auto start = std::chrono::steady_clock::now();
  const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, kAsOfMs);
  const double features_s = seconds_since(start);
  const ScoringResult result = score_customers(test.host(), features, settings, true, nullptr);
  const double scored_s = seconds_since(start);
  // As `crmhost score` does: the newest map of the primary scorer whose outcomes were known by the date.
  std::optional<RunCalibration> calibration;
  if (result.primary) {
    std::optional<StoredCalibration> stored =
        ScoreRunRepository(store.database())
            .calibration_for(result.scorers[*result.primary].scorer_id, settings.horizon_days, kAsOfMs);
    std::optional<Calibration> map = stored ? calibration_from_json(stored->calibration.map_json) : std::nullopt;
    if (map && !map->empty()) {
      calibration = RunCalibration{stored->id, settings.horizon_days, std::move(*map)};
    }
  }
  const std::int64_t run =
      store_scoring_run(store, features, result, settings, 0, calibration ? &*calibration : nullptr).run_id;
  const double total_s = seconds_since(start);
  std::cout << fmt::format(
      "end-to-end {} customers, {} scorers: features {:.2f} s, scoring {:.2f} s, storing {:.2f} s, total {:.2f} s, "
      "peak RSS {:.0f} MiB (run {}, {} skipped, {})\n",
      features.size(), result.scorers.size(), features_s, scored_s - features_s, total_s - scored_s, total_s,
      peak_rss_mib(), run, result.skipped.size(),
      calibration ? fmt::format("churn probability from calibration {}", calibration->id)
                  : std::string("no calibration: run `train` again"));
  return 0;
}

int train(const std::string& path, const std::string& plugin_dir) {
  Store store(path);
  testing::TestHost test;
  load_plugins(test, plugin_dir);
  const std::int64_t train_as_of = kAsOfMs - 90 * kDay;
  const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, train_as_of);
  const std::vector<double> labels = churn_labels(store.database(), features, train_as_of, kAsOfMs);
  const std::vector<std::size_t> rows = buyer_rows(features);
  std::vector<double> buyer_labels;
  for (const std::size_t i : rows) {
    buyer_labels.push_back(labels[i]);
  }
  for (LoadedPlugin* scorer : loaded_scorers(test.host())) {
    if (is_trainable(*scorer)) {
      const auto start = std::chrono::steady_clock::now();
      const std::string model =
          train_scorer(*scorer, features.select(rows, requested_features(*scorer, features.names)), buyer_labels, 90);
      store_model(store, scorer->id(), scorer->record().version, 0, train_as_of, 90, rows.size(), model);
      std::cout << fmt::format("trained {} on {} customers in {:.2f} s\n", scorer->id(), rows.size(),
                               seconds_since(start));
    }
  }
  // The churn probability's map, fitted as `crmhost train` fits it: the primary scorer's score of the
  // training snapshot against what the buyers did by the date.
  const ScoringSettings settings;
  const ScoringResult scored = score_customers(test.host(), features.subset(rows), settings, false, nullptr);
  if (!scored.primary) {
    std::cerr << "no scorer scored the training snapshot\n";
    return 1;
  }
  const ScorerOutcome& primary = scored.scorers[*scored.primary];
  std::vector<double> risk(primary.scores.size());
  std::transform(primary.scores.begin(), primary.scores.end(), risk.begin(), churn_risk_of_score);
  const Calibration map = fit_isotonic(risk, buyer_labels);
  ScoreRunRepository(store.database())
      .add_calibration({primary.scorer_id, 0, train_as_of, kAsOfMs, 90, static_cast<std::int64_t>(map.customers),
                        std::nullopt, calibration_to_json(map)});
  std::cout << fmt::format("calibrated {}'s score on {} customers ({} blocks)\n", primary.scorer_id, map.customers,
                           map.probability.size());
  return 0;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int abi(const std::string& path, const std::string& plugin_dir, int runs) {
  Store store(path);
  testing::TestHost test;
  load_plugins(test, plugin_dir);
  LoadedPlugin* plugin = test.host().find("scorer_health");
  if (plugin == nullptr) {
    std::cerr << "scorer_health did not load\n";
    return 1;
  }
  const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, kAsOfMs);
  const std::vector<std::string> names = required_features(*plugin);
  const std::size_t count = features.size();
  constexpr std::size_t kBatch = 65'536;
  std::vector<const std::vector<double>*> columns;
  for (const std::string& name : names) {
    columns.push_back(&features.column(name));
  }
  std::vector<double> scores(count);
  std::vector<std::uint64_t> reasons(count);
  const crm_scorer_api* api = plugin->scorer_api();
  std::vector<crm_str> name_views;
  for (const std::string& name : names) {
    name_views.push_back(crm_str{name.data(), name.size()});
  }
  const std::vector<crm_str> ids(kBatch, crm_str{nullptr, 0});
  const crm::health::Settings settings;

  const auto pointers_at = [&](std::size_t begin) {
    std::vector<const double*> pointers;
    for (const auto* column : columns) {
      pointers.push_back(column->data() + begin);
    }
    return pointers;
  };
  // Through the ABI: the host's C call into the loaded .so, batch by batch.
  const auto through_abi = [&](double* out, std::uint64_t* out_reasons) {
    for (std::size_t begin = 0; begin < count; begin += kBatch) {
      const std::size_t size = std::min(kBatch, count - begin);
      const std::vector<const double*> pointers = pointers_at(begin);
      const crm_score_input input = {sizeof(crm_score_input), size,   ids.data(), names.size(), name_views.data(),
                                     pointers.data(),         kAsOfMs};
      crm_score_output output = {sizeof(crm_score_output), out + begin, nullptr, out_reasons + begin, nullptr};
      crm::ErrorBuffer error;
      if (api->score(plugin->instance(), plugin->host_table(), &input, &output, error.get()) != CRM_STATUS_OK) {
        throw std::runtime_error(error.message());
      }
    }
  };
  // Linked in: the same health_model.hpp compiled into this program.
  const auto linked_in = [&](double* out, std::uint64_t* out_reasons) {
    for (std::size_t begin = 0; begin < count; begin += kBatch) {
      const std::vector<const double*> pointers = pointers_at(begin);
      crm::health::score(settings, pointers.data(), std::min(kBatch, count - begin), out + begin, nullptr,
                         out_reasons + begin);
    }
  };
  std::vector<double> abi_s;
  std::vector<double> static_s;
  for (int run = 0; run < runs; ++run) {
    // Alternate which goes first so that neither always runs on a warm cache.
    for (const bool abi_first : {run % 2 == 0}) {
      for (const bool abi_turn : {abi_first, !abi_first}) {
        std::fill(reasons.begin(), reasons.end(), 0);
        const auto start = std::chrono::steady_clock::now();
        if (abi_turn) {
          through_abi(scores.data(), reasons.data());
          abi_s.push_back(seconds_since(start));
        } else {
          linked_in(scores.data(), reasons.data());
          static_s.push_back(seconds_since(start));
        }
      }
    }
  }
  // Both paths must compute the same thing.
  std::vector<double> linked(count);
  std::vector<std::uint64_t> linked_reasons(count);
  linked_in(linked.data(), linked_reasons.data());
  std::fill(reasons.begin(), reasons.end(), 0);
  through_abi(scores.data(), reasons.data());
  for (std::size_t i = 0; i < count; ++i) {
    if (reasons[i] != linked_reasons[i] ||
        !(linked[i] == scores[i] || (std::isnan(linked[i]) && std::isnan(scores[i])))) {
      std::cerr << "the plugin and the linked-in code disagree on customer " << i << '\n';
      return 1;
    }
  }
  // The whole host path as `crmhost score` takes it (column copies, ids, checks), for reference.
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t begin = 0; begin < count; begin += kBatch) {
    (void)score_batch(*plugin, features.slice(begin, std::min(count, begin + kBatch), names), false);
  }
  const double host_path_s = seconds_since(start);
  const double abi_rate = static_cast<double>(count) / median(abi_s);
  const double static_rate = static_cast<double>(count) / median(static_s);
  std::cout << fmt::format(
      "scorer_health, {} customers x {} features, median of {} runs: through the ABI {:.0f} customers/s, linked in "
      "{:.0f} customers/s, ABI/linked time {:.3f}; host path with batch building {:.0f} customers/s\n",
      count, names.size(), runs, abi_rate, static_rate, median(abi_s) / median(static_s),
      static_cast<double>(count) / host_path_s);
  return 0;
}

// scorer_logit's own side of the scikit-learn comparison: fit on the training
// snapshot and score the test snapshot, the feature build excluded as in the peer.
int logit_peer_side(const std::string& path, const std::string& plugin_dir) {
  Store store(path);
  testing::TestHost test;
  load_plugins(test, plugin_dir);
  LoadedPlugin* scorer = test.host().find("scorer_logit");
  if (scorer == nullptr) {
    std::cerr << "scorer_logit did not load\n";
    return 1;
  }
  const auto snapshot = [&](std::int64_t as_of, std::vector<double>& labels) {
    const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, as_of);
    const std::vector<double> all_labels = churn_labels(store.database(), features, as_of, as_of + 90 * kDay);
    const std::vector<std::size_t> rows = buyer_rows(features);
    for (const std::size_t i : rows) {
      labels.push_back(all_labels[i]);
    }
    return features.select(rows, requested_features(*scorer, features.names));
  };
  std::vector<double> train_labels;
  std::vector<double> test_labels;
  // The outcome must be known: test 90 days before the data ends, train 90 days before that.
  const FeatureBatch train_batch = snapshot(kAsOfMs - 180 * kDay, train_labels);
  const FeatureBatch test_batch = snapshot(kAsOfMs - 90 * kDay, test_labels);
  const auto start = std::chrono::steady_clock::now();
  (void)train_scorer(*scorer, train_batch, train_labels, 90);
  std::vector<double> risk;
  for (std::size_t begin = 0; begin < test_labels.size(); begin += 65'536) {
    std::vector<std::size_t> rows(std::min<std::size_t>(65'536, test_labels.size() - begin));
    std::iota(rows.begin(), rows.end(), begin);
    FeatureBatch part;
    part.as_of_ms = test_batch.as_of_ms;
    part.feature_names = test_batch.feature_names;
    for (const auto& column : test_batch.columns) {
      part.columns.emplace_back(column.begin() + static_cast<std::ptrdiff_t>(begin),
                                column.begin() + static_cast<std::ptrdiff_t>(begin + rows.size()));
    }
    part.customer_ids.assign(test_batch.customer_ids.begin() + static_cast<std::ptrdiff_t>(begin),
                             test_batch.customer_ids.begin() + static_cast<std::ptrdiff_t>(begin + rows.size()));
    for (const double score : score_batch(*scorer, part, false).scores) {
      risk.push_back(100 - score);
    }
  }
  const double seconds = seconds_since(start);
  std::cout << fmt::format("scorer_logit {:.3f} s for fit on {} + predict on {}; ROC-AUC {:.4f}\n", seconds,
                           train_labels.size(), test_labels.size(), roc_auc(risk, test_labels));
  return 0;
}

int export_features(const std::string& path, const std::string& out) {
  Store store(path);
  std::filesystem::create_directories(out);
  const std::vector<std::string> names = {"recency_days",    "order_count",      "monetary_total",
                                          "order_count_90d", "order_count_365d", "recency_ratio"};
  for (const auto& [as_of, file] :
       {std::pair{kAsOfMs - 180 * kDay, std::string("train")}, std::pair{kAsOfMs - 90 * kDay, std::string("test")}}) {
    const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, as_of);
    const std::vector<double> labels = churn_labels(store.database(), features, as_of, as_of + 90 * kDay);
    std::ofstream matrix(out + "/" + file + ".f64", std::ios::binary);
    std::size_t rows = 0;
    for (const std::size_t i : buyer_rows(features)) {
      for (const std::string& name : names) {
        const double value = features.column(name)[i];
        matrix.write(reinterpret_cast<const char*>(&value), sizeof value);  // NOLINT
      }
      matrix.write(reinterpret_cast<const char*>(&labels[i]), sizeof(double));  // NOLINT
      ++rows;
    }
    std::cout << fmt::format("{}: {} rows x {} features + label\n", file, rows, names.size());
  }
  return 0;
}

}  // namespace

// scorer_health scoring every customer through the host's own call path (score_customers' batches),
// in the host's process and in a worker, alternating; then a worker killed between calls, timed from
// the kill to its replacement's first answer.
int isolation(const std::string& path, const std::string& plugin_dir, int runs) {
  Store store(path);
  const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, kAsOfMs);
  const auto host_with = [&](testing::TestHost& test, PluginIsolation isolation) -> LoadedPlugin& {
    PluginHostOptions options;
    options.plugin_dirs = {plugin_dir};
    options.plugin_settings = {{"scorer_example_c", {{"enabled", false}}},
                               {"scorer_example_cpp", {{"enabled", false}}},
                               {"erp_csv", {{"enabled", false}}}};
    options.available_features = feature_names(FeatureSettings{});
    options.default_isolation = isolation;
    options.worker.crash_limit = 1'000'000;  // the kills below are the benchmark, not a reason to disable it
    // The replacement itself, not the backoff policy (which only waits from the second failure in a window).
    options.worker.restart_backoff_ms = 0;
    test.load(options);
    LoadedPlugin* plugin = test.host().find("scorer_health");
    if (plugin == nullptr) {
      throw std::runtime_error("scorer_health did not load");
    }
    return *plugin;
  };
  testing::TestHost in_host;
  testing::TestHost in_worker;
  LoadedPlugin& local = host_with(in_host, PluginIsolation::in_process);
  LoadedPlugin& remote = host_with(in_worker, PluginIsolation::process);
  const std::vector<std::string> names = required_features(local);
  const ScoringSettings settings;
  const auto score_all = [&](LoadedPlugin& scorer) {
    std::vector<double> scores;
    scores.reserve(features.size());
    for (std::size_t begin = 0; begin < features.size(); begin += settings.batch_size) {
      const std::size_t end = std::min(features.size(), begin + settings.batch_size);
      const ScoreResult batch = score_batch(scorer, features.slice(begin, end, names), false);
      scores.insert(scores.end(), batch.scores.begin(), batch.scores.end());
    }
    return scores;
  };
  if (score_all(local) != score_all(remote)) {
    std::cerr << "the worker's scores differ from the host's\n";
    return 1;
  }
  std::vector<double> local_s;
  std::vector<double> remote_s;
  for (int run = 0; run < runs; ++run) {
    for (const bool local_turn : {run % 2 == 0, run % 2 != 0}) {
      const auto start = std::chrono::steady_clock::now();
      score_all(local_turn ? local : remote);
      (local_turn ? local_s : remote_s).push_back(seconds_since(start));
    }
  }
  const double local_median = median(local_s);
  const double remote_median = median(remote_s);
  std::cout << fmt::format(
      "scorer_health, {} customers in batches of {}: in the host's process median {:.3f} s ({:.0f} customers/s), "
      "in a worker median {:.3f} s ({:.0f} customers/s); worker/in-process throughput {:.2f}x (target >= 0.70x)\n",
      features.size(), settings.batch_size, local_median, static_cast<double>(features.size()) / local_median,
      remote_median, static_cast<double>(features.size()) / remote_median, local_median / remote_median);

  FeatureBatch one = features.slice(0, 1, names);
  std::vector<double> recovery_ms;
  for (int kill = 0; kill < std::max(runs, 5); ++kill) {
    score_batch(remote, one, false);
    const pid_t worker = remote.remote()->status().pid;
    const auto killed = std::chrono::steady_clock::now();
    ::kill(worker, SIGKILL);
    while (true) {
      try {
        score_batch(remote, one, false);
        break;
      } catch (const PluginCallError&) {
        // the call that finds the worker dead; the next one starts its replacement
      }
    }
    recovery_ms.push_back(seconds_since(killed) * 1000.0);
  }
  std::cout << fmt::format(
      "a killed worker to its replacement's first answer: median {:.1f} ms, max {:.1f} ms over {} "
      "kills (target < 500 ms)\n",
      median(recovery_ms), *std::max_element(recovery_ms.begin(), recovery_ms.end()), recovery_ms.size());
  return 0;
}

int main(int argc, char** argv) {
  crm::host::restart_with_huge_page_heap(argv);
  CLI::App app{"crm_scoring_bench: churn detection at scale (see bench/scoring_bench.sh)"};
  app.require_subcommand(1);
  std::string db;
  std::string plugin_dir;
  std::string out;
  std::size_t customers = 1'000'000;
  std::size_t orders = 10'000'000;
  std::size_t events = 2'000'000;
  int runs = 5;
  auto* generate_command = app.add_subcommand("generate", "Write a synthetic store");
  generate_command->add_option("--db", db)->required();
  generate_command->add_option("--customers", customers);
  generate_command->add_option("--orders", orders);
  generate_command->add_option("--events", events);
  auto* train_command = app.add_subcommand("train", "Train the learning scorers and store their models");
  auto* end_to_end_command = app.add_subcommand("end-to-end", "Features + all scorers + storing, timed");
  auto* abi_command = app.add_subcommand("abi", "scorer_health through the ABI vs linked in");
  auto* logit_command = app.add_subcommand("logit", "scorer_logit fit + predict, the side of the scikit-learn peer");
  auto* isolation_command =
      app.add_subcommand("isolation", "scorer_health in a worker vs in the host's process, and worker recovery");
  for (auto* command : {train_command, end_to_end_command, abi_command, logit_command, isolation_command}) {
    command->add_option("--db", db)->required();
    command->add_option("--plugin-dir", plugin_dir)->required();
  }
  abi_command->add_option("--runs", runs);
  isolation_command->add_option("--runs", runs);
  auto* export_command = app.add_subcommand("export", "Features and labels for the scikit-learn peer");
  export_command->add_option("--db", db)->required();
  export_command->add_option("--out", out)->required();
  CLI11_PARSE(app, argc, argv);
  if (generate_command->parsed()) {
    return generate(db, customers, orders, events);
  }
  if (train_command->parsed()) {
    return train(db, plugin_dir);
  }
  if (end_to_end_command->parsed()) {
    return end_to_end(db, plugin_dir);
  }
  if (abi_command->parsed()) {
    return abi(db, plugin_dir, runs);
  }
  if (isolation_command->parsed()) {
    return isolation(db, plugin_dir, runs);
  }
  if (logit_command->parsed()) {
    return logit_peer_side(db, plugin_dir);
  }
  return export_features(db, out);
}
