// alert_email against a real SMTP server (python3-aiosmtpd on loopback, its
// Mailbox handler writing a Maildir): the delivered message is read back and
// its headers and body checked; an unreachable server is retriable and no
// error shows the password.
#include <chrono>
#include <gtest/gtest.h>
#include <set>
#include <sstream>
#include <thread>

#include "alerts/alert_engine.hpp"
#include "loader/channel_call.hpp"
#include "support/alert_message_fixture.hpp"
#include "support/child_process.hpp"
#include "support/loopback.hpp"
#include "support/required_program.hpp"
#include "support/scoring_fixture.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPassword = "smtp-password-91d2";

std::string base64_decode(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int value = 0;
  int bits = -8;
  for (const char c : text) {
    const auto index = kAlphabet.find(c);
    if (index == std::string::npos) {
      continue;
    }
    value = (value << 6) + static_cast<int>(index);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((value >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

class SmtpServer {
 public:
  explicit SmtpServer(const fs::path& maildir) : port_(testing::free_loopback_port()) {
    testing::require(testing::kAiosmtpd);
    for (const char* sub : {"tmp", "new", "cur"}) {
      fs::create_directories(maildir / sub);
    }
    process_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + std::to_string(port_),
                                 "-c", "aiosmtpd.handlers.Mailbox", maildir.string()});
    for (int i = 0; i < 400 && !testing::loopback_port_accepts(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (!testing::loopback_port_accepts(port_)) {
      throw std::runtime_error(testing::did_not_start(testing::kAiosmtpd, "python3 -m aiosmtpd never listened"));
    }
  }
  [[nodiscard]] int port() const { return port_; }

 private:
  int port_;
  std::unique_ptr<testing::ChildProcess> process_;
};

std::vector<std::string> delivered(const fs::path& maildir) {
  std::vector<std::string> messages;
  for (const auto& entry : fs::directory_iterator(maildir / "new")) {
    messages.push_back(testing::read_text(entry.path()));
  }
  return messages;
}

std::string header(const std::string& stored, const std::string& name) {
  const std::string message = "\n" + stored;
  const std::size_t at = message.find("\n" + name + ": ");
  if (at == std::string::npos) {
    return {};
  }
  std::size_t end = message.find('\n', at + 1);
  while (end != std::string::npos && end + 1 < message.size() && message[end + 1] == ' ') {
    end = message.find('\n', end + 1);  // folded
  }
  std::string value = message.substr(at + name.size() + 3, end - at - name.size() - 3);
  value.erase(std::remove(value.begin(), value.end(), '\r'), value.end());
  return value;
}

Notification alert() {
  Notification notification;
  notification.severity = CRM_SEVERITY_CRITICAL;
  notification.idempotency_key = "crm-alert-7-1-alert_email";
  notification.title = "[red] 客户 上海华东机械有限公司: 健康分 41.0，已进入红色区间，请首席运营官在24小时内响应";
  notification.text = "客户 7 进入红色区间 (score 41.0); owner coo, respond within 24 h.";
  notification.recipients = {"coo@example.test", "director@example.test"};
  notification.links = {{"customer", "http://crm.example.test/customers/7?a=1&b=2"}};
  notification.created_ms = 1'790'000'000'000;
  return notification;
}

TEST(AlertEmail, DeliversARfc5322MessageWithEncodedChineseSubjectAndBothParts) {
  testing::TempDir dir("alert-email");
  SmtpServer server(dir / "maildir");
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"alert_email",
                                {{"config",
                                  {{"smtp_url", "smtp://127.0.0.1:" + std::to_string(server.port())},
                                   {"from", "alerts@example.test"},
                                   {"from_name", "客户成功"}}}}}});
  LoadedPlugin* channel = test.host().find("alert_email");
  ASSERT_NE(channel, nullptr) << test.record("alert_email")->reason;
  const DeliveryResult result = send_notification(*channel, alert());
  ASSERT_EQ(result.outcome, DeliveryOutcome::delivered) << result.error;
  const auto messages = delivered(dir / "maildir");
  ASSERT_EQ(messages.size(), 1U);
  const std::string& message = messages[0];
  EXPECT_EQ(header(message, "Message-ID"), "<crm-alert-7-1-alert_email@example.test>");
  EXPECT_EQ(header(message, "Date"), "Mon, 21 Sep 2026 14:13:20 +0000");
  EXPECT_EQ(header(message, "To"), "coo@example.test, director@example.test");
  EXPECT_NE(header(message, "From").find("<alerts@example.test>"), std::string::npos);
  // The subject: encoded words of at most 75 characters that decode to the title.
  const std::string subject = header(message, "Subject");
  std::string decoded;
  std::stringstream words(subject);
  std::string word;
  while (words >> word) {
    ASSERT_EQ(word.rfind("=?UTF-8?B?", 0), 0U) << word;
    EXPECT_LE(word.size(), 75U);
    decoded += base64_decode(word.substr(10, word.size() - 12));
  }
  EXPECT_EQ(decoded, alert().title);
  EXPECT_NE(header(message, "Content-Type").find("multipart/alternative"), std::string::npos);
  // Both parts, base64 UTF-8.
  const std::size_t plain = message.find("Content-Type: text/plain; charset=UTF-8");
  const std::size_t html = message.find("Content-Type: text/html; charset=UTF-8");
  ASSERT_NE(plain, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  const auto part_body = [&](std::size_t start) {
    const std::size_t body =
        message.find("\n\n", start) != std::string::npos && message.find("\r\n\r\n", start) == std::string::npos
            ? message.find("\n\n", start) + 2
            : message.find("\r\n\r\n", start) + 4;
    return base64_decode(message.substr(body, message.find("--crm-", body) - body));
  };
  EXPECT_EQ(part_body(plain), alert().text + "\ncustomer: http://crm.example.test/customers/7?a=1&b=2");
  EXPECT_NE(part_body(html).find("<a href=\"http://crm.example.test/customers/7?a=1&amp;b=2\">customer</a>"),
            std::string::npos);

  // The same notification again (a retry after a lost reply) carries the same Message-ID.
  ASSERT_EQ(send_notification(*channel, alert()).outcome, DeliveryOutcome::delivered);
  for (const std::string& again : delivered(dir / "maildir")) {
    EXPECT_EQ(header(again, "Message-ID"), "<crm-alert-7-1-alert_email@example.test>");
  }
}

// An alert's facts as the host renders them, in both languages: the text part
// and the HTML part each name the customer and its ERP number, the reasons,
// the value at stake, the deadline on the recipient's clock, the first action
// and both links; the HTML escapes every value.
TEST(AlertEmail, AnAlertSaysWhoWhyWhatIsAtStakeByWhenAndWhatToDoInBothParts) {
  testing::TempDir dir("alert-email-facts");
  SmtpServer server(dir / "maildir");
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR}, {{"alert_email",
                                {{"config",
                                  {{"smtp_url", "smtp://127.0.0.1:" + std::to_string(server.port())},
                                   {"from", "alerts@example.test"},
                                   {"from_name", "CRM"}}}}}});
  LoadedPlugin* channel = test.host().find("alert_email");
  ASSERT_NE(channel, nullptr) << test.record("alert_email")->reason;
  for (const std::string language : {"en", "zh-CN"}) {
    SCOPED_TRACE(language);
    ASSERT_EQ(send_notification(*channel, testing::rendered_alert(language)).outcome, DeliveryOutcome::delivered);
  }
  auto messages = delivered(dir / "maildir");
  ASSERT_EQ(messages.size(), 2U);
  const auto part = [](const std::string& message, const std::string& type) {
    const std::size_t start = message.find("Content-Type: " + type + "; charset=UTF-8");
    const std::size_t crlf = message.find("\r\n\r\n", start);
    const std::size_t body = crlf != std::string::npos ? crlf + 4 : message.find("\n\n", start) + 2;
    return base64_decode(message.substr(body, message.find("--crm-", body) - body));
  };
  std::sort(messages.begin(), messages.end(), [&](const std::string& a, const std::string& b) {
    return part(a, "text/plain").find("Acme") != std::string::npos &&
           part(b, "text/plain").find("Acme") == std::string::npos;
  });
  const std::string english_text = part(messages[0], "text/plain");
  const std::string english_html = part(messages[0], "text/html");
  EXPECT_EQ(english_text,
            "Acme <Trading> & Sons (erp_csv C-0042) is red: health score 42.9.\n"
            "Why:\n"
            "- Order volume fell by more than half year on year\n"
            "- No order in 90 days\n"
            "- A complaint was not resolved in time\n"
            "Value at stake: 1,234,567.50 CNY (purchases in the last 12 months)\n"
            "Respond by: 2026-01-02 08:00 (UTC+08:00)\n"
            "First action: An executive-led retention team visits the customer on site within 48 h.\n"
            "\nCustomer page: https://crm.example.test/app/customers/7"
            "\nAcknowledge: https://crm.example.test/ack/AQAAAAAAAAAH-mac_of_the_token");
  for (const char* expected :
       {"<html lang=\"en\">", "Acme &lt;Trading&gt; &amp; Sons (erp_csv C-0042) is red: health score 42.9.",
        "<li>No order in 90 days</li>", "<th align=\"left\" style=\"padding-right:1em\">Value at stake</th>",
        "<td>1,234,567.50 CNY (purchases in the last 12 months)</td>", "<td>2026-01-02 08:00 (UTC+08:00)</td>",
        "<td>An executive-led retention team visits the customer on site within 48 h.</td>",
        "<a href=\"https://crm.example.test/app/customers/7\"", ">Customer page</a>",
        "<a href=\"https://crm.example.test/ack/AQAAAAAAAAAH-mac_of_the_token\"", ">Acknowledge</a>"}) {
    EXPECT_NE(english_html.find(expected), std::string::npos) << expected << "\n" << english_html;
  }
  EXPECT_EQ(english_html.find("<Trading>"), std::string::npos) << "every value escaped";
  const std::string chinese_text = part(messages[1], "text/plain");
  const std::string chinese_html = part(messages[1], "text/html");
  for (const char* expected :
       {"客户 上海华东机械有限公司（erp_csv C-0042）处于红色预警：健康分 42.9。",
        "原因：\n- 采购量比去年同期下降超过一半", "涉及价值：1,234,567.50 CNY（近 12 个月采购额）",
        "响应期限：2026-01-02 08:00 (UTC+08:00)", "首要行动：由高管牵头组建挽留小组，48 小时内上门拜访客户。",
        "确认处理: https://crm.example.test/ack/AQAAAAAAAAAH-mac_of_the_token",
        "客户页面: https://crm.example.test/app/customers/7"}) {
    EXPECT_NE(chinese_text.find(expected), std::string::npos) << expected << "\n" << chinese_text;
  }
  for (const char* expected : {"<html lang=\"zh-CN\">", "<h3>原因</h3>", "<li>90 天内没有下单</li>", ">涉及价值</th>",
                               ">响应期限</th>", ">首要行动</th>", ">客户页面</a>", ">确认处理</a>"}) {
    EXPECT_NE(chinese_html.find(expected), std::string::npos) << expected << "\n" << chinese_html;
  }
}

TEST(AlertEmail, AnUnreachableServerIsRetriableAndNoErrorShowsThePassword) {
  const int port = testing::free_loopback_port();
  testing::TestHost test;
  test.load({CRM_PLUGIN_DIR},
            {{"alert_email",
              {{"config",
                {{"smtp_url", "smtp://127.0.0.1:" + std::to_string(port)},
                 {"from", "alerts@example.test"},
                 {"username", "alerts"},
                 {"password", {{"env", "SMTP_PASSWORD"}}},
                 {"timeout_ms", 2000}}}}}},
            {{"SMTP_PASSWORD", kPassword}});
  LoadedPlugin* channel = test.host().find("alert_email");
  ASSERT_NE(channel, nullptr) << test.record("alert_email")->reason;
  const DeliveryResult result = send_notification(*channel, alert());
  EXPECT_EQ(result.outcome, DeliveryOutcome::retriable);
  EXPECT_NE(result.error.find("SMTP: "), std::string::npos) << result.error;
  EXPECT_EQ(result.error.find(kPassword), std::string::npos);
  for (const std::string& line : test.log_lines()) {
    EXPECT_EQ(line.find(kPassword), std::string::npos) << line;
  }
  Notification nobody = alert();
  nobody.recipients.clear();
  EXPECT_EQ(send_notification(*channel, nobody).outcome, DeliveryOutcome::permanent);
}

// The server drops the connection in the DATA phase once; the outbox retries.
// Dropped after storing (the reply lost), the retry makes a second copy with
// the same Message-ID, which a mail client shows once; dropped before storing,
// the retry is the one delivery.
TEST(AlertEmail, AConnectionDroppedMidSendIsRetriedUnderTheSameMessageId) {
  for (const std::string drop : {"after", "before"}) {
    SCOPED_TRACE("dropped " + drop + " storing");
    testing::TempDir dir("alert-email-drop");
    for (const char* sub : {"tmp", "new", "cur"}) {
      fs::create_directories(dir / "maildir" / sub);
    }
    const int port = testing::free_loopback_port();
    testing::require(testing::kAiosmtpd);
    testing::ChildProcess server({"/usr/bin/python3", std::string(CRM_SOURCE_DIR) + "/tests/servers/smtp_dropping.py",
                                  "--port", std::to_string(port), "--drop", drop, (dir / "maildir").string()});
    ASSERT_EQ(server.read_line().rfind("listening ", 0), 0U)
        << testing::did_not_start(testing::kAiosmtpd, "smtp_dropping.py");
    testing::TestHost test;
    test.load({CRM_PLUGIN_DIR}, {{"alert_email",
                                  {{"config",
                                    {{"smtp_url", "smtp://127.0.0.1:" + std::to_string(port)},
                                     {"from", "alerts@example.test"},
                                     {"timeout_ms", 3000}}}}}});
    ASSERT_NE(test.host().find("alert_email"), nullptr) << test.record("alert_email")->reason;
    Store store(testing::store_locator(dir / "crm.db"));
    AlertSettings settings;
    settings.initial_backoff_ms = 1'000;
    settings.roles["coo"] = {"coo@example.test"};
    settings.routes = {{.channel = "alert_email", .recipients = {"@owner"}}};
    AlertEngine alerts(store, test.host(), test.logger(), test.clock(), settings, {});
    alerts.evaluate(testing::insert_scoring_run(store, test.clock().now_ms(), {{7, "red", "", 38}}));
    DeliveryCounts counts = alerts.deliver();
    EXPECT_EQ(counts.retried, 1U);
    EXPECT_EQ(counts.delivered, 0U);
    test.clock().advance_ms(2'000);
    counts = alerts.deliver();
    EXPECT_EQ(counts.delivered, 1U);
    EXPECT_TRUE(alerts.outbox("pending").empty());
    const auto messages = delivered(dir / "maildir");
    ASSERT_EQ(messages.size(), drop == "after" ? 2U : 1U);
    std::set<std::string> message_ids;
    for (const std::string& message : messages) {
      message_ids.insert(header(message, "Message-ID"));
    }
    EXPECT_EQ(message_ids, std::set<std::string>{"<crm-alert-1-1-alert_email@example.test>"});
  }
}

}  // namespace
}  // namespace crm::host
