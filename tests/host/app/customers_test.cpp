#include "app/customers.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "app/errors.hpp"
#include "app/result_json.hpp"
#include "app/winback_jobs.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// A store with four customers (2 known twice: erp_csv:B and crm:B2 unified
// into it) scored in two runs, and a session over it with the default bands
// (green >= 80 account_manager, yellow >= 70 csm, orange >= 60 cs_director, red coo).
class CustomerReadModels : public ::testing::Test {
 protected:
  CustomerReadModels()
      : dir_(fs::temp_directory_path() / fmt::format("crm-app-{}-{}",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                                     ::getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "crmhost.json") << "{}";
    options_.config_path = (dir_ / "crmhost.json").string();
    options_.db_path = testing::store_locator(dir_ / "crm.db");
    options_.no_default_plugin_dir = true;
    Store store(options_.db_path);
    Database& db = store.database();
    db.exec(
        "INSERT INTO customers(id, source, external_id, unified_id, name, country, industry, created_at_ms) VALUES "
        "(1, 'erp_csv', 'A', NULL, 'Alpha', 'DE', 'retail', 0), (2, 'erp_csv', 'B', NULL, 'Beta', 'FR', NULL, NULL), "
        "(3, 'crm', 'B2', 2, 'Beta GmbH', NULL, NULL, NULL), (4, 'erp_csv', 'D', NULL, NULL, NULL, NULL, NULL), "
        "(5, 'erp_csv', 'E', NULL, 'Never scored', NULL, NULL, NULL);"
        "INSERT INTO contacts(id, source, external_id, customer_id, name, email, role, owner, is_key_contact) VALUES "
        "(10, 'crm', 'c1', 3, 'Bea', 'bea@example.com', 'buyer', 'anna', 1), "
        "(11, 'erp_csv', 'c2', 1, 'Al', NULL, NULL, NULL, NULL);"
        "INSERT INTO score_runs(id, as_of_ms, started_ms, finished_ms, primary_scorer, scorers_json) VALUES "
        "(1, 0, 0, 1, 'scorer_health', '{\"scorer_health\":\"1.0\"}'), "
        "(2, 86400000, 2, 3, 'scorer_health', '{\"scorer_health\":\"1.0\"}'), (3, 172800000, 4, NULL, NULL, NULL);"
        "INSERT INTO customer_scores(run_id, customer_id, score, band, tier, stage, abc_class, reasons, scores_json, "
        "explain_json) VALUES "
        "(1, 2, 75, 'yellow', 'key', 'growth', 'A', NULL, NULL, NULL), "
        "(2, 1, 85, 'green', 'general', 'mature', 'B', NULL, NULL, NULL), "
        "(2, 2, 40.5, 'red', 'key', 'decline', 'A', 'volume_drop', '{\"scorer_health\":40.5}', "
        "'[[\"recency_days\",-12.50]]'), "
        "(2, 4, 65, 'orange', 'general', NULL, 'C', NULL, NULL, NULL), "
        "(2, 5, NULL, 'red', NULL, NULL, NULL, NULL, NULL, NULL), "
        "(3, 1, 10, 'red', 'general', NULL, 'B', NULL, NULL, NULL);");
  }
  CustomerReadModels(const CustomerReadModels&) = delete;
  CustomerReadModels& operator=(const CustomerReadModels&) = delete;
  ~CustomerReadModels() override { fs::remove_all(dir_); }

  std::vector<std::int64_t> ids(const CustomerListRequest& request) {
    Session session(options_, LogLevel::error, cancelled_);
    std::vector<std::int64_t> found;
    for (const CustomerListRow& row : list_customers(session, request)) {
      found.push_back(row.customer_id);
    }
    return found;
  }

  fs::path dir_;
  SessionOptions options_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(CustomerReadModels, ListsTheLatestFinishedRunRiskiestFirstUnscoredLast) {
  EXPECT_EQ(ids({}), (std::vector<std::int64_t>{2, 4, 1, 5}));
  CustomerListRequest page;
  page.limit = 2;
  page.offset = 1;
  EXPECT_EQ(ids(page), (std::vector<std::int64_t>{4, 1}));
}

TEST_F(CustomerReadModels, FiltersByBandTierStageValueClassAndOwner) {
  CustomerListRequest request;
  request.band = "red";
  EXPECT_EQ(ids(request), (std::vector<std::int64_t>{2, 5}));
  request = {};
  request.tier = "general";
  EXPECT_EQ(ids(request), (std::vector<std::int64_t>{4, 1}));
  request = {};
  request.stage = "decline";
  EXPECT_EQ(ids(request), (std::vector<std::int64_t>{2}));
  request = {};
  request.value_class = "C";
  EXPECT_EQ(ids(request), (std::vector<std::int64_t>{4}));
  request = {};
  request.owner = "cs_director";  // owns orange
  EXPECT_EQ(ids(request), (std::vector<std::int64_t>{4}));
  request.band = "red";  // coo's, not the director's: nobody
  EXPECT_TRUE(ids(request).empty());
  request = {};
  request.owner = "nobody";
  EXPECT_TRUE(ids(request).empty());
}

TEST_F(CustomerReadModels, TheCustomer360ViewReadsTheUnifiedCustomerByAnyOfItsNames) {
  Session session(options_, LogLevel::error, cancelled_);
  const Customer360 view = customer_360(session, "crm:B2", true);
  EXPECT_EQ(view.customer_id, 2);
  EXPECT_EQ(view.known_as, (std::vector<std::string>{"erp_csv:B", "crm:B2"}));
  EXPECT_EQ(view.run_id, 2);
  ASSERT_TRUE(view.score);
  EXPECT_DOUBLE_EQ(*view.score, 40.5);
  EXPECT_EQ(view.band, "red");
  EXPECT_EQ(view.previous_band, "yellow");
  ASSERT_TRUE(view.band_rule);
  EXPECT_EQ(view.band_rule->owner, "coo");
  ASSERT_EQ(view.reasons.size(), 1U);
  EXPECT_EQ(view.reasons[0].code, "volume_drop");
  ASSERT_EQ(view.top_contributions.size(), 1U);
  EXPECT_EQ(view.top_contributions[0].feature, "recency_days");
  EXPECT_DOUBLE_EQ(view.top_contributions[0].points, -12.5);
  ASSERT_TRUE(view.profile);
  EXPECT_EQ(view.profile->name, "Beta");
  EXPECT_EQ(view.profile->country, "FR");
  ASSERT_EQ(view.contacts.size(), 1U);
  EXPECT_EQ(view.contacts[0].email, "bea@example.com");
  EXPECT_TRUE(view.contacts[0].is_key_contact);
  const nlohmann::json json = customer_360_json(view);
  EXPECT_EQ(json["contacts"][0]["name"], "Bea");
  EXPECT_EQ(json["scores"]["scorer_health"], 40.5);

  // Without asking, the view is what `crmhost explain` shows: no profile.
  EXPECT_FALSE(customer_360(session, "2").profile);
}

// The score history chart draws the configured bands, not the defaults.
TEST_F(CustomerReadModels, TheCustomer360ViewCarriesTheConfiguredBandThresholds) {
  std::ofstream(dir_ / "crmhost.json") << R"({"scoring": {"bands": [{"name": "red", "min_score": 0},
                                                          {"name": "green", "min_score": 75},
                                                          {"name": "amber", "min_score": 50}]}})";
  Session session(options_, LogLevel::error, cancelled_);
  const nlohmann::json json = customer_360_json(customer_360(session, "2"));
  EXPECT_EQ(json["band_thresholds"], nlohmann::json::parse(R"([{"name": "green", "min_score": 75},
                                                                {"name": "amber", "min_score": 50},
                                                                {"name": "red", "min_score": 0}])"));
}

TEST_F(CustomerReadModels, NamesThatAreMalformedUnknownOrUnscoredAreTypedErrors) {
  Session session(options_, LogLevel::error, cancelled_);
  EXPECT_THROW(customer_360(session, "2x"), InvalidRequest);
  EXPECT_THROW(customer_360(session, ""), InvalidRequest);
  EXPECT_THROW(customer_360(session, "99"), NotFound);
  EXPECT_THROW(customer_360(session, "erp_csv:Z"), NotFound);
  Store store(options_.db_path);
  store.database().exec("INSERT INTO customers(id, source, external_id) VALUES (6, 'erp_csv', 'F')");
  EXPECT_THROW(customer_360(session, "erp_csv:F"), NotFound);
}

TEST_F(CustomerReadModels, TasksAndTheDoNotContactListAreReadInOrder) {
  {
    Store store(options_.db_path);
    store.database().exec(
        "INSERT INTO do_not_contact(customer_id, reason, added_by, added_ms) VALUES (4, 'asked', NULL, 0), "
        "(1, 'legal hold', 'ann', 86400000);"
        "INSERT INTO tasks(id, customer_id, owner, title, created_ms, due_ms, state) VALUES "
        "(7, 1, 'csm', 'call', 0, NULL, 'open'), (8, 2, 'coo', 'visit', 0, 86400000, 'done')");
  }
  Session session(options_, LogLevel::error, cancelled_);
  const std::vector<DoNotContactEntry> entries = list_do_not_contact(session);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[0].customer_id, 1);
  EXPECT_EQ(entries[0].added_by, "ann");
  EXPECT_EQ(entries[1].added_by, "");
  ASSERT_EQ(list_tasks(session, "").size(), 2U);
  const std::vector<OwnerTask> open = list_tasks(session, "open");
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open[0].id, 7);
  EXPECT_EQ(open[0].due_ms, 0);
  EXPECT_EQ(open[0].campaign_id, 0);
  EXPECT_EQ(list_tasks(session, "done").at(0).due_ms, 86400000);
}

}  // namespace
}  // namespace crm::host
