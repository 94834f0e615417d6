// Instances (issue 16): one plugin, several configurations, each under a name
// of its own that its cursor, quarantine, records, sync runs, alert routes and
// schedule go by; the configuration keyed by plugin id works as before, on a
// store written before instances existed. Real plugins, real store, real data
// from ../shared/data; the crmhost binary where users see the result.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "alerts/alert_engine.hpp"
#include "app/host_config.hpp"
#include "cli/exit_codes.hpp"
#include "scoring/features.hpp"
#include "scoring/scoring.hpp"
#include "service/service_settings.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sqlite_peek.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/test_host.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using testing::SyncHarness;
using testing::TempDir;

const fs::path kSharedData = fs::path(CRM_SOURCE_DIR) / ".." / "shared" / "data";

// The fields of one CSV line (quotes as RFC 4180; the file has no line breaks inside quotes).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

// Lines of the Online Retail file (../shared/data/online_retail), read once:
// its header, its first 5,000 order lines, and the first line of every
// invoice of the customers whose id is a multiple of 300 (as the schema-7
// store fixture was made) and of those whose id is 150 more than one.
struct OnlineRetail {
  std::string header;
  std::vector<std::string> head;
  std::vector<std::string> every_300th_customer;
  std::vector<std::string> every_300th_customer_plus_150;
};

const OnlineRetail& online_retail() {
  static const OnlineRetail data = [] {
    const TempDir dir("instances-online-retail");
    const fs::path csv = dir / "online_retail.csv";
    const std::string command =
        fmt::format("gzip -dc '{}' > '{}'",
                    (kSharedData / "online_retail/online_retail_2010-12_2011-12.csv.gz").string(), csv.string());
    if (std::system(command.c_str()) != 0) {  // NOLINT(concurrency-mt-unsafe)
      throw std::runtime_error("cannot decompress the Online Retail data; is gzip installed?");
    }
    OnlineRetail read;
    std::ifstream in(csv);
    std::getline(in, read.header);
    std::set<std::string> invoices;
    for (std::string line; std::getline(in, line);) {
      if (read.head.size() < 5'000) {
        read.head.push_back(line);
      }
      const std::vector<std::string> fields = csv_fields(line);
      if (fields.size() != 8 || fields[6].empty() || !invoices.insert(fields[0]).second) {
        continue;
      }
      const long customer = std::lround(std::stod(fields[6]));
      if (customer % 300 == 0) {
        read.every_300th_customer.push_back(line);
      } else if (customer % 300 == 150) {
        read.every_300th_customer_plus_150.push_back(line);
      }
    }
    return read;
  }();
  return data;
}

// The order lines [from, to) of the head, with a customer (erp_csv skips the others by rule).
std::int64_t lines_with_a_customer(std::size_t from, std::size_t to) {
  std::int64_t count = 0;
  for (std::size_t i = from; i < to; ++i) {
    count += csv_fields(online_retail().head[i])[6].empty() ? 0 : 1;
  }
  return count;
}

void write_orders(const fs::path& file, const std::vector<std::string>& lines) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << online_retail().header << '\n';
  for (const std::string& line : lines) {
    out << line << '\n';
  }
}

std::vector<std::string> head_lines(std::size_t from, std::size_t to) {
  return {online_retail().head.begin() + static_cast<std::ptrdiff_t>(from),
          online_retail().head.begin() + static_cast<std::ptrdiff_t>(to)};
}

// erp_csv's configuration for the Online Retail file, as its own tests have it.
nlohmann::json online_retail_config(const fs::path& path) {
  nlohmann::json config = nlohmann::json::parse(R"({
    "record_type": "order",
    "external_id": {"columns": ["InvoiceNo"], "ordinal": true},
    "columns": {
      "customer_external_id": {"column": "CustomerID", "integer": true},
      "ordered_at_ms": "InvoiceDate",
      "amount": {"product": ["Quantity", "UnitPrice"]},
      "quantity": "Quantity",
      "product_line": "StockCode",
      "currency": {"constant": "GBP"},
      "status": {"column": "InvoiceNo", "when_prefix": {"C": "cancelled"}, "otherwise": "confirmed"}
    },
    "skip_rows_where_empty": ["CustomerID"]
  })");
  config["path"] = path.string();
  return config;
}

const PluginRecord* record_of(const PluginHost& host, const std::string& id) {
  for (const PluginRecord& record : host.records()) {
    if (record.id == id) {
      return &record;
    }
  }
  return nullptr;
}

TEST(PluginInstances, TwoErpCsvInstancesSyncTwoFoldersIntoOneStoreWithTheirOwnCursorsQuarantinesAndRecords) {
  TempDir dir("instances-erp-csv");
  // Two folders whose files share 1,000 order lines (the same invoices, so the same external ids).
  write_orders(dir / "eu" / "orders.csv", head_lines(0, 3'000));
  std::vector<std::string> cn = head_lines(2'000, 4'000);
  // One line of the second folder with a date no format matches: quarantined by that instance only.
  cn[1'500] = std::regex_replace(cn[1'500], std::regex("(\\d{4})-(\\d{2})-(\\d{2})"), "$1-13-45",
                                 std::regex_constants::format_first_only);
  ASSERT_FALSE(csv_fields(cn[1'500])[6].empty()) << "the broken line must be one erp_csv would store";
  write_orders(dir / "cn" / "orders.csv", cn);

  SyncHarness harness(dir / "crm.db");
  PluginHostOptions options;
  options.plugin_dirs = {CRM_PLUGIN_DIR};
  options.instance_settings = {{"orders_eu", {{"plugin", "erp_csv"}, {"config", online_retail_config(dir / "eu")}}},
                               {"orders_cn", {{"plugin", "erp_csv"}, {"config", online_retail_config(dir / "cn")}}}};
  PluginHost& host = harness.load(options);
  LoadedPlugin* eu = host.find("orders_eu");
  LoadedPlugin* cn_instance = host.find("orders_cn");
  ASSERT_NE(eu, nullptr);
  ASSERT_NE(cn_instance, nullptr);
  EXPECT_EQ(eu->plugin_id(), "erp_csv");
  EXPECT_EQ(cn_instance->plugin_id(), "erp_csv");
  // A plugin that has instances does not also run under its own id unless "plugins" names it.
  EXPECT_EQ(host.find("erp_csv"), nullptr);
  EXPECT_EQ(record_of(host, "erp_csv"), nullptr);
  EXPECT_EQ(host.plugins_of_kind(CRM_KIND_CONNECTOR).size(), 2U);

  const std::int64_t eu_rows = lines_with_a_customer(0, 3'000);
  const std::int64_t cn_rows = lines_with_a_customer(2'000, 4'000);
  SyncSummary summary = harness.sync(*eu);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.connector_id, "orders_eu");
  EXPECT_EQ(static_cast<std::int64_t>(summary.counts.inserted), eu_rows);
  EXPECT_EQ(summary.quarantined, 0U);
  summary = harness.sync(*cn_instance);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(static_cast<std::int64_t>(summary.counts.inserted), cn_rows - 1);
  EXPECT_EQ(summary.quarantined, 1U);

  // The lines both folders hold are stored once per instance: neither overwrote the other's.
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders"), eu_rows + cn_rows - 1);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE source = 'orders_eu'"), eu_rows);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE source = 'orders_cn'"), cn_rows - 1);
  // (all of them but the few whose ordinal differs: an invoice cut at the start of the second file)
  EXPECT_GT(harness.count("SELECT count(*) FROM orders a JOIN orders b ON a.external_id = b.external_id "
                          "AND a.source = 'orders_eu' AND b.source = 'orders_cn'"),
            lines_with_a_customer(2'000, 3'000) - 50);
  EXPECT_EQ(harness.count("SELECT count(*) FROM orders WHERE source = 'erp_csv'"), 0);

  // Each its own cursor, quarantine and sync runs.
  const std::optional<std::string> eu_cursor = harness.store().read_checkpoint("orders_eu");
  const std::optional<std::string> cn_cursor = harness.store().read_checkpoint("orders_cn");
  ASSERT_TRUE(eu_cursor && cn_cursor);
  EXPECT_NE(*eu_cursor, *cn_cursor);
  EXPECT_EQ(harness.store().read_checkpoint("erp_csv"), std::nullopt);
  EXPECT_TRUE(harness.store().list_quarantine("orders_eu").empty());
  const auto quarantined = harness.store().list_quarantine("orders_cn");
  ASSERT_EQ(quarantined.size(), 1U);
  EXPECT_NE(quarantined[0].reason.find("matches none of the date formats"), std::string::npos) << quarantined[0].reason;
  EXPECT_EQ(harness.store().last_connector_run("orders_eu")->inserted, static_cast<std::uint64_t>(eu_rows));
  EXPECT_EQ(harness.store().last_connector_run("orders_cn")->quarantined, 1U);

  // Lines appended to the first folder are read by its instance alone, from its own cursor.
  std::ofstream(dir / "eu" / "orders.csv", std::ios::app | std::ios::binary)
      << fmt::format("{}\n", fmt::join(head_lines(4'000, 4'100), "\n"));
  summary = harness.sync(*cn_instance);
  EXPECT_EQ(summary.source_records, 0U);
  summary = harness.sync(*eu);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 100U);
  EXPECT_EQ(static_cast<std::int64_t>(summary.counts.inserted), lines_with_a_customer(4'000, 4'100));
  EXPECT_EQ(harness.count("SELECT count(*) FROM connector_runs WHERE connector_id = 'orders_eu'"), 2);
  EXPECT_EQ(harness.count("SELECT count(*) FROM connector_runs WHERE connector_id = 'orders_cn'"), 2);

  // A retry of the quarantine goes back to the instance that quarantined the line.
  EXPECT_EQ(harness.retry(*eu).still_bad, 0U);
  EXPECT_EQ(harness.retry(*cn_instance).still_bad, 1U);
}

TEST(PluginInstances, TwoChannelInstancesDeliverTheAlertsOfTheirOwnRoutes) {
  TempDir dir("instances-channels");
  Store store(testing::store_locator(dir / "crm.db"));
  testing::TestHost test;
  PluginHostOptions options;
  options.plugin_dirs = {CRM_PLUGIN_DIR};
  options.instance_settings = {
      {"console_red", {{"plugin", "alert_console"}, {"config", {{"path", (dir / "red.txt").string()}}}}},
      {"console_json",
       {{"plugin", "alert_console"}, {"config", {{"path", (dir / "others.txt").string()}, {"format", "json"}}}}}};
  test.load(options);
  ASSERT_NE(test.host().find("console_red"), nullptr);
  ASSERT_NE(test.host().find("console_json"), nullptr);
  EXPECT_EQ(test.host().find("alert_console"), nullptr);

  AlertSettings settings;
  settings.roles = {{"csm", {"csm@example.test"}}, {"coo", {"coo@example.test"}}};
  settings.routes = {{.levels = {"red"}, .channel = "console_red", .recipients = {"@owner"}},
                     {.levels = {"yellow", "orange", "signal"}, .channel = "console_json", .recipients = {"@owner"}}};
  AlertEngine alerts(store, test.host(), test.logger(), test.clock(), settings, {});
  const std::int64_t run = testing::insert_scoring_run(
      store, test.clock().now_ms(), {{1, "red", "", 40}, {2, "yellow", "", 75}, {3, "green", "", 95}});
  EXPECT_EQ(alerts.evaluate(run).opened, 2U);
  EXPECT_EQ(alerts.deliver().delivered, 2U);

  const std::string red = testing::read_text(dir / "red.txt");
  const std::string others = testing::read_text(dir / "others.txt");
  EXPECT_NE(red.find("[red] customer 1"), std::string::npos) << red;
  EXPECT_EQ(red.find("customer 2"), std::string::npos) << red;
  EXPECT_NE(red.find("to: coo@example.test"), std::string::npos) << red;
  // The second instance's own configuration: JSON lines, only the yellow alert.
  ASSERT_FALSE(others.empty());
  const nlohmann::json line = nlohmann::json::parse(others.substr(0, others.find('\n')));
  EXPECT_NE(line.dump().find("customer 2"), std::string::npos) << others;
  EXPECT_EQ(others.find("customer 1:"), std::string::npos) << others;
  EXPECT_EQ(testing::count_occurrences(others, "\n"), 1U);
  Statement outbox = store.database().prepare("SELECT channel_id FROM outbox ORDER BY id");
  std::vector<std::string> channels;
  while (outbox.step()) {
    channels.push_back(outbox.column_text(0));
  }
  std::sort(channels.begin(), channels.end());
  EXPECT_EQ(channels, (std::vector<std::string>{"console_json", "console_red"}));
}

TEST(PluginInstances, TwoScorerInstancesScoreWithTheirOwnConfigurations) {
  TempDir dir("instances-scorers");
  write_orders(dir / "orders" / "orders.csv", head_lines(0, 5'000));
  SyncHarness harness(dir / "crm.db");
  PluginHostOptions options;
  options.plugin_dirs = {CRM_PLUGIN_DIR};
  options.plugin_settings = {{"erp_csv", {{"config", online_retail_config(dir / "orders")}}}};
  options.instance_settings = nlohmann::json::parse(R"({
    "health_default": {"plugin": "scorer_health"},
    "health_strict": {"plugin": "scorer_health", "config": {
      "expected_interval_days": 7,
      "thresholds": {"order_gap_ratio": 1, "volume_drop": -0.05}}}
  })");
  options.available_features = feature_names(FeatureSettings{});
  PluginHost& host = harness.load(options);
  ASSERT_NE(host.find("erp_csv"), nullptr) << "an old plugins section still names the plugin's own instance";
  ASSERT_EQ(harness.sync(*host.find("erp_csv")).status, "ok");
  EXPECT_EQ(host.find("scorer_health"), nullptr);

  // 2011-01-15: the first 5,000 lines run to 2010-12-05, so most customers are between orders.
  const CustomerFeatures features = build_features(harness.store().database(), FeatureSettings{}, 1'295'049'600'000);
  ScoringSettings settings;
  settings.primary_scorer = "health_strict";
  const ScoringResult result = score_customers(host, features, settings, false, nullptr);
  std::map<std::string, const ScorerOutcome*> by_id;
  for (const ScorerOutcome& outcome : result.scorers) {
    by_id[outcome.scorer_id] = &outcome;
  }
  ASSERT_TRUE(by_id.contains("health_default") && by_id.contains("health_strict"));
  ASSERT_TRUE(result.primary.has_value());
  EXPECT_EQ(result.scorers[*result.primary].scorer_id, "health_strict");
  const ScorerOutcome& lenient = *by_id["health_default"];
  const ScorerOutcome& strict = *by_id["health_strict"];
  ASSERT_EQ(lenient.scores.size(), strict.scores.size());
  ASSERT_GT(lenient.scores.size(), 100U);
  ASSERT_EQ(lenient.reasons.size(), strict.reasons.size());
  std::size_t scored_apart = 0;
  std::size_t reasoned_apart = 0;
  for (std::size_t i = 0; i < lenient.scores.size(); ++i) {
    scored_apart += lenient.scores[i] != strict.scores[i] ? 1 : 0;
  }
  for (std::size_t i = 0; i < lenient.reasons.size(); ++i) {
    reasoned_apart += lenient.reasons[i] != strict.reasons[i] ? 1 : 0;
  }
  EXPECT_GT(scored_apart + reasoned_apart, 10U) << "the strict instance's configuration must change what it says";

  // Stored under the instances' names.
  store_scoring_run(harness.store(), features, result, settings, harness.clock().now_ms());
  const nlohmann::json stored = nlohmann::json::parse(harness.text("SELECT scorers_json FROM score_runs"));
  EXPECT_TRUE(stored.contains("health_default") && stored.contains("health_strict")) << stored.dump();
  EXPECT_FALSE(stored.contains("scorer_health")) << stored.dump();
  EXPECT_EQ(harness.text("SELECT primary_scorer FROM score_runs"), "health_strict");
}

// Loads with `plugins` and `instances`; the ConfigError of a strict load, or "" when none.
std::string strict_load_error(const nlohmann::json& plugins, const nlohmann::json& instances) {
  testing::TestHost test;
  PluginHostOptions options;
  options.plugin_dirs = {CRM_PLUGIN_DIR};
  options.plugin_settings = plugins;
  options.instance_settings = instances;
  options.unknown_plugin_ids_are_errors = true;
  options.create_instances = false;
  try {
    test.load(options);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(PluginInstances, ANameTakenTwiceOrAnUnknownPluginIsRefusedInOneLineNamingBoth) {
  // An instance named as another plugin that runs under its own name.
  EXPECT_EQ(strict_load_error({}, {{"scorer_rfm", {{"plugin", "scorer_health"}}}}),
            "the instance name 'scorer_rfm' is taken twice: by instances.scorer_rfm (plugin 'scorer_health') and by "
            "plugin 'scorer_rfm' under its own name (it has no instances, so it runs as itself); rename the instance");
  EXPECT_EQ(strict_load_error({{"scorer_rfm", {{"enabled", true}}}}, {{"scorer_rfm", {{"plugin", "scorer_health"}}}}),
            "the instance name 'scorer_rfm' is taken twice: by instances.scorer_rfm (plugin 'scorer_health') and by "
            "plugin 'scorer_rfm' under its own name (plugins.scorer_rfm); rename the instance");
  // An instance named as its own plugin, which "plugins" names too.
  EXPECT_EQ(strict_load_error({{"scorer_health", nlohmann::json::object()}},
                              {{"scorer_health", {{"plugin", "scorer_health"}}}}),
            "the instance name 'scorer_health' is taken twice: by instances.scorer_health and by "
            "plugins.scorer_health; rename the instance or remove one of the two");
  // A plugin id mistyped: the closest plugin is named.
  EXPECT_EQ(strict_load_error({}, {{"orders_eu", {{"plugin", "erp_cvs"}}}}),
            "instances.orders_eu.plugin: no plugin found has the id 'erp_cvs'; did you mean erp_csv? (fix the id, or "
            "remove the instance)");
  // An instance's name where a plugin id belongs.
  EXPECT_NE(strict_load_error({{"orders_eu", nlohmann::json::object()}},
                              {{"orders_eu", {{"plugin", "erp_csv"}, {"enabled", false}}}})
                .find("plugins.orders_eu: no plugin found has this id"),
            std::string::npos);
  // None of this when names are apart; an instance may take a plugin's name when that plugin runs only
  // as instances.
  EXPECT_EQ(strict_load_error(
                {}, {{"scorer_rfm", {{"plugin", "scorer_health"}}}, {"rfm_monthly", {{"plugin", "scorer_rfm"}}}}),
            "");

  // Loaded leniently, the later of the two is refused and the plugin keeps its own name.
  testing::TestHost test;
  PluginHostOptions options;
  options.plugin_dirs = {CRM_PLUGIN_DIR};
  options.instance_settings = {{"scorer_rfm", {{"plugin", "scorer_health"}}}};
  test.load(options);
  LoadedPlugin* rfm = test.host().find("scorer_rfm");
  ASSERT_NE(rfm, nullptr);
  EXPECT_EQ(rfm->plugin_id(), "scorer_rfm");
  std::size_t refused = 0;
  for (const PluginRecord& record : test.host().records()) {
    if (record.id == "scorer_rfm" && record.plugin_id == "scorer_health") {
      EXPECT_EQ(record.state, PluginState::refused);
      EXPECT_NE(record.reason.find("is taken twice"), std::string::npos);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 1U);
}

TEST(PluginInstances, AnInstanceConfigurationIsCheckedAgainstItsPluginsSchemaNamingTheField) {
  testing::TestHost test;
  PluginHostOptions options;
  options.plugin_dirs = {CRM_PLUGIN_DIR};
  options.instance_settings = {
      {"orders_eu",
       {{"plugin", "erp_csv"},
        {"config", {{"path", 42}, {"record_type", "order"}, {"columns", nlohmann::json::object()}}}}},
      {"orders_cn", {{"plugin", "erp_csv"}, {"enabled", false}}}};
  test.load(options);
  const PluginRecord* eu = test.record("orders_eu");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(eu->state, PluginState::refused);
  EXPECT_EQ(eu->plugin_id, "erp_csv");
  EXPECT_EQ(eu->reason,
            "configuration breaks the plugin's schema: instances.orders_eu.config.path: must be of type string, not "
            "integer; fix instances.orders_eu.config in the host configuration");
  const PluginRecord* cn = test.record("orders_cn");
  ASSERT_NE(cn, nullptr);
  EXPECT_EQ(cn->state, PluginState::disabled);
  EXPECT_EQ(cn->reason, "disabled in the configuration (instances.orders_cn.enabled)");
}

TEST(PluginInstances, AConnectorInstancesScheduleIsItsOwnKey) {
  HostConfig config;
  config.plugins = nlohmann::json::parse(R"({"erp_csv": {"every": "5m"}})");
  config.instances = nlohmann::json::parse(R"({"orders_cn": {"plugin": "erp_csv", "schedule": "0 * * * *"},
                                               "orders_eu": {"plugin": "erp_csv"}})");
  const ServiceSettings settings = parse_service_settings(config, {"erp_csv", "orders_cn", "orders_eu"});
  std::vector<std::string> jobs;
  for (const JobDefinition& definition : settings.jobs) {
    if (definition.kind == JobKind::sync) {
      jobs.push_back(definition.id + " " + definition.connector_id + " " + definition.schedule.text());
    }
  }
  EXPECT_EQ(jobs, (std::vector<std::string>{"sync:erp_csv erp_csv every 5m", "sync:orders_cn orders_cn 0 * * * *",
                                            "sync:orders_eu orders_eu every 10m"}));
  config.instances["orders_eu"]["every"] = "soon";
  try {
    (void)parse_service_settings(config, {"orders_eu"});
    ADD_FAILURE() << "a bad schedule was taken";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("instances.orders_eu.every: ")) << e.what();
  }
}

// The crmhost binary: what users and scripts see.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// stdout only, or stdout and stderr (for the one-line errors).
enum class Stderr { dropped, kept };

CommandResult run_crmhost(const std::string& arguments, Stderr errors = Stderr::dropped) {
  const std::string command =
      fmt::format("'{}' {} {}", CRM_HOST_BINARY, arguments, errors == Stderr::kept ? "2>&1" : "2>/dev/null");
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

fs::path write_config(const fs::path& dir, const nlohmann::json& config) {
  std::ofstream(dir / "crmhost.json") << config.dump(2);
  return dir / "crmhost.json";
}

TEST(PluginInstancesCli, SyncPluginsAndConfigCheckShowEachInstanceOnItsOwnLine) {
  TempDir dir("instances-cli");
  write_orders(dir / "eu" / "orders.csv", head_lines(0, 300));
  write_orders(dir / "cn" / "orders.csv", head_lines(200, 400));
  const std::string db = testing::store_locator(dir / "crm.db");
  nlohmann::json config = {
      {"database", db},
      {"instances",
       {{"orders_eu", {{"plugin", "erp_csv"}, {"every", "5m"}, {"config", online_retail_config("eu")}}},
        {"orders_cn", {{"plugin", "erp_csv"}, {"config", online_retail_config("cn")}}}}}};
  const std::string base = fmt::format("--config '{}'", write_config(dir.path(), config).string());

  CommandResult result = run_crmhost(base + " sync --json");
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  std::set<std::string> synced;
  for (const auto& summary : nlohmann::json::parse(result.output)) {
    synced.insert(summary["connector"].get<std::string>());
  }
  EXPECT_EQ(synced, (std::set<std::string>{"orders_cn", "orders_eu"})) << result.output;

  result = run_crmhost(base + " plugins --json");
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  std::map<std::string, std::string> runs;
  const nlohmann::json listing = nlohmann::json::parse(result.output);
  for (const auto& plugin : listing["plugins"]) {
    if (plugin["kind"] == "connector") {
      runs[plugin["id"].get<std::string>()] =
          plugin["plugin"].get<std::string>() + " " + plugin["state"].get<std::string>();
    }
  }
  EXPECT_EQ(runs["orders_eu"], "erp_csv loaded");
  EXPECT_EQ(runs["orders_cn"], "erp_csv loaded");
  EXPECT_FALSE(runs.contains("erp_csv")) << result.output;
  result = run_crmhost(base + " plugins");
  EXPECT_TRUE(std::regex_search(result.output, std::regex("\norders_eu +erp_csv +connector "))) << result.output;
  EXPECT_TRUE(std::regex_search(result.output, std::regex("^ID +PLUGIN +KIND "))) << result.output;

  // crmhost config check names an instance's field by its full path.
  config["instances"]["orders_cn"]["config"].erase("record_type");
  config["instances"]["orders_eu"]["config"]["path"] = 7;
  write_config(dir.path(), config);
  result = run_crmhost(base + " config check", Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitConfig) << result.output;
  EXPECT_NE(result.output.find("instances.orders_eu.config.path: must be of type string"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("instances.orders_cn.config: missing required property \"record_type\""),
            std::string::npos)
      << result.output;

  // A name taken twice, and an unknown plugin: exit 3, one line each naming both sides.
  config["instances"] = {{"scorer_rfm", {{"plugin", "scorer_health"}}}, {"orders", {{"plugin", "erp_cvs"}}}};
  write_config(dir.path(), config);
  result = run_crmhost(base + " plugins", Stderr::kept);
  EXPECT_EQ(result.exit_code, kExitConfig) << result.output;
  EXPECT_NE(result.output.find("the instance name 'scorer_rfm' is taken twice: by instances.scorer_rfm (plugin "
                               "'scorer_health') and by plugin 'scorer_rfm' under its own name"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("instances.orders.plugin: no plugin found has the id 'erp_cvs'; did you mean erp_csv?"),
            std::string::npos)
      << result.output;
}

// The schema-7 store of tests/fixtures/stores (see schema7_store_test.cpp), written by crmhost before
// instances existed with erp_csv under "plugins": its records, cursor and runs are keyed by "erp_csv",
// which is the name of erp_csv's own instance, so the store needs no migration. SQLite only (the file
// is of that backend): the name puts it among the StoreTest* tests.
TEST(StoreTestInstances, AStoreWrittenBeforeInstancesKeepsItsCursorAndAnInstanceStartsItsOwn) {
  TempDir dir("instances-schema7");
  fs::copy_file(fs::path(CRM_SOURCE_DIR) / "tests/fixtures/stores/schema7-4a532ab.db", dir / "crm.db");
  // The file the fixture was synced from, again: the same 51 lines, 4,584 bytes.
  write_orders(dir / "orders" / "online_retail_sample.csv", online_retail().every_300th_customer);
  ASSERT_EQ(fs::file_size(dir / "orders" / "online_retail_sample.csv"), 4'584U);
  const nlohmann::json config = {
      {"database", (dir / "crm.db").string()},
      {"plugins", {{"erp_csv", {{"config", online_retail_config("orders")}}}}},
      {"instances", {{"orders_copy", {{"plugin", "erp_csv"}, {"config", online_retail_config("orders")}}}}}};
  const std::string base = fmt::format("--config '{}'", write_config(dir.path(), config).string());

  CommandResult result = run_crmhost(base + " sync --json");
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  std::map<std::string, nlohmann::json> by_connector;
  for (const auto& summary : nlohmann::json::parse(result.output)) {
    by_connector[summary["connector"].get<std::string>()] = summary;
  }
  // erp_csv goes on from the cursor it left in the old store: nothing to read.
  EXPECT_EQ(by_connector["erp_csv"]["read"], 0) << result.output;
  EXPECT_EQ(by_connector["orders_copy"]["read"], 51) << result.output;
  EXPECT_EQ(testing::peek(dir / "crm.db", "SELECT count(*) FROM orders WHERE source = 'erp_csv'"), 51);
  EXPECT_EQ(testing::peek(dir / "crm.db", "SELECT count(*) FROM orders WHERE source = 'orders_copy'"), 51);
  EXPECT_EQ(testing::peek(dir / "crm.db", "SELECT count(*) FROM plugin_checkpoints"), 2);

  // New lines reach both, each from its own cursor.
  std::ofstream(dir / "orders" / "online_retail_sample.csv", std::ios::app | std::ios::binary)
      << fmt::format("{}\n", fmt::join(online_retail().every_300th_customer_plus_150, "\n"));
  result = run_crmhost(base + " sync --json");
  ASSERT_EQ(result.exit_code, kExitOk) << result.output;
  const std::size_t added = online_retail().every_300th_customer_plus_150.size();
  for (const auto& summary : nlohmann::json::parse(result.output)) {
    EXPECT_EQ(summary["read"], added) << summary.dump();
  }
  EXPECT_EQ(testing::peek(dir / "crm.db", "SELECT count(*) FROM orders WHERE source = 'erp_csv'"),
            static_cast<std::int64_t>(51 + added));
  EXPECT_EQ(testing::peek(dir / "crm.db", "SELECT count(*) FROM customers WHERE source = 'erp_csv'"),
            testing::peek(dir / "crm.db", "SELECT count(*) FROM customers WHERE source = 'orders_copy'"));
}

}  // namespace
}  // namespace crm::host
