// email_imap against a REAL Dovecot started by the test on loopback, with
// messages delivered into its Maildir (../shared/test-servers.md).
#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include "support/child_process.hpp"
#include "support/loopback.hpp"
#include "support/required_program.hpp"
#include "support/sync_harness.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::SyncHarness;
using testing::TempDir;

constexpr const char* kPassword = "imap-password-51c0";

// A Dovecot of the test's own: static password, a Maildir the test fills.
class Dovecot {
 public:
  explicit Dovecot(const fs::path& root) : root_(root), port_(testing::free_loopback_port()) {
    testing::require(testing::kDovecot);
    for (const char* dir : {"run", "state", "home", "maildir/new", "maildir/cur", "maildir/tmp"}) {
      fs::create_directories(root_ / dir);
    }
    std::ofstream(root_ / "dovecot.conf")
        << "base_dir = " << (root_ / "run").string() << "\n"
        << "state_dir = " << (root_ / "state").string() << "\n"
        << "log_path = " << (root_ / "dovecot.log").string() << "\n"
        << "protocols = imap\nlisten = 127.0.0.1\nssl = no\n"
        << "disable_plaintext_auth = no\nauth_mechanisms = plain login\n"
        << "first_valid_uid = 65534\n"
        << "mail_location = maildir:" << (root_ / "maildir").string() << "\n"
        << "passdb {\n  driver = static\n  args = password=" << kPassword << "\n}\n"
        << "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=" << (root_ / "home").string()
        << "/%u\n}\n"
        << "service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n"
        << "    port = " << port_ << "\n  }\n  inet_listener imaps {\n    port = 0\n"
        << "  }\n}\n";
    open_up();
    process_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{"/usr/sbin/dovecot", "-F", "-c", (root_ / "dovecot.conf").string()});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!testing::loopback_port_accepts(port_)) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(testing::did_not_start(testing::kDovecot, "see " + (root_ / "dovecot.log").string()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Delivers one message the way an MTA does: write in tmp/, move to new/.
  void deliver(const std::string& name, const std::string& message) {
    const fs::path temporary = root_ / "maildir/tmp" / name;
    std::ofstream(temporary, std::ios::binary) << message;
    fs::rename(temporary, root_ / "maildir/new" / name);
    open_up();
  }

  // Forgets the UIDs Dovecot assigned, so the mailbox gets a new UIDVALIDITY.
  // Dovecot takes the new value from the clock's seconds: wait for the next
  // second, or the "new" UIDVALIDITY can equal the old one.
  void reset_uids() {
    const auto now = std::chrono::system_clock::now();
    std::this_thread::sleep_until(std::chrono::ceil<std::chrono::seconds>(now) + std::chrono::milliseconds(50));
    for (const auto& entry : fs::directory_iterator(root_ / "maildir")) {
      if (entry.path().filename().string().rfind("dovecot", 0) == 0) {
        fs::remove_all(entry.path());
      }
    }
  }

  [[nodiscard]] std::string url() const { return "imap://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const fs::path& maildir() const { return root_; }

 private:
  // Dovecot serves the mail as user nobody.
  void open_up() const {
    for (const auto& entry : fs::recursive_directory_iterator(root_)) {
      std::error_code ignored;
      fs::permissions(entry.path(), fs::perms::all, fs::perm_options::add, ignored);
    }
    fs::permissions(root_, fs::perms::all, fs::perm_options::add);
  }

  fs::path root_;
  int port_;
  std::unique_ptr<testing::ChildProcess> process_;
};

const char* const kComplaint =
    "From: Anna Berg <anna@acme.example>\r\nTo: sales@ourco.example\r\n"
    "Subject: =?UTF-8?B?5oqV6K+J?= late delivery\r\nDate: Tue, 01 Dec 2026 10:00:00 +0800\r\n"
    "Message-ID: <m1@acme.example>\r\n\r\nHello, this is a formal complaint about order 42.\r\n";
const char* const kGbkComplaint =
    "From: =?GB2312?B?wO7D9w==?= <li@huadong.example>\r\nTo: sales@ourco.example\r\n"
    "Subject: =?GBK?B?srvC+tLitcS3/s7x?=\r\nDate: Wed, 02 Dec 2026 09:30:00 +0800\r\nMessage-ID: <m2@huadong>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=gbk\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "ztLDx7bUvbu79brcsrvC+tLioaM=\r\n";
const char* const kReply =
    "From: Sales <sales@ourco.example>\r\nTo: anna@acme.example\r\nCc: boss@ourco.example\r\n"
    "Subject: Re: late delivery\r\nDate: Wed, 02 Dec 2026 11:00:00 +0800\r\nMessage-ID: <r1@ourco.example>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Sorry =E2=80=94 about your complaint: we will fix it.\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>Sorry</p>\r\n"
    "--b1--\r\n";
// Its closing boundary is missing: mail clients show it, and so is it read.
const char* const kUnclosedMultipart =
    "From: bad@broken.example\r\nTo: sales@ourco.example\r\nSubject: broken\r\nMessage-ID: <m4@broken>\r\n"
    "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n"
    "the end never comes; I want a refund\r\n";
const char* const kNoSender =
    "From: undisclosed\r\nTo: sales@ourco.example\r\nSubject: who\r\nMessage-ID: <m6@nowhere>\r\n\r\nhi\r\n";
const char* const kInternal =
    "From: boss@ourco.example\r\nTo: sales@ourco.example\r\nSubject: lunch\r\nMessage-ID: <i1@ourco>\r\n\r\nnoon\r\n";

class EmailImap : public ::testing::Test {
 protected:
  EmailImap() : dir_("email-imap"), dovecot_(dir_ / "dovecot"), harness_(dir_ / "crm.db") {}

  LoadedPlugin& connector(const std::string& password = kPassword) {
    const json settings = {{"email_imap",
                            {{"config",
                              {{"url", dovecot_.url()},
                               {"username", "sales"},
                               {"password", {{"env", "IMAP_PASSWORD"}}},
                               {"our_domains", {"ourco.example"}},
                               {"batch_messages", 2},
                               {"timeout_ms", 5000}}}}}};
    return harness_.load({CRM_PLUGIN_DIR}, settings, "email_imap", {{"IMAP_PASSWORD", password}});
  }

  TempDir dir_;
  Dovecot dovecot_;
  SyncHarness harness_;
};

TEST_F(EmailImap, RecordsInteractionsDecodesChineseFlagsComplaintsAndQuarantinesBrokenMime) {
  dovecot_.deliver("1.M1P1.test", kComplaint);
  dovecot_.deliver("2.M2P1.test", kGbkComplaint);
  dovecot_.deliver("3.M3P1.test", kReply);
  dovecot_.deliver("4.M4P1.test", kUnclosedMultipart);
  dovecot_.deliver("5.M5P1.test", kInternal);
  dovecot_.deliver("6.M6P1.test", kNoSender);
  LoadedPlugin& plugin = connector();
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 6U);
  EXPECT_EQ(summary.batches, 3U) << "six messages in batches of two";
  EXPECT_EQ(summary.quarantined, 1U);
  EXPECT_EQ(harness_.count("SELECT count(*) FROM interactions"), 4);
  EXPECT_EQ(harness_.text("SELECT keywords || '|' || is_complaint FROM interactions WHERE external_id = '<m4@broken>'"),
            "refund|1");

  EXPECT_EQ(harness_.text("SELECT subject FROM interactions WHERE external_id = '<m1@acme.example>'"),
            "投诉 late delivery");
  EXPECT_EQ(harness_.text("SELECT keywords || '|' || is_complaint || '|' || direction FROM interactions "
                          "WHERE external_id = '<m1@acme.example>'"),
            "complaint,投诉|1|inbound");
  EXPECT_EQ(harness_.count("SELECT occurred_at_ms FROM interactions WHERE external_id = '<m1@acme.example>'"),
            1'796'090'400'000);
  EXPECT_EQ(harness_.text("SELECT subject || '|' || keywords || '|' || is_complaint FROM interactions "
                          "WHERE external_id = '<m2@huadong>'"),
            "不满意的服务|不满意|1");
  EXPECT_EQ(harness_.text("SELECT name FROM contacts WHERE external_id = 'li@huadong.example'"), "李明");
  // Our reply: outbound, to the customer only (not our own Cc), never a complaint of theirs.
  EXPECT_EQ(harness_.text("SELECT direction || '|' || contact_external_id || '|' || is_complaint FROM interactions "
                          "WHERE external_id = '<r1@ourco.example>'"),
            "outbound|anna@acme.example|0");
  EXPECT_EQ(harness_.count("SELECT count(*) FROM customers WHERE email_domain IN ('acme.example', 'huadong.example')"),
            2);
  EXPECT_EQ(harness_.count("SELECT count(*) FROM customers WHERE email_domain = 'ourco.example'"), 0);
  const auto quarantined = harness_.store().list_quarantine("email_imap");
  ASSERT_EQ(quarantined.size(), 1U);
  EXPECT_EQ(quarantined[0].reason.substr(quarantined[0].reason.find(':')), ": the message has no From address");
  // The sync left every message unread.
  for (const auto& entry : fs::directory_iterator(dovecot_.maildir() / "maildir/cur")) {
    EXPECT_EQ(entry.path().filename().string().find(":2,S"), std::string::npos) << entry.path();
  }
}

// HTML-only mail whose complaint is written in character references, as some
// mail writers send Chinese and as soft hyphens split English words.
TEST_F(EmailImap, ComplaintsInHtmlOnlyMailWrittenWithEntitiesAreFlagged) {
  dovecot_.deliver("1.M1P1.test",
                   "From: li@huadong.example\r\nTo: sales@ourco.example\r\nSubject: =?UTF-8?B?6K6i5Y2VNDI=?=\r\n"
                   "Message-ID: <h1@huadong>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                   "<html><body><p>&#25105;&#20204;&#35201;&#25237;&#35785;&#65292;&#x8BF7;&#x9000;&#x6B3E;</p>=\r\n"
                   "</body></html>\r\n");
  dovecot_.deliver("2.M2P1.test",
                   "From: anna@acme.example\r\nTo: sales@ourco.example\r\nSubject: order 42\r\n"
                   "Message-ID: <h2@acme>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
                   "boundary=\"alt;1\"\r\n\r\n--alt;1\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n"
                   "<div>This is un&shy;acceptable&nbsp;&mdash; I want a re&shy;fund.</div>\r\n--alt;1--\r\n");
  LoadedPlugin& plugin = connector();
  const SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.quarantined, 0U);
  EXPECT_EQ(harness_.text("SELECT subject || '|' || keywords || '|' || is_complaint FROM interactions "
                          "WHERE external_id = '<h1@huadong>'"),
            "订单42|投诉,退款|1");
  EXPECT_EQ(harness_.text("SELECT keywords || '|' || is_complaint FROM interactions WHERE external_id = '<h2@acme>'"),
            "refund,unacceptable|1");
}

TEST_F(EmailImap, IsIncrementalByUidAndSurvivesANewUidValidity) {
  dovecot_.deliver("1.M1P1.test", kComplaint);
  dovecot_.deliver("2.M2P1.test", kGbkComplaint);
  LoadedPlugin& plugin = connector();
  ASSERT_EQ(harness_.sync(plugin).status, "ok");
  dovecot_.deliver("3.M3P1.test", kReply);
  SyncSummary summary = harness_.sync(plugin);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 1U) << "only the new message is read";
  EXPECT_EQ(harness_.count("SELECT count(*) FROM interactions"), 3);

  // The mailbox is recreated while no session is open (a fresh connector instance).
  LoadedPlugin& reloaded = connector();
  dovecot_.reset_uids();
  summary = harness_.sync(reloaded);
  ASSERT_EQ(summary.status, "ok") << summary.message;
  EXPECT_EQ(summary.source_records, 3U) << "a new UIDVALIDITY means reading everything again";
  EXPECT_EQ(summary.counts.inserted, 0U) << "keyed by Message-ID: nothing is duplicated";
  EXPECT_EQ(harness_.count("SELECT count(*) FROM interactions"), 3);
}

TEST_F(EmailImap, AWrongPasswordIsOneConfigErrorAndNoSecretIsLogged) {
  dovecot_.deliver("1.M1P1.test", kComplaint);
  LoadedPlugin& plugin = connector("not-the-password-9e1");
  const SyncSummary summary = harness_.sync(plugin);
  EXPECT_EQ(summary.status, "failed");
  EXPECT_EQ(summary.message, "config error: the IMAP server refused the login; check username and password");
  for (const std::string& line : harness_.log_lines()) {
    EXPECT_EQ(line.find("not-the-password-9e1"), std::string::npos) << line;
    EXPECT_EQ(line.find(kPassword), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace crm::host
