// im_wecom against the local WeCom double (tests/doubles/wecom_double.py),
// through the real loader, sync engine and store.
#include <algorithm>
#include <gtest/gtest.h>

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

json settings(const WecomDouble& wecom, const std::string& secret_variable = "WECOM_CONTACT_SECRET") {
  return {{"im_wecom",
           {{"config",
             {{"base_url", wecom.api_base()},
              {"corp_id", "ww-test-corp"},
              {"contact_secret", {{"env", secret_variable}}},
              {"timeout_ms", 2000}}}}}};
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

TEST_F(ImWecom, AnOwnerChangeAndADepartureBecomeActivityEvents) {
  LoadedPlugin& plugin = connector();
  ASSERT_EQ(harness_.sync(plugin).status, "ok");
  // lisi leaves the company: wmB, followed only by lisi, is followed by nobody; wmC keeps zhangsan.
  json state = base_state();
  state["follow_users"] = {"zhangsan"};
  state["contacts"] = {contact("wmA", "王经理", "上海华东机械有限公司", {"zhangsan"}),
                       contact("wmC", "陈工", "上海华东机械有限公司", {"zhangsan"})};
  wecom_.control("state", state);
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(harness_.text("SELECT detail FROM activities WHERE kind = 'owner_changed' AND contact_external_id = 'wmC'"),
            "lisi,zhangsan -> zhangsan");
  EXPECT_EQ(harness_.text("SELECT detail FROM activities WHERE kind = 'owner_left' AND contact_external_id = 'wmB'"),
            "no longer followed by lisi");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 2);
  EXPECT_EQ(harness_.text("SELECT c.name FROM activities a JOIN customers c ON c.id = a.customer_id "
                          "WHERE a.contact_external_id = 'wmB'"),
            "Nordic Trading AB");
  // Nothing changes on the next pass: no new event.
  ASSERT_EQ(harness_.sync(plugin).status, "ok");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM activities"), 2);
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
