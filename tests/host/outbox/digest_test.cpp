// The digest packer and renderer without a store: which notifications go
// out together, under which key, and what the channel receives.
#include "outbox/digest.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

OutboxItem item(std::int64_t id, const std::string& title, std::vector<std::string> recipients) {
  OutboxItem made;
  made.id = id;
  made.alert_id = 100 + id;
  made.channel_id = "alert_console";
  made.key = "crm-alert-" + std::to_string(100 + id) + "-1-alert_console";
  made.envelope.title = title;
  made.envelope.text = "detail of " + title;
  made.envelope.level = "yellow";
  made.envelope.severity = CRM_SEVERITY_WARNING;
  made.envelope.recipients = std::move(recipients);
  made.envelope.created_ms = 1'000 * id;
  return made;
}

std::vector<const OutboxItem*> pointers(const std::vector<OutboxItem>& items) {
  std::vector<const OutboxItem*> out;
  for (const OutboxItem& one : items) {
    out.push_back(&one);
  }
  return out;
}

std::vector<std::string> keys(const BatchPlan& plan) {
  std::vector<std::string> out;
  for (const Batch& batch : plan.batches) {
    out.push_back(batch.key + " x" + std::to_string(batch.items.size()));
  }
  return out;
}

TEST(DigestPacker, SinglesGoAloneUnderTheirOwnKeysAndGroupsGoAsOneDigest) {
  std::vector<OutboxItem> items = {item(1, "one", {"a"}), item(2, "two", {"a"}), item(3, "three", {"b"}),
                                   item(4, "four", {"a"})};
  items[1].group_key = "route:g";
  items[3].group_key = "route:g";
  const BatchPlan plan = plan_batches("alert_console", pointers(items), 0, 1'000);
  EXPECT_EQ(keys(plan), (std::vector<std::string>{"crm-alert-101-1-alert_console x1", "crm-digest-2-alert_console x2",
                                                  "crm-alert-103-1-alert_console x1"}));
  EXPECT_EQ(plan.new_digest_members, (std::vector<std::pair<std::int64_t, std::string>>{
                                         {2, "crm-digest-2-alert_console"}, {4, "crm-digest-2-alert_console"}}));
}

TEST(DigestPacker, ADigestFormedBeforeGoesOutAsItWasAndIsNotStoredAgain) {
  std::vector<OutboxItem> items = {item(5, "five", {"a"}), item(6, "six", {"a"}), item(7, "seven", {"a"})};
  items[0].digest_key = "crm-digest-5-alert_console";
  items[2].digest_key = "crm-digest-5-alert_console";
  const BatchPlan plan = plan_batches("alert_console", pointers(items), 0, 1'000);
  EXPECT_EQ(keys(plan),
            (std::vector<std::string>{"crm-digest-5-alert_console x2", "crm-alert-106-1-alert_console x1"}));
  EXPECT_TRUE(plan.new_digest_members.empty());
}

TEST(DigestPacker, OverThePerMinuteBudgetWhatGoesToTheSameRecipientsIsPackedTogether) {
  std::vector<OutboxItem> items = {item(1, "one", {"a"}), item(2, "two", {"b"}), item(3, "three", {"a"})};
  const BatchPlan plan = plan_batches("alert_console", pointers(items), 0, 2);
  EXPECT_EQ(keys(plan),
            (std::vector<std::string>{"crm-digest-1-alert_console x2", "crm-alert-102-1-alert_console x1"}));
  EXPECT_EQ(plan.new_digest_members.size(), 2U);
}

TEST(DigestPacker, ADigestSplitsWhenItsLinesWouldPassTheChannelsMessageSize) {
  std::vector<OutboxItem> items;
  for (std::int64_t id = 1; id <= 5; ++id) {
    items.push_back(item(id, std::string(30, static_cast<char>('a' + id)), {"a"}));
  }
  std::vector<Batch> out;
  // Each line is 33 bytes; 200 bytes keep 50 for the header: four lines, then one.
  pack_digests("alert_console", pointers(items), 200, out);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].key, "crm-digest-1-alert_console");
  EXPECT_EQ(out[0].items.size(), 4U);
  EXPECT_EQ(out[1].key, "crm-alert-105-1-alert_console") << "a digest of one is the notification itself";
}

TEST(DigestRenderer, ANotificationAloneCarriesItsEnvelopeAndLabels) {
  OutboxItem one = item(1, "[yellow] customer 9: health 70.0", {"csm@example.test"});
  one.envelope.customer_id = 9;
  one.envelope.reason = "band";
  one.envelope.event = "reminder";
  one.envelope.labels = {{"tier", "A"}, {"customer_note", "not a routing label"}};
  one.envelope.links = {{"Open", "https://crm.example.test/customers/9"}};
  const Notification rendered = render({one.key, {&one}}, 0);
  EXPECT_EQ(rendered.idempotency_key, one.key);
  EXPECT_EQ(rendered.severity, CRM_SEVERITY_WARNING);
  EXPECT_EQ(rendered.title, "[yellow] customer 9: health 70.0");
  EXPECT_EQ(rendered.text, "detail of [yellow] customer 9: health 70.0");
  EXPECT_EQ(rendered.markdown, "**[yellow] customer 9: health 70.0**\n\ndetail of [yellow] customer 9: health 70.0");
  EXPECT_EQ(rendered.recipients, (std::vector<std::string>{"csm@example.test"}));
  EXPECT_EQ(rendered.links, one.envelope.links);
  EXPECT_EQ(rendered.event, "reminder");
  EXPECT_EQ(rendered.created_ms, 1'000);
  EXPECT_EQ(rendered.labels_json,
            R"({"alert_id":"101","customer_id":"9","level":"yellow","reason":"band","tier":"A"})");
}

TEST(DigestRenderer, ADigestSumsUpItsMembersAtTheirHighestSeverity) {
  std::vector<OutboxItem> items = {item(1, "one", {"a"}), item(2, "two", {"a"}), item(3, "three", {"a"})};
  items[1].envelope.level = "red";
  items[1].envelope.severity = CRM_SEVERITY_CRITICAL;
  const Notification rendered = render({"crm-digest-1-alert_console", pointers(items)}, 0);
  EXPECT_EQ(rendered.idempotency_key, "crm-digest-1-alert_console");
  EXPECT_EQ(rendered.title, "3 CRM alerts (1 red, 2 yellow)");
  EXPECT_EQ(rendered.text, "- one\n- two\n- three\n");
  EXPECT_EQ(rendered.severity, CRM_SEVERITY_CRITICAL);
  EXPECT_EQ(rendered.created_ms, 1'000);
  EXPECT_EQ(rendered.event, "digest");
  EXPECT_EQ(rendered.recipients, (std::vector<std::string>{"a"}));
  EXPECT_EQ(rendered.labels_json, R"({"alert_ids":"101,102,103","count":"3","digest":"true"})");
}

TEST(DigestRenderer, TextIsCutToTheChannelsMessageSize) {
  OutboxItem one = item(1, "long", {"a"});
  one.envelope.text = std::string(500, 'x');
  const Notification rendered = render({one.key, {&one}}, 100);
  EXPECT_LE(rendered.text.size(), 100U);
  EXPECT_TRUE(rendered.text.ends_with("[...truncated]"));
}

}  // namespace
}  // namespace crm::host
