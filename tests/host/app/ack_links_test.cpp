#include "app/ack_links.hpp"

#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "app/result_json.hpp"
#include "store/store.hpp"
#include "support/test_database.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kDayMs = 86'400'000;

// A store with one scored customer and two open alerts about it (1 red, 2 a
// signal), on the backend the test process runs against.
class AckLinks : public ::testing::Test {
 protected:
  AckLinks()
      : dir_(fs::temp_directory_path() /
             fmt::format("crm-ack-{}-{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid())),
        clock_(kStartMs) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = std::make_unique<Store>(testing::store_locator(dir_ / "crm.db"));
    store_->database().exec(fmt::format(
        "INSERT INTO customers(id, source, external_id, name) VALUES (7, 'erp_csv', 'C-0042', 'Acme Trading');"
        "INSERT INTO score_runs(id, as_of_ms, started_ms, finished_ms, primary_scorer, scorers_json) VALUES "
        "(1, 0, 0, 1, 'scorer_health', '{{}}');"
        "INSERT INTO customer_scores(run_id, customer_id, score, band) VALUES (1, 7, 42.9, 'red');"
        "INSERT INTO alerts(id, customer_id, reason, level, state, title, detail, opened_ms, updated_ms, deadline_ms) "
        "VALUES (1, 7, 'band', 'red', 'open', 'red alert', '', {0}, {0}, {1}), "
        "(2, 7, 'volume_drop', 'signal', 'open', 'signal', '', {0}, {0}, {1});",
        kStartMs, kStartMs + kDayMs));
  }
  ~AckLinks() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  std::string token_for(std::int64_t alert_id, const std::string& recipient = "coo@example.com") {
    return make_ack_token(*store_, clock_, alert_id, recipient, kStartMs + kDayMs);
  }

  fs::path dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(AckLinks, AGoodLinkShowsWhatItAcknowledgesThenAcknowledgesAsItsRecipient) {
  const std::string token = token_for(1);
  EXPECT_LE(token.size(), 60U);
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(token_for(1), token) << "one token per (alert, recipient)";
  EXPECT_NE(token_for(1, "csm@example.com"), token);

  const AckLinkView shown = inspect_ack_link(*store_, clock_, token);
  EXPECT_EQ(shown.status, AckLinkStatus::valid) << shown.message;
  EXPECT_EQ(shown.alert_id, 1);
  EXPECT_EQ(shown.customer_id, 7);
  EXPECT_EQ(shown.customer_name, "Acme Trading");
  EXPECT_EQ(shown.band, "red");
  ASSERT_TRUE(shown.score.has_value());
  EXPECT_DOUBLE_EQ(*shown.score, 42.9);
  EXPECT_EQ(shown.deadline_ms, kStartMs + kDayMs);
  EXPECT_EQ(shown.recipient, "coo@example.com");
  EXPECT_EQ(shown.alert_state, "open");

  clock_.advance_ms(60'000);
  const AckLinkView done = confirm_ack_link(*store_, clock_, token);
  EXPECT_EQ(done.status, AckLinkStatus::acknowledged) << done.message;
  EXPECT_EQ(done.alert_state, "acknowledged");
  EXPECT_EQ(done.acked_by, "coo@example.com");
  EXPECT_EQ(done.acked_ms, kStartMs + 60'000);
  Statement alert = store_->database().prepare("SELECT state, acked_by, acked_ms FROM alerts WHERE id = 1");
  ASSERT_TRUE(alert.step());
  EXPECT_EQ(alert.column_text(0), "acknowledged");
  EXPECT_EQ(alert.column_text(1), "coo@example.com");
  EXPECT_EQ(alert.column_int64(2), kStartMs + 60'000);
  const nlohmann::json json = ack_link_json(done);
  EXPECT_EQ(json["status"], "acknowledged");
  EXPECT_EQ(json["customer_name"], "Acme Trading");
  EXPECT_EQ(json["acked_by"], "coo@example.com");
  EXPECT_EQ(
      ack_link_json(inspect_ack_link(*store_, clock_, "forged")),
      nlohmann::json::parse(
          R"({"status": "bad_signature", "message": "This link is not valid: it was changed, or not issued by this server."})"));
}

TEST_F(AckLinks, ASecondUseSaysAlreadyUsedAndChangesNothing) {
  const std::string token = token_for(1);
  ASSERT_EQ(confirm_ack_link(*store_, clock_, token).status, AckLinkStatus::acknowledged);
  clock_.advance_ms(1000);
  const AckLinkView again = confirm_ack_link(*store_, clock_, token);
  EXPECT_EQ(again.status, AckLinkStatus::used);
  EXPECT_NE(again.message.find("already used"), std::string::npos) << again.message;
  EXPECT_EQ(again.acked_ms, kStartMs) << "the first confirmation stands";
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).status, AckLinkStatus::used);
}

TEST_F(AckLinks, ATamperedTokenIsABadSignature) {
  const std::string token = token_for(1);
  for (std::size_t at : {std::size_t{0}, std::size_t{5}, token.size() / 2, token.size() - 2}) {
    std::string tampered = token;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    const AckLinkView view = inspect_ack_link(*store_, clock_, tampered);
    EXPECT_EQ(view.status, AckLinkStatus::bad_signature) << "changed at " << at;
    EXPECT_EQ(view.alert_id, 0) << "nothing about the alert is told";
    EXPECT_EQ(confirm_ack_link(*store_, clock_, tampered).status, AckLinkStatus::bad_signature);
  }
  for (const std::string& junk :
       std::vector<std::string>{"", "x", "not a token", token + "A", token.substr(1), std::string(5000, 'A')}) {
    EXPECT_EQ(inspect_ack_link(*store_, clock_, junk).status, AckLinkStatus::bad_signature) << junk;
  }
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).status, AckLinkStatus::valid) << "the alert is still open";
}

TEST_F(AckLinks, ATokenMovedToAnotherAlertOrRecipientDoesNotVerify) {
  const std::string token = token_for(1);
  // The MAC binds the alert and the recipient: a token row pointed at another
  // alert (or person) acknowledges nothing.
  store_->database().exec("UPDATE ack_tokens SET alert_id = 2");
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).status, AckLinkStatus::bad_signature);
  EXPECT_EQ(confirm_ack_link(*store_, clock_, token).status, AckLinkStatus::bad_signature);
  store_->database().exec("UPDATE ack_tokens SET alert_id = 1, recipient = 'mallory@example.com'");
  EXPECT_EQ(confirm_ack_link(*store_, clock_, token).status, AckLinkStatus::bad_signature);
  store_->database().exec("UPDATE ack_tokens SET recipient = 'coo@example.com'");
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).status, AckLinkStatus::valid) << "restored, it verifies";
  Statement alerts = store_->database().prepare("SELECT count(*) FROM alerts WHERE state = 'open'");
  ASSERT_TRUE(alerts.step());
  EXPECT_EQ(alerts.column_int64(0), 2);
}

TEST_F(AckLinks, AnotherStoresKeyDoesNotVerify) {
  const std::string token = token_for(1);
  store_->database().exec("DELETE FROM host_secrets");
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).status, AckLinkStatus::bad_signature);
}

TEST_F(AckLinks, ALinkExpiresAtTheDeadline) {
  const std::string token = token_for(1);
  clock_.set_ms(kStartMs + kDayMs);
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).status, AckLinkStatus::valid) << "valid up to the deadline";
  clock_.advance_ms(1);
  const AckLinkView late = confirm_ack_link(*store_, clock_, token);
  EXPECT_EQ(late.status, AckLinkStatus::expired);
  EXPECT_EQ(late.alert_state, "open");
}

TEST_F(AckLinks, AnAlertAcknowledgedOrResolvedOtherwiseIsSaidSo) {
  const std::string token = token_for(1);
  const std::string signal = token_for(2);
  store_->database().exec("UPDATE alerts SET state = 'acknowledged', acked_by = 'anna', acked_ms = 5 WHERE id = 1");
  store_->database().exec("UPDATE alerts SET state = 'resolved' WHERE id = 2");
  const AckLinkView acknowledged = confirm_ack_link(*store_, clock_, token);
  EXPECT_EQ(acknowledged.status, AckLinkStatus::alert_closed);
  EXPECT_NE(acknowledged.message.find("anna"), std::string::npos) << acknowledged.message;
  EXPECT_NE(inspect_ack_link(*store_, clock_, signal).message.find("resolved"), std::string::npos);
  Statement used = store_->database().prepare("SELECT count(*) FROM ack_tokens WHERE used_ms IS NOT NULL");
  ASSERT_TRUE(used.step());
  EXPECT_EQ(used.column_int64(0), 0);
}

TEST_F(AckLinks, TheKeyIsMadeOnceAndNeverInATokenOrView) {
  const std::string token = token_for(1);
  Statement key = store_->database().prepare("SELECT value FROM host_secrets");
  ASSERT_TRUE(key.step());
  const std::string hex_key = key.column_text(0);
  EXPECT_EQ(hex_key.size(), 64U);
  EXPECT_FALSE(key.step()) << "one key";
  token_for(2);
  Statement again = store_->database().prepare("SELECT value FROM host_secrets");
  ASSERT_TRUE(again.step());
  EXPECT_EQ(again.column_text(0), hex_key);
  EXPECT_EQ(token.find(hex_key.substr(0, 8)), std::string::npos);
  EXPECT_EQ(inspect_ack_link(*store_, clock_, token).message.find(hex_key.substr(0, 8)), std::string::npos);
}

}  // namespace
}  // namespace crm::host
