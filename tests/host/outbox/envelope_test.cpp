// The outbox's one envelope format: what alerts and campaigns store in the
// outbox's notification column, read back the same.
#include "outbox/envelope.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

TEST(Envelope, StoresTheFieldsAndLabelsAtTheTopLevelAsTheOutboxAlwaysHad) {
  Envelope envelope;
  envelope.severity = CRM_SEVERITY_CRITICAL;
  envelope.title = "[red] customer 7: health 12.0";
  envelope.text = "Customer 7 is red.";
  envelope.recipients = {"director@example.test"};
  envelope.customer_id = 7;
  envelope.reason = "band";
  envelope.level = "red";
  envelope.event = "escalated";
  envelope.created_ms = 1'700'000'000'000;
  envelope.labels = {{"tier", "A"}, {"account_manager", "li.wei"}};
  EXPECT_EQ(envelope.to_json().dump(),
            R"({"account_manager":"li.wei","created_ms":1700000000000,"customer_id":7,"event":"escalated",)"
            R"("level":"red","reason":"band","recipients":["director@example.test"],"severity":3,)"
            R"("text":"Customer 7 is red.","tier":"A","title":"[red] customer 7: health 12.0"})");
}

TEST(Envelope, ReadsBackWhatItWroteLinksAndLabelsIncluded) {
  Envelope envelope;
  envelope.severity = CRM_SEVERITY_INFO;
  envelope.title = "We miss you";
  envelope.text = "We miss you\nCome back.";
  envelope.recipients = {"buyer@example.test", "boss@example.test"};
  envelope.customer_id = 42;
  envelope.reason = "winback:standard";
  envelope.level = "campaign";
  envelope.event = "offer";
  envelope.created_ms = 5;
  envelope.links = {{"Acknowledge", "https://crm.example.test/ack/1"}};
  envelope.labels = {{"stage", "growth"}};
  const Envelope read = Envelope::from_json(nlohmann::json::parse(envelope.to_json().dump()));
  EXPECT_EQ(read.to_json(), envelope.to_json());
  EXPECT_EQ(read.recipients, envelope.recipients);
  EXPECT_EQ(read.links, envelope.links);
  EXPECT_EQ(read.label("stage"), "growth");
  EXPECT_EQ(read.label("tier"), "");
  EXPECT_FALSE(Envelope{}.to_json().contains("links")) << "no links, no field: stored rows stay as they were";
}

TEST(Envelope, FieldsWinOverLabelsOfTheSameName) {
  Envelope envelope;
  envelope.level = "orange";
  envelope.labels = {{"level", "forged"}, {"industry", "retail"}};
  const nlohmann::json stored = envelope.to_json();
  EXPECT_EQ(stored["level"], "orange");
  EXPECT_EQ(stored["industry"], "retail");
}

TEST(Envelope, AMissingFieldKeepsItsDefault) {
  const Envelope read = Envelope::from_json(nlohmann::json::parse(R"({"title": "only a title", "customer_id": 3})"));
  EXPECT_EQ(read.title, "only a title");
  EXPECT_EQ(read.customer_id, 3);
  EXPECT_EQ(read.severity, CRM_SEVERITY_WARNING);
  EXPECT_EQ(read.event, "opened");
  EXPECT_TRUE(read.recipients.empty());
  EXPECT_TRUE(read.labels.empty());
  EXPECT_EQ(Envelope::from_json(nlohmann::json()).title, "");
}

}  // namespace
}  // namespace crm::host
