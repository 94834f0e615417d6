#include "outbox/envelope.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace crm::host {
namespace {

constexpr std::array<std::string_view, 12> kFields = {"severity",    "title",  "text",     "recipients",
                                                      "customer_id", "reason", "level",    "event",
                                                      "created_ms",  "links",  "markdown", "details"};

bool is_field(const std::string& key) {
  return std::find(kFields.begin(), kFields.end(), key) != kFields.end();
}

}  // namespace

nlohmann::json Envelope::to_json() const {
  // Labels first, so that a label can never shadow a field. The fields are
  // assigned one by one rather than merged from a second object: a campaign
  // step builds one of these per message, and the merge copied every value twice.
  nlohmann::json stored = labels.is_object() ? labels : nlohmann::json::object();
  stored["severity"] = severity;
  stored["title"] = title;
  stored["text"] = text;
  stored["recipients"] = recipients;
  stored["customer_id"] = customer_id;
  stored["reason"] = reason;
  stored["level"] = level;
  stored["event"] = event;
  stored["created_ms"] = created_ms;
  if (!links.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [label_text, url] : links) {
      list.push_back({{"label", label_text}, {"url", url}});
    }
    stored["links"] = std::move(list);
  }
  if (!markdown.empty()) {
    stored["markdown"] = markdown;
  }
  if (details.is_object() && !details.empty()) {
    stored["details"] = details;
  }
  return stored;
}

Envelope Envelope::from_json(const nlohmann::json& stored) {
  Envelope envelope;
  if (!stored.is_object()) {
    return envelope;
  }
  envelope.severity = stored.value("severity", envelope.severity);
  envelope.title = stored.value("title", std::string());
  envelope.text = stored.value("text", std::string());
  envelope.recipients = stored.value("recipients", std::vector<std::string>{});
  envelope.customer_id = stored.value("customer_id", std::int64_t{0});
  envelope.reason = stored.value("reason", std::string());
  envelope.level = stored.value("level", std::string());
  envelope.event = stored.value("event", envelope.event);
  envelope.created_ms = stored.value("created_ms", std::int64_t{0});
  if (const auto links = stored.find("links"); links != stored.end() && links->is_array()) {
    for (const nlohmann::json& link : *links) {
      envelope.links.emplace_back(link.value("label", std::string()), link.value("url", std::string()));
    }
  }
  envelope.markdown = stored.value("markdown", std::string());
  if (const auto details = stored.find("details"); details != stored.end() && details->is_object()) {
    envelope.details = *details;
  }
  for (const auto& [key, value] : stored.items()) {
    if (!is_field(key)) {
      envelope.labels[key] = value;
    }
  }
  return envelope;
}

std::string Envelope::label(const std::string& name) const {
  const auto found = labels.find(name);
  return found != labels.end() && found->is_string() ? found->get<std::string>() : std::string();
}

}  // namespace crm::host
