// im_wecom against the local WeCom double (tests/doubles/wecom_double.py),
// through the real loader, sync engine and store.
#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>

#include "scoring/features.hpp"
#include "support/sync_harness.hpp"
#include "support/wecom_double.hpp"

namespace crm::host {
namespace {

using nlohmann::json;
using testing::SyncHarness;
using testing::TempDir;

constexpr const char* kSecret = "contact-secret-8f3a9c";

using testing::WecomDouble;

json contact(const std::string& id, const std::string& name, const std::string& corp,
             const std::vector<std::string>& owners) {
  json follow = json::array();
  for (const std::string& owner : owners) {
    follow.push_back({{"userid", owner}, {"createtime", 1700000000}});
  }
  return {{"external_userid", id}, {"name", name},           {"type", 2},
          {"corp_name", corp},     {"corp_full_name", corp}, {"follow", follow}};
}

json base_state() {
  return {{"corps", {{"ww-test-corp", kSecret}}},
          {"token_lifetime_s", 7200},
          {"page_size", 2},
          {"follow_users", {"lisi", "zhangsan"}},
          {"contacts",
           {contact("wmA", "王经理", "上海华东机械有限公司", {"zhangsan"}),
            contact("wmB", "Anna Berg", "Nordic Trading AB", {"lisi"}),
            contact("wmC", "陈工", "上海华东机械有限公司", {"zhangsan", "lisi"})}}};
}

json settings(const WecomDouble& wecom, const std::string& secret_variable = "WECOM_CONTACT_SECRET",
              int users_per_request = 100) {
  return {{"im_wecom",
           {{"config",
             {{"base_url", wecom.api_base()},
              {"corp_id", "ww-test-corp"},
              {"contact_secret", {{"env", secret_variable}}},
              {"timeout_ms", 2000},
              {"users_per_request", users_per_request}}}}}};
}

class ImWecom : public ::testing::Test {
 protected:
  ImWecom() : dir_("im-wecom"), harness_(dir_ / "crm.db") { wecom_.control("state", base_state()); }

  LoadedPlugin& connector() {
    return harness_.load({CRM_PLUGIN_DIR}, settings(wecom_), "im_wecom", {{"WECOM_CONTACT_SECRET", kSecret}});
  }

  void expect_no_secret_in_logs() {
    for (const std::string& line : harness_.log_lines()) {
      EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
      EXPECT_EQ(line.find("access_token="), std::string::npos) << line;
    }
  }

  TempDir dir_;
  WecomDouble wecom_;
  SyncHarness harness_;
};

TEST_F(ImWecom, SyncsContactsWithTheirOwnersAndCompaniesAcrossPages) {
  LoadedPlugin& plugin = connector();
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 3);
  EXPECT_EQ(harness_.text("SELECT owner FROM contacts WHERE external_id = 'wmC'"), "lisi,zhangsan");
  EXPECT_EQ(harness_.text("SELECT c.name FROM contacts p JOIN customers c ON c.id = p.customer_id "
                          "WHERE p.external_id = 'wmA'"),
            "上海华东机械有限公司");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM customers"), 2);
  // 4 follow entries in pages of 2: two page requests, one token for the whole sync.
  EXPECT_EQ(wecom_.requests_to("batch/get_by_user").size(), 2U);
  EXPECT_EQ(wecom_.requests_to("gettoken").size(), 1U);
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 0) << "a first pass has nothing to compare with";
  expect_no_secret_in_logs();
}

// The "key contact changed" feature of the customer `customer_external_id`, a day after the clock.
double key_contact_changed(SyncHarness& harness, const std::string& customer_external_id) {
  const std::int64_t unified =
      harness.count("SELECT unified_id FROM customers WHERE external_id = '" + customer_external_id + "'");
  const CustomerFeatures features =
      build_features(harness.store().database(), FeatureSettings{}, harness.clock().now_ms() + kMillisecondsPerDay);
  const auto row = std::find(features.customer_ids.begin(), features.customer_ids.end(), unified);
  EXPECT_NE(row, features.customer_ids.end()) << customer_external_id;
  return row == features.customer_ids.end()
             ? -1
             : features.column("key_contact_changed")[static_cast<std::size_t>(row - features.customer_ids.begin())];
}

// Fails on im_wecom 0.1, which called every contact missing from a pass "owner_left", dated by the sync.
TEST_F(ImWecom, OnlyAResignationIsOwnerLeftAContactMerelyMissingIsNotVisible) {
  json state = base_state();
  state["follow_users"] = {"lisi", "wangwu", "zhangsan"};
  state["contacts"].push_back(contact("wmD", "Dario Rossi", "Milano Utensili SpA", {"wangwu"}));
  wecom_.control("state", state);
  LoadedPlugin& plugin = connector();
  ASSERT_EQ(harness_.sync(plugin).status, "ok");
  // lisi resigns three days ago: WeCom lists wmB and wmC as his unassigned customers. wangwu and
  // wmD lose sight of each other (either side deleted, or a permission or licence lost: WeCom
  // does not say which); wangwu adds wmA.
  const std::int64_t dimission_s = harness_.clock().now_ms() / 1000 - 3 * 86400;
  state["follow_users"] = {"wangwu", "zhangsan"};
  state["contacts"] = {contact("wmA", "王经理", "上海华东机械有限公司", {"zhangsan", "wangwu"}),
                       contact("wmC", "陈工", "上海华东机械有限公司", {"zhangsan"})};
  state["unassigned"] = {{{"handover_userid", "lisi"}, {"external_userid", "wmB"}, {"dimission_time", dimission_s}},
                         {{"handover_userid", "lisi"}, {"external_userid", "wmC"}, {"dimission_time", dimission_s}}};
  wecom_.control("state", state);
  harness_.clock().advance_ms(kMillisecondsPerDay);
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;

  EXPECT_EQ(harness_.joined("SELECT contact_external_id FROM activities WHERE kind = 'owner_left' "
                            "ORDER BY contact_external_id"),
            "wmB,wmC");
  EXPECT_EQ(harness_.count("SELECT occurred_at_ms FROM activities WHERE kind = 'owner_left' AND "
                           "contact_external_id = 'wmB'"),
            dimission_s * 1000)
      << "dated by the resignation, not by the sync";
  const std::string left = harness_.text("SELECT detail FROM activities WHERE contact_external_id = 'wmB'");
  EXPECT_NE(left.find("lisi left the company on "), std::string::npos) << left;
  EXPECT_EQ(harness_.text("SELECT c.name FROM activities a JOIN customers c ON c.id = a.customer_id "
                          "WHERE a.contact_external_id = 'wmB'"),
            "Nordic Trading AB");

  EXPECT_EQ(harness_.text("SELECT kind FROM activities WHERE contact_external_id = 'wmD'"), "contact_not_visible");
  const std::string hidden = harness_.text("SELECT detail FROM activities WHERE contact_external_id = 'wmD'");
  EXPECT_NE(hidden.find("no longer visible to the app (was followed by wangwu)"), std::string::npos) << hidden;
  EXPECT_NE(hidden.find("not evidence of churn"), std::string::npos) << hidden;

  EXPECT_EQ(harness_.text("SELECT detail FROM activities WHERE kind = 'owner_changed' AND contact_external_id = 'wmA'"),
            "zhangsan -> wangwu,zhangsan");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities WHERE contact_external_id = 'wmC'"), 1)
      << "lisi's resignation is wmC's only change: an owner_left, not also an owner_changed";
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 4);
  EXPECT_EQ(harness_.text("SELECT owner FROM contacts WHERE external_id = 'wmC'"), "zhangsan");

  // The churn signal: the resignation counts, the contact no longer visible does not.
  EXPECT_EQ(key_contact_changed(harness_, "Nordic Trading AB"), 1);
  const double not_visible = key_contact_changed(harness_, "Milano Utensili SpA");
  EXPECT_TRUE(std::isnan(not_visible) || not_visible == 0) << not_visible << ": no change counted (NaN or 0)";

  // The next pass sees the same resignations (still unassigned): nothing new.
  ASSERT_EQ(harness_.sync(plugin).status, "ok");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 4);
}

// Fails on im_wecom 0.1: the sync failed with "fatal error: WeCom ... errcode 84061".
TEST_F(ImWecom, AMemberWithNoCustomersIsAnEmptyPageNotAnError) {
  json state = base_state();
  state["follow_users"] = {"lisi", "wangwu", "zhangsan"};
  wecom_.control("state", state);
  LoadedPlugin& plugin = harness_.load({CRM_PLUGIN_DIR}, settings(wecom_, "WECOM_CONTACT_SECRET", 1), "im_wecom",
                                       {{"WECOM_CONTACT_SECRET", kSecret}});
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 3);
  const auto pages = wecom_.requests_to("batch/get_by_user");
  EXPECT_TRUE(std::any_of(pages.begin(), pages.end(), [](const json& request) {
    return request.value("errcode", 0) == 84061 &&
           request["body"].get<std::string>().find("wangwu") != std::string::npos;
  })) << "the double answers 84061 for wangwu, who has no customers";
}

// Fails on im_wecom 0.1, whose cursor carried every contact and its owners (tens of kB here,
// megabytes for a large corp) and was re-serialised on every page.
TEST_F(ImWecom, TheCursorIsAPositionTheOwnersLiveInThePluginStateAndASyncResumesMidPass) {
  json state = base_state();
  state["page_size"] = 100;
  state["generated"] = {{"contacts", 2000}, {"members", 20}, {"resigned_members", 0}};
  wecom_.control("state", state);
  LoadedPlugin& plugin = connector();
  // The pass stops on the 11th page (a fatal error): its position and what it saw so far are committed.
  wecom_.control("fault", {{"kind", "errcode:99999"}, {"path", "batch/get_by_user"}, {"skip", 10}});
  ASSERT_EQ(harness_.sync(plugin).status, "failed");
  const std::string cursor = harness_.text("SELECT cursor FROM plugin_checkpoints WHERE plugin_id = 'im_wecom'");
  EXPECT_LT(cursor.size(), 100U) << cursor;
  EXPECT_EQ(harness_.count("SELECT count(*) FROM plugin_state WHERE plugin_id = 'im_wecom'"), 1 + 860)
      << "one chunk of follow users and the 860 contacts of the first 1,000 follow entries";
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 0) << "contacts are written when the pass ends";

  const SyncSummary resumed = harness_.sync(plugin);
  ASSERT_EQ(resumed.status, "ok") << resumed.message;
  EXPECT_EQ(wecom_.requests_to("get_follow_user_list").size(), 1U) << "resumed mid-pass, not restarted";
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 2000);
  EXPECT_EQ(harness_.text("SELECT owner FROM contacts WHERE external_id = 'wm0000000005'"), "m0005,m0006");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 0);
  EXPECT_LT(harness_.text("SELECT cursor FROM plugin_checkpoints WHERE plugin_id = 'im_wecom'").size(), 100U);

  // m0019 resigns: WeCom lists his 120 customers as unassigned; 40 of them stay visible, followed
  // by another member too.
  state["generated"]["resigned_members"] = 1;
  state["unassigned_page_size"] = 50;
  wecom_.control("state", state);
  wecom_.control("reset", json::object());
  ASSERT_EQ(harness_.sync(plugin).status, "ok");
  const auto unassigned_pages = wecom_.requests_to("get_unassigned_list");
  ASSERT_EQ(unassigned_pages.size(), 3U) << "120 resignations in pages of 50, until is_last";
  EXPECT_EQ(json::parse(unassigned_pages[2]["body"].get<std::string>())["cursor"], "100");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities WHERE kind = 'owner_left'"), 120);
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 120)
      << "no contact_not_visible nor owner_changed for a resignation";
  EXPECT_EQ(harness_.text("SELECT owner FROM contacts WHERE external_id = 'wm0000000039'"), "m0019")
      << "a contact no longer visible keeps its last known owner";
  EXPECT_EQ(harness_.text("SELECT owner FROM contacts WHERE external_id = 'wm0000000019'"), "m0000");
  EXPECT_EQ(harness_.text("SELECT owner FROM contacts WHERE external_id = 'wm0000000018'"), "m0018");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM plugin_state WHERE plugin_id = 'im_wecom'"), 1 + 2000 - 80)
      << "the 80 contacts no longer visible are forgotten";
}

TEST_F(ImWecom, AnExpiredTokenIsRefreshedOnceAndTheSyncGoesOn) {
  LoadedPlugin& plugin = connector();
  wecom_.control("fault", {{"kind", "expire_tokens"}, {"path", "batch/get_by_user"}});
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(wecom_.requests_to("gettoken").size(), 2U);
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 3);
}

TEST_F(ImWecom, RateLimitsServerErrorsAndGarbageAreRetriedByTheHost) {
  LoadedPlugin& plugin = connector();
  wecom_.control("fault", {{"kind", "freq_limit"}, {"path", "batch/get_by_user"}});
  wecom_.control("fault", {{"kind", "http_502"}, {"path", "batch/get_by_user"}});
  wecom_.control("fault", {{"kind", "not_json"}, {"path", "get_follow_user_list"}});
  wecom_.control("fault", {{"kind", "busy"}, {"path", "batch/get_by_user"}});
  const std::int64_t start_ms = harness_.clock().now_ms();
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 3);
  EXPECT_GT(harness_.clock().now_ms(), start_ms) << "the host waited (on its test clock) between attempts";
  const auto lines = harness_.log_lines();
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.find("WeCom externalcontact/batch/get_by_user errcode 45009") != std::string::npos;
  }));
  expect_no_secret_in_logs();
}

TEST_F(ImWecom, ADroppedConnectionOrASlowReplyIsRetriable) {
  LoadedPlugin& plugin = connector();
  wecom_.control("fault", {{"kind", "drop"}, {"path", "batch/get_by_user"}});
  wecom_.control("fault", {{"kind", "slow"}, {"path", "get_follow_user_list"}});
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(harness_.count("SELECT count(*) FROM contacts"), 3);
}

TEST_F(ImWecom, AWrongSecretIsOneClearConfigErrorThatNamesNoSecret) {
  LoadedPlugin& plugin =
      harness_.load({CRM_PLUGIN_DIR}, settings(wecom_), "im_wecom", {{"WECOM_CONTACT_SECRET", "wrong-secret-value"}});
  const SyncSummary summary = harness_.sync(plugin);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message, "config error: WeCom rejected corp_id or contact_secret (errcode 40001)");
  EXPECT_EQ(wecom_.requests_to("gettoken").size(), 1U) << "a config error is not retried";
  for (const std::string& line : harness_.log_lines()) {
    EXPECT_EQ(line.find("wrong-secret-value"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace crm::host
