// alert_console through the real loader: a notification is appended once,
// even when the host sends it again after a crash (same idempotency key).
#include <gtest/gtest.h>

#include "loader/channel_call.hpp"
#include "support/sync_harness.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

using testing::read_text;

TEST(AlertConsole, AppendsEachNotificationOnceAcrossRestarts) {
  testing::TempDir dir("alert-console");
  const auto path = dir / "alerts.txt";
  Notification notification;
  notification.severity = CRM_SEVERITY_CRITICAL;
  notification.idempotency_key = "crm-alert-1-1-alert_console";
  notification.title = "[red] customer 7: health 42.0";
  notification.text = "客户 7 进入红色区间";
  notification.recipients = {"coo@example.test"};
  notification.links = {{"customer", "http://crm.example.test/customers/7"}};
  for (int restart = 0; restart < 2; ++restart) {
    testing::TestHost test;
    test.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", path.string()}}}}}});
    LoadedPlugin* channel = test.host().find("alert_console");
    ASSERT_NE(channel, nullptr) << test.record("alert_console")->reason;
    EXPECT_EQ(send_notification(*channel, notification).outcome, DeliveryOutcome::delivered);
    EXPECT_EQ(send_notification(*channel, notification).outcome, DeliveryOutcome::delivered);
  }
  EXPECT_EQ(read_text(path),
            "[CRITICAL] [red] customer 7: health 42.0\nto: coo@example.test\n客户 7 进入红色区间\n"
            "customer: http://crm.example.test/customers/7\nkey: crm-alert-1-1-alert_console\n\n");
}

TEST(AlertConsole, AnUnwritableFileIsRetriable) {
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"alert_console", {{"config", {{"path", "/nonexistent/dir/alerts.txt"}}}}}});
  LoadedPlugin* channel = test.host().find("alert_console");
  ASSERT_NE(channel, nullptr);
  Notification notification;
  notification.idempotency_key = "k";
  const DeliveryResult result = send_notification(*channel, notification);
  EXPECT_EQ(result.outcome, DeliveryOutcome::retriable);
  EXPECT_NE(result.error.find("cannot append to /nonexistent/dir/alerts.txt"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace crm::host
