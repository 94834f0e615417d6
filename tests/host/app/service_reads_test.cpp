#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "app/customers.hpp"
#include "app/errors.hpp"
#include "app/events.hpp"
#include "app/result_json.hpp"
#include "app/runs.hpp"
#include "scoring/features.hpp"
#include "scoring/scoring.hpp"
#include "store/score_run_repository.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A store of seven customers (2 known twice: erp_csv:B and crm:B2 unified
// into it) scored in three finished runs, with a history for customer 2,
// and a session over it with the default bands.
class ServiceReads : public ::testing::Test {
 protected:
  ServiceReads()
      : dir_(fs::temp_directory_path() / fmt::format("crm-service-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
    Store store(options_.db_path);
    const std::int64_t now = now_ms();
    store.database().exec(fmt::format(
        "INSERT INTO customers(id, source, external_id, unified_id, name) VALUES "
        "(1, 'erp_csv', 'A', NULL, 'alpha'), (2, 'erp_csv', 'B', 2, 'Beta'), (3, 'crm', 'B2', 2, 'Beta GmbH'), "
        "(4, 'erp_csv', 'D', NULL, 'delta'), (5, 'erp_csv', 'E', NULL, NULL), (6, 'erp_csv', 'F', NULL, 'Foxtrot'), "
        "(7, 'erp_csv', 'G', NULL, 'golf');"
        "INSERT INTO score_runs(id, as_of_ms, started_ms, finished_ms, primary_scorer) VALUES "
        "(1, 0, 0, 1000, 's'), (2, {0}, 2000, 3000, 's'), (3, {0}, 4000, 5000, 's'), (4, {0}, 6000, NULL, NULL);"
        "INSERT INTO customer_scores(run_id, customer_id, score, band) VALUES "
        "(1, 2, 75, 'yellow'), (1, 1, 50, 'red'), "
        "(2, 1, 55, 'red'), (2, 2, 72, 'yellow'), (2, 4, 50, 'red'), "
        "(3, 1, 50, 'red'), (3, 2, 40.5, 'red'), (3, 4, 50, 'red'), (3, 5, NULL, 'red'), (3, 6, 50, 'red'), "
        "(3, 7, 90, 'green'), (4, 1, 99, 'green');"
        // Customer 2's history: on both of its records.
        "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, currency, status) VALUES "
        "('erp_csv', 'o1', 2, {1}, 100, 'EUR', NULL), ('crm', 'o2', 3, {2}, 50, 'EUR', 'confirmed'), "
        "('erp_csv', 'o3', 2, {3}, 30, 'EUR', 'cancelled'), ('erp_csv', 'o4', 4, {3}, 999, 'EUR', NULL), "
        "('erp_csv', 'o5', 7, {3}, 10, 'EUR', NULL);"
        "INSERT INTO tickets(source, external_id, customer_id, opened_at_ms, resolved_at_ms, subject, is_complaint) "
        "VALUES ('crm', 't1', 3, {2}, NULL, 'late delivery', 1), ('crm', 't2', 2, {1}, {2}, 'invoice', 0);"
        "INSERT INTO surveys(source, external_id, customer_id, answered_at_ms, kind, score) VALUES "
        "('crm', 's1', 3, {3}, 'nps', 4);"
        "INSERT INTO activities(source, external_id, customer_id, occurred_at_ms, kind, detail) VALUES "
        "('crm', 'a1', 3, {4}, 'login', 'portal');"
        "INSERT INTO alerts(id, customer_id, reason, level, state, title, opened_ms, updated_ms) VALUES "
        "(1, 2, 'band_red', 'red', 'resolved', 'old', 1, 1), (2, 2, 'band_red', 'red', 'open', 'now', 2, 2);"
        "INSERT INTO do_not_contact(customer_id, reason, added_by, added_ms) VALUES (2, 'asked', 'ann', 0);",
        now - kDayMs, now - 400 * kDayMs, now - 10 * kDayMs, now - 5 * kDayMs, now - 1 * kDayMs));
    testing::continue_ids_after_largest(store.database());
  }
  ServiceReads(const ServiceReads&) = delete;
  ServiceReads& operator=(const ServiceReads&) = delete;
  ~ServiceReads() override { fs::remove_all(dir_); }

  static std::vector<std::int64_t> ids(const std::vector<CustomerListRow>& rows) {
    std::vector<std::int64_t> found;
    for (const CustomerListRow& row : rows) {
      found.push_back(row.customer_id);
    }
    return found;
  }

  // Every page of a list, joined.
  std::vector<std::int64_t> paged(CustomerListRequest request, std::size_t page_size) {
    Session session(options_, LogLevel::error, cancelled_);
    request.limit = page_size;
    std::vector<std::int64_t> all;
    for (int page = 0; page < 20; ++page) {
      const CustomerPage result = list_customers_page(session, request);
      EXPECT_LE(result.customers.size(), page_size);
      for (const std::int64_t id : ids(result.customers)) {
        all.push_back(id);
      }
      if (result.next_cursor.empty()) {
        return all;
      }
      request.cursor = result.next_cursor;
    }
    ADD_FAILURE() << "the list never ended";
    return all;
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(ServiceReads, CursorPagesOfAnySizeJoinIntoTheWholeListTiesBrokenById) {
  // Run 3 (run 4 is not finished): 2 (40.5), then 1, 4, 6 tied at 50 by id, 7 (90), unscored 5 last.
  const std::vector<std::int64_t> whole = {2, 1, 4, 6, 7, 5};
  for (const std::size_t size : {1U, 2U, 4U, 50U}) {
    EXPECT_EQ(paged({}, size), whole) << "pages of " << size;
  }
  CustomerListRequest descending;
  descending.descending = true;
  EXPECT_EQ(paged(descending, 2), (std::vector<std::int64_t>{7, 6, 4, 1, 2, 5}));
  CustomerListRequest red;
  red.band = "red";
  EXPECT_EQ(paged(red, 2), (std::vector<std::int64_t>{2, 1, 4, 6, 5}));

  // The CLI's offset pages and the full list read the same order.
  Session session(options_, LogLevel::error, cancelled_);
  EXPECT_EQ(ids(list_customers(session, {})), whole);
  CustomerListRequest offset;
  offset.limit = 2;
  offset.offset = 3;
  EXPECT_EQ(ids(list_customers(session, offset)), (std::vector<std::int64_t>{6, 7}));
}

TEST_F(ServiceReads, SortsByNameIdScoreChangeAndValue) {
  CustomerListRequest request;
  request.sort = CustomerSort::name;  // lower(name); customer 5 has none
  EXPECT_EQ(paged(request, 2), (std::vector<std::int64_t>{1, 2, 4, 6, 7, 5}));
  request.sort = CustomerSort::id;
  request.descending = true;
  EXPECT_EQ(paged(request, 4), (std::vector<std::int64_t>{7, 6, 5, 4, 2, 1}));
  // Against run 2: 2 fell 31.5, 1 fell 5, 4 stayed; the others were not scored then.
  request = {};
  request.sort = CustomerSort::score_change;
  EXPECT_EQ(paged(request, 1), (std::vector<std::int64_t>{2, 1, 4, 5, 6, 7}));
  // Purchases in the 365 days before the run's as-of date (yesterday): 4 (999), 2 (50 of crm:B2; 100 is
  // older, 30 cancelled), 7 (10), then the customers without purchases (0) by id.
  request.sort = CustomerSort::value;
  request.descending = true;
  EXPECT_EQ(paged(request, 2), (std::vector<std::int64_t>{4, 2, 7, 6, 5, 1}));
}

// A run finished by the scoring job stores its sort keys (migration 17's run_list_by_* tables), and the
// list reads them by index: the same orders as the joins above give, for a
// run whose keys were not stored.
TEST_F(ServiceReads, AFinishedRunStoresItsChangeAndValueAndTheListSortsByThem) {
  {
    // Run 3's keys written as store_scoring_run writes them: the year's revenue from the
    // feature build, the score change against run 2 from RunComparison.
    Store store(options_.db_path);
    Database& db = store.database();
    Statement as_of = db.prepare("SELECT as_of_ms FROM score_runs WHERE id = 3");
    ASSERT_TRUE(as_of.step());
    const CustomerFeatures features = build_features(db, FeatureSettings{}, as_of.column_int64(0));
    std::vector<std::tuple<std::int64_t, std::optional<double>, std::string>> rows;
    Statement run = db.prepare("SELECT customer_id, score, band FROM customer_scores WHERE run_id = 3");
    while (run.step()) {
      rows.emplace_back(run.column_int64(0),
                        run.column_is_null(1) ? std::nullopt : std::optional<double>(run.column_double(1)),
                        run.column_text(2));
    }
    {
      Transaction transaction(db);
      ScoreRunRepository runs(db);
      RunComparison previous(runs, 3, features.customer_ids);
      for (const auto& [customer_id, score, band] : rows) {
        const auto found = std::find(features.customer_ids.begin(), features.customer_ids.end(), customer_id);
        ASSERT_NE(found, features.customer_ids.end());
        const auto position = static_cast<std::size_t>(found - features.customer_ids.begin());
        CustomerSortKeyRow key;
        key.run_id = 3;
        key.customer_id = customer_id;
        key.band = band;
        key.score = score;
        key.value = features.revenue_last_year[position];
        key.score_change = previous.compare(position, score, band);
        runs.add_sort_key(key);
      }
      runs.finish_run(3, 5000, {}, previous.take_changes());
      transaction.commit();
    }
    Statement keys = db.prepare(
        "SELECT c.customer_id, coalesce(c.score_change, -1000), v.value FROM run_list_by_change c JOIN "
        "run_list_by_value v ON v.run_id = c.run_id AND v.customer_id = c.customer_id WHERE c.run_id = 3 ORDER BY "
        "c.customer_id");
    std::vector<std::tuple<std::int64_t, double, double>> stored;
    while (keys.step()) {
      stored.emplace_back(keys.column_int64(0), keys.column_double(1), keys.column_double(2));
    }
    // 2 fell 31.5 and bought 50 (crm:B2; 100 is older, 30 cancelled), 4 stayed and bought 999, 7 bought 10;
    // 5, 6 and 7 were not scored in run 2 (no change: -1000 here).
    EXPECT_EQ(stored, (std::vector<std::tuple<std::int64_t, double, double>>{
                          {1, -5, 0}, {2, -31.5, 50}, {4, 0, 999}, {5, -1000, 0}, {6, -1000, 0}, {7, -1000, 10}}));
  }
  const auto expect_the_lists = [this](const std::string& when) {
    SCOPED_TRACE(when);
    CustomerListRequest request;
    request.sort = CustomerSort::score_change;
    EXPECT_EQ(paged(request, 1), (std::vector<std::int64_t>{2, 1, 4, 5, 6, 7}));
    request.descending = true;
    EXPECT_EQ(paged(request, 2), (std::vector<std::int64_t>{4, 1, 2, 7, 6, 5}));
    request.sort = CustomerSort::value;
    EXPECT_EQ(paged(request, 2), (std::vector<std::int64_t>{4, 2, 7, 6, 5, 1}));
    request.band = "red";
    EXPECT_EQ(paged(request, 1), (std::vector<std::int64_t>{4, 2, 6, 5, 1}));
    // The score order, from run_list_by_score now: the same as the fixture's unkeyed order.
    EXPECT_EQ(paged({}, 2), (std::vector<std::int64_t>{2, 1, 4, 6, 7, 5}));
    CustomerListRequest by_score;
    by_score.descending = true;
    EXPECT_EQ(paged(by_score, 4), (std::vector<std::int64_t>{7, 6, 4, 1, 2, 5}));
    by_score.band = "red";
    EXPECT_EQ(paged(by_score, 1), (std::vector<std::int64_t>{6, 4, 1, 2, 5}));
    Session session(options_, LogLevel::error, cancelled_);
    CustomerListRequest offset;
    offset.limit = 2;
    offset.offset = 3;
    EXPECT_EQ(ids(list_customers(session, offset)), (std::vector<std::int64_t>{6, 7}));
  };
  {
    Store store(options_.db_path);
    Statement written = store.database().prepare(
        "SELECT count(*), count(score), coalesce(sum(customer_id), 0) FROM run_list_by_score WHERE run_id = 3");
    ASSERT_TRUE(written.step());
    EXPECT_EQ(written.column_int64(0), 6);
    EXPECT_EQ(written.column_int64(1), 5);
    EXPECT_EQ(written.column_int64(2), 1 + 2 + 4 + 5 + 6 + 7);
  }
  expect_the_lists("as written");
  // A store of schema 16 (keys in customer_sort_keys, the score order in customer_scores' indexes)
  // migrates to the same lists, every run with its score order.
  {
    Store store(options_.db_path);
    testing::undo_list_order_tables(store.database());
  }
  {
    Store store(options_.db_path);
    EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
    Statement runs = store.database().prepare("SELECT DISTINCT run_id FROM run_list_by_score ORDER BY run_id");
    std::vector<std::int64_t> run_ids;
    while (runs.step()) {
      run_ids.push_back(runs.column_int64(0));
    }
    EXPECT_EQ(run_ids, (std::vector<std::int64_t>{1, 2, 3, 4}));
  }
  expect_the_lists("after migrating from schema 16");
}

// A key that is no number (a NaN or infinite sum of amounts) would break the
// in-memory sort that orders the writes: it is stored as no change, and as 0 value.
TEST_F(ServiceReads, KeysThatAreNoNumbersAreStoredAsNoKey) {
  {
    Store store(options_.db_path);
    Database& db = store.database();
    Transaction transaction(db);
    ScoreRunRepository runs(db);
    const double not_a_number = std::nan("");
    const double infinite = std::numeric_limits<double>::infinity();
    const std::vector<std::tuple<std::int64_t, std::optional<double>, double, double>> keys = {
        {1, 50, -5, 10},
        {2, not_a_number, infinite, not_a_number},
        {4, 50, not_a_number, infinite},
        {5, std::nullopt, 1, 3},
        {6, 50, 2, 4},
        {7, 90, -infinite, 5}};
    for (const auto& [customer_id, score, change, value] : keys) {
      CustomerSortKeyRow key;
      key.run_id = 3;
      key.customer_id = customer_id;
      key.band = "red";
      key.score = score;
      key.score_change = change;
      key.value = value;
      runs.add_sort_key(key);
    }
    runs.finish_run(3, 5000, {}, {});
    transaction.commit();
    Statement stored = db.prepare(
        "SELECT c.customer_id, coalesce(c.score_change, -1000), v.value, coalesce(s.score, -1000) FROM "
        "run_list_by_change c JOIN run_list_by_value v ON v.run_id = c.run_id AND v.customer_id = c.customer_id "
        "JOIN run_list_by_score s ON s.run_id = c.run_id AND s.customer_id = c.customer_id WHERE c.run_id = 3 "
        "ORDER BY c.customer_id");
    std::vector<std::tuple<std::int64_t, double, double, double>> rows;
    while (stored.step()) {
      rows.emplace_back(stored.column_int64(0), stored.column_double(1), stored.column_double(2),
                        stored.column_double(3));
    }
    EXPECT_EQ(rows, (std::vector<std::tuple<std::int64_t, double, double, double>>{{1, -5, 10, 50},
                                                                                   {2, -1000, 0, -1000},
                                                                                   {4, -1000, 0, 50},
                                                                                   {5, 1, 3, -1000},
                                                                                   {6, 2, 4, 50},
                                                                                   {7, -1000, 5, 90}}));
  }
  CustomerListRequest request;
  request.sort = CustomerSort::value;
  request.band = "red";
  EXPECT_EQ(paged(request, 2), (std::vector<std::int64_t>{2, 4, 5, 6, 7, 1}));
}

TEST_F(ServiceReads, ChangedBandSinceComparesWithTheRunFinishedThen) {
  CustomerListRequest request;
  request.changed_band_since_ms = 3000;  // run 2: 1 red, 2 yellow, 4 red
  EXPECT_EQ(paged(request, 10), (std::vector<std::int64_t>{2, 6, 7, 5}));
  request.changed_band_since_ms = 500;  // before any run finished: everyone
  EXPECT_EQ(paged(request, 10).size(), 6U);
}

TEST_F(ServiceReads, MalformedCursorsLimitsAndSortsAreInvalidRequests) {
  Session session(options_, LogLevel::error, cancelled_);
  CustomerListRequest request;
  request.cursor = "not a cursor!";
  EXPECT_THROW(list_customers_page(session, request), InvalidRequest);
  request.cursor = "e30";  // "{}"
  EXPECT_THROW(list_customers_page(session, request), InvalidRequest);
  request = {};
  request.limit = 1;
  const std::string cursor = list_customers_page(session, request).next_cursor;
  ASSERT_FALSE(cursor.empty());
  request.cursor = cursor;
  request.sort = CustomerSort::name;  // made for the score sort
  EXPECT_THROW(list_customers_page(session, request), InvalidRequest);
  request = {};
  request.limit = kMaxPageSize + 1;
  EXPECT_THROW(list_customers_page(session, request), InvalidRequest);
  EXPECT_THROW(parse_customer_sort("revenue"), InvalidRequest);
  EXPECT_EQ(parse_customer_sort("score_change"), CustomerSort::score_change);
  request = {};
  EXPECT_EQ(list_customers_page(session, request).customers.size(), 6U);  // default page size 50
  EXPECT_TRUE(customer_page_json(list_customers_page(session, request))["next_cursor"].is_null());
}

TEST_F(ServiceReads, TheWhole360ViewGathersEveryRecordOfTheUnifiedCustomer) {
  Session session(options_, LogLevel::error, cancelled_);
  const Customer360 view = customer_360(session, "crm:B2", true);
  EXPECT_EQ(view.customer_id, 2);
  ASSERT_TRUE(view.orders);
  EXPECT_EQ(view.orders->orders, 2);  // the cancelled order is not a purchase
  EXPECT_DOUBLE_EQ(view.orders->revenue_total, 150);
  EXPECT_DOUBLE_EQ(view.orders->revenue_last_12_months, 50);
  EXPECT_EQ(view.orders->currency, "EUR");
  ASSERT_EQ(view.tickets.size(), 2U);
  EXPECT_EQ(view.tickets[0].external_id, "t1");
  EXPECT_FALSE(view.tickets[0].resolved_at_ms);
  ASSERT_EQ(view.surveys.size(), 1U);
  EXPECT_EQ(view.surveys[0].kind, "nps");
  // Newest first: the login, the survey and cancelled order, the ticket and order of day -10, ...
  ASSERT_GE(view.timeline.size(), 6U);
  EXPECT_EQ(view.timeline[0].kind, "activity");
  EXPECT_EQ(view.timeline[0].summary, "login: portal");
  EXPECT_TRUE(std::is_sorted(view.timeline.begin(), view.timeline.end(),
                             [](const HistoryEvent& a, const HistoryEvent& b) { return a.at_ms > b.at_ms; }));
  ASSERT_EQ(view.score_history.size(), 3U);
  EXPECT_EQ(view.score_history[0].run_id, 3);
  EXPECT_EQ(view.score_history[2].band, "yellow");
  ASSERT_EQ(view.alerts.size(), 2U);
  EXPECT_EQ(view.alerts[0].state, "open");
  EXPECT_FALSE(view.winback.lost);
  ASSERT_TRUE(view.winback.do_not_contact);
  EXPECT_EQ(view.winback.do_not_contact->added_by, "ann");

  const nlohmann::json json = customer_360_json(view);
  for (const char* key :
       {"customer_id", "known_as", "run_id", "as_of", "score", "band", "reasons", "profile", "contacts", "orders",
        "tickets", "surveys", "timeline", "score_history", "alerts", "winback"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["orders"]["average_order_value"], 75);
  EXPECT_EQ(json["tickets"][0]["status"], "open");
  EXPECT_EQ(json["winback"]["lost"], false);
  // `crmhost explain` asks for no profile: none of the rest either.
  EXPECT_FALSE(customer_360_json(customer_360(session, "2")).contains("orders"));
}

TEST_F(ServiceReads, AFollowUpIsStoredValidatedAndCountsForTheCadence) {
  Session session(options_, LogLevel::error, cancelled_);
  const std::int64_t at = now_ms() - 3 * kDayMs;
  EXPECT_THROW(record_follow_up(session, "2", {"", at, "phone", ""}), InvalidRequest);
  EXPECT_THROW(record_follow_up(session, "2", {"anna", at, "fax", ""}), InvalidRequest);
  EXPECT_THROW(record_follow_up(session, "2", {"anna", now_ms() + kDayMs, "phone", ""}), InvalidRequest);
  EXPECT_THROW(record_follow_up(session, "99", {"anna", at, "phone", ""}), NotFound);

  const RecordedFollowUp recorded = record_follow_up(session, "crm:B2", {"anna", at, "visit", "talked prices"});
  EXPECT_EQ(recorded.customer_id, 2);
  EXPECT_FALSE(recorded.id.empty());
  EXPECT_EQ(follow_up_json(recorded)["channel"], "visit");
  const std::string second = record_follow_up(session, "2", {"anna", at, "visit", ""}).id;
  EXPECT_NE(second, recorded.id);

  Store store(options_.db_path);
  const CustomerFeatures features = build_features(store.database(), FeatureSettings{}, now_ms());
  const auto row = std::find(features.customer_ids.begin(), features.customer_ids.end(), 2);
  ASSERT_NE(row, features.customer_ids.end());
  EXPECT_EQ(features.column("days_since_followup")[static_cast<std::size_t>(row - features.customer_ids.begin())], 3);

  const Customer360 view = customer_360(session, "2", true);
  const auto follow_up = std::find_if(view.timeline.begin(), view.timeline.end(),
                                      [&](const HistoryEvent& event) { return event.external_id == recorded.id; });
  ASSERT_NE(follow_up, view.timeline.end());
  EXPECT_EQ(follow_up->summary, "follow-up by visit (anna): talked prices");
}

TEST_F(ServiceReads, EventsAreStoredIdempotentlyAndBadRecordsQuarantinedOneByOne) {
  Session session(options_, LogLevel::error, cancelled_);
  const nlohmann::json body = {
      {"source", "shop"},
      {"records",
       {{{"type", "customer"}, {"external_id", "C1"}, {"name", "Shop customer"}},
        {{"type", "order"},
         {"external_id", "O1"},
         {"customer_external_id", "C1"},
         {"ordered_at_ms", 1000},
         {"amount", 12.5},
         {"currency", "EUR"}},
        {{"type", "order"}, {"external_id", "O2"}, {"customer_external_id", "C1"}, {"amount", "twelve"}},
        {{"type", "invoice"}, {"external_id", "I1"}},
        {{"type", "survey"}, {"external_id", "S1"}, {"customer_external_id", "C1"}, {"kind", "nps"}, {"score", 9}},
        {{"type", "interaction"}, {"external_id", "M1"}, {"customer_external_id", "C1"}, {"direction", "sideways"}},
        {{"type", "attribute"}, {"customer_external_id", "C1"}, {"name", "tier_hint"}, {"value", "key"}},
        {{"type", "order"}, {"external_id", std::string("O\x01", 2)}, {"customer_external_id", "C1"}},
        "not an object"}}};
  const EventIngestResult first = ingest_events(session, body);
  EXPECT_EQ(first.accepted, 4U);
  EXPECT_EQ(first.counts.inserted, 4U);
  ASSERT_EQ(first.rejected.size(), 5U);
  EXPECT_EQ(first.rejected[0].index, 2U);
  EXPECT_EQ(first.rejected[0].external_id, "O2");
  EXPECT_NE(first.rejected[0].reason.find("/amount"), std::string::npos) << first.rejected[0].reason;
  EXPECT_EQ(first.rejected[1].index, 3U);
  EXPECT_EQ(first.rejected[2].index, 5U);
  EXPECT_EQ(first.rejected[3].index, 7U);
  EXPECT_NE(first.rejected[3].reason.find("/external_id"), std::string::npos);
  EXPECT_EQ(first.rejected[4].index, 8U);
  const nlohmann::json json = event_ingest_json(first);
  EXPECT_EQ(json["rejected"].size(), 5U);

  // Sent again with a changed amount: updated, never duplicated.
  nlohmann::json again = body;
  again["records"][1]["amount"] = 20;
  const EventIngestResult second = ingest_events(session, again);
  EXPECT_EQ(second.counts.inserted, 0U);
  EXPECT_EQ(second.counts.updated, 1U);
  Store store(options_.db_path);
  Statement orders = store.database().prepare("SELECT count(*), max(amount) FROM orders WHERE source = 'shop'");
  ASSERT_TRUE(orders.step());
  EXPECT_EQ(orders.column_int64(0), 1);
  EXPECT_DOUBLE_EQ(orders.column_double(1), 20);
  const std::vector<QuarantineEntry> quarantined = store.list_quarantine("shop");
  ASSERT_EQ(quarantined.size(), 10U);  // five per batch, as a connector's bad records
  EXPECT_NE(quarantined[0].raw_record.find("twelve"), std::string::npos);

  EXPECT_THROW(ingest_events(session, nlohmann::json::array()), InvalidRequest);
  EXPECT_THROW(ingest_events(session, {{"records", nlohmann::json::array()}}), InvalidRequest);
  EXPECT_THROW(ingest_events(session, {{"source", "shop"}}), InvalidRequest);
  EXPECT_THROW(ingest_events(session, {{"source", "shop"}, {"records", nlohmann::json::array()}, {"extra", 1}}),
               InvalidRequest);
  EXPECT_EQ(event_record_schema("order")["required"], nlohmann::json({"type", "external_id", "customer_external_id"}));
  EXPECT_THROW(event_record_schema("invoice"), InvalidRequest);
}

TEST_F(ServiceReads, RunsScoringRunsAndConnectorStatusAreRead) {
  {
    Store store(options_.db_path);
    const std::int64_t sync = store.begin_run("sync", 10);
    store.finish_run(sync, "ok", R"({"synced": 3})", 20);
    store.begin_run("run", 30);
    const std::int64_t connector_run = store.begin_connector_run("erp_csv", 40);
    ConnectorRun run;
    run.id = connector_run;
    run.connector_id = "erp_csv";
    run.finished_ms = 50;
    run.status = "ok";
    run.fetched = 7;
    store.finish_connector_run(run);
    store.write_checkpoint("erp_csv", "cursor-1", 50);
    store.quarantine("erp_csv", "bad", "why", 50);
  }
  Session session(options_, LogLevel::error, cancelled_);
  const std::vector<RunRow> all = list_runs(session, "", 0);
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].kind, "run");
  EXPECT_FALSE(all[0].finished_ms);
  const std::vector<RunRow> syncs = list_runs(session, "sync", 0);
  ASSERT_EQ(syncs.size(), 1U);
  EXPECT_EQ(run_row_json(show_run(session, syncs[0].id))["summary"]["synced"], 3);
  EXPECT_THROW(show_run(session, 999), NotFound);
  EXPECT_THROW(list_runs(session, "", kMaxRunListSize + 1), InvalidRequest);

  const std::vector<ScoreRunRow> scoring = list_score_runs(session, 0);
  ASSERT_EQ(scoring.size(), 4U);
  EXPECT_EQ(scoring[1].id, 3);
  EXPECT_EQ(scoring[1].bands.at("red"), 5);
  EXPECT_EQ(scoring[1].bands.at("green"), 1);
  EXPECT_EQ(score_runs_json(scoring)["score_runs"][1]["bands"]["red"], 5);

  PluginRecord erp;
  erp.id = "erp_csv";
  erp.kind = "connector";
  erp.state = PluginState::loaded;
  PluginRecord refused;
  refused.id = "crm_api";
  refused.kind = "connector";
  refused.reason = "abi 2.0";
  PluginRecord channel;
  channel.id = "alert_email";
  channel.kind = "channel";
  const std::vector<ConnectorStatus> connectors = list_connectors(session, {erp, refused, channel});
  ASSERT_EQ(connectors.size(), 2U);
  ASSERT_TRUE(connectors[0].last_sync);
  EXPECT_EQ(connectors[0].last_sync->fetched, 7U);
  EXPECT_TRUE(connectors[0].has_cursor);
  EXPECT_EQ(connectors[0].quarantine_pending, 1);
  EXPECT_FALSE(connectors[1].last_sync);
  const nlohmann::json json = connectors_json(connectors);
  EXPECT_EQ(json["connectors"][1]["state"], "refused");
  EXPECT_FALSE(json["connectors"][0].dump().find("cursor-1") != std::string::npos);  // the cursor is not shown
}

}  // namespace
}  // namespace crm::host
