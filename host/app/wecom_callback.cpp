#include "app/wecom_callback.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alerts/alert_engine.hpp"
#include "app/events.hpp"
#include "core/wecom_crypto.hpp"
#include "store/contact_lookup_repository.hpp"

namespace crm::host {
namespace {

constexpr std::string_view kWhere = "service.wecom_callback";

std::string secret_of(const nlohmann::json& section, const char* field, const EnvironmentLookup& environment) {
  const nlohmann::json& reference = section.at(field);
  const std::string variable = reference.at("env").get<std::string>();
  std::optional<std::string> value;
  if (environment) {
    value = environment(variable);
  } else if (const char* found = std::getenv(variable.c_str()); found != nullptr) {  // NOLINT(concurrency-mt-unsafe)
    value = found;
  }
  if (!value || value->empty()) {
    throw ConfigError(
        fmt::format("{}.{} refers to environment variable {}, which is not set (or empty); set it "
                    "before starting crmhost serve",
                    kWhere, field, variable));
  }
  return *value;
}

// Paths the REST API serves itself: the callback cannot take them.
bool reserved_path(std::string_view path) {
  for (const std::string_view prefix : {"/api/", "/ack/", "/app/"}) {
    if (path.starts_with(prefix)) {
      return true;
    }
  }
  for (const std::string_view exact : {"/healthz", "/readyz", "/metrics", "/api", "/ack", "/app", "/"}) {
    if (path == exact) {
      return true;
    }
  }
  return false;
}

bool tag_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

void skip_space(std::string_view xml, std::size_t& at) {
  while (at < xml.size() && std::isspace(static_cast<unsigned char>(xml[at])) != 0) {
    ++at;
  }
}

// "<name>" at `at`; returns the name.
std::string open_tag(std::string_view xml, std::size_t& at) {
  if (at >= xml.size() || xml[at] != '<') {
    throw WecomMessageError(fmt::format("byte {}: expected an element", at));
  }
  std::size_t end = at + 1;
  while (end < xml.size() && tag_char(xml[end])) {
    ++end;
  }
  if (end == at + 1 || end >= xml.size() || xml[end] != '>') {
    throw WecomMessageError(fmt::format("byte {}: an element must be <Name> (letters, digits, _; no attributes)", at));
  }
  std::string name(xml.substr(at + 1, end - at - 1));
  at = end + 1;
  return name;
}

void close_tag(std::string_view xml, std::size_t& at, std::string_view name) {
  const std::string expected = fmt::format("</{}>", name);
  if (xml.substr(at, expected.size()) != expected) {
    throw WecomMessageError(fmt::format("byte {}: expected {} (no nested elements)", at, expected));
  }
  at += expected.size();
}

// The decimal of a number element, the whole of it.
std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<WecomCallbackSettings> wecom_callback_settings(const HostConfig& config,
                                                             const EnvironmentLookup& environment) {
  if (!config.service.is_object() || !config.service.contains("wecom_callback")) {
    return std::nullopt;
  }
  // The configuration's schema checked the shape (host_config.cpp); what it cannot check is here.
  const nlohmann::json& section = config.service["wecom_callback"];
  WecomCallbackSettings settings;
  settings.path = section.value("path", settings.path);
  if (settings.path.empty() || settings.path.front() != '/' || reserved_path(settings.path)) {
    throw ConfigError(
        fmt::format("{}.path '{}' must start with / and not be one of the REST API's own paths "
                    "(/api/..., /ack/..., /app/..., /healthz, /readyz, /metrics)",
                    kWhere, settings.path));
  }
  settings.corp_id = section.at("corp_id").get<std::string>();
  settings.source = section.at("source").get<std::string>();
  settings.max_clock_skew_s = section.value("max_clock_skew_s", settings.max_clock_skew_s);
  settings.token = secret_of(section, "token", environment);
  settings.encoding_aes_key = secret_of(section, "encoding_aes_key", environment);
  if (settings.token.size() > 32 || !std::all_of(settings.token.begin(), settings.token.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0;
      })) {
    throw ConfigError(
        fmt::format("{}.token: WeCom's Token is at most 32 letters and digits; the variable {} holds "
                    "something else",
                    kWhere, section["token"]["env"].get<std::string>()));
  }
  try {
    const WecomCrypto check(settings.token, settings.encoding_aes_key);
  } catch (const WecomCryptoError& e) {
    throw ConfigError(fmt::format("{}.encoding_aes_key (variable {}): {}", kWhere,
                                  section["encoding_aes_key"]["env"].get<std::string>(), e.what()));
  }
  return settings;
}

std::map<std::string, std::string, std::less<>> parse_wecom_xml(std::string_view xml) {
  std::size_t at = 0;
  skip_space(xml, at);
  if (xml.substr(at, 5) == "<?xml") {
    const std::size_t end = xml.find("?>", at);
    if (end == std::string_view::npos) {
      throw WecomMessageError("the XML declaration is not closed");
    }
    at = end + 2;
    skip_space(xml, at);
  }
  if (open_tag(xml, at) != "xml") {
    throw WecomMessageError("the root element must be <xml>");
  }
  std::map<std::string, std::string, std::less<>> children;
  for (;;) {
    skip_space(xml, at);
    if (xml.substr(at, 6) == "</xml>") {
      at += 6;
      break;
    }
    const std::size_t tag_at = at;
    const std::string name = open_tag(xml, at);
    std::string value;
    constexpr std::string_view kCdataOpen = "<![CDATA[";
    if (xml.substr(at, kCdataOpen.size()) == kCdataOpen) {
      const std::size_t end = xml.find("]]>", at + kCdataOpen.size());
      if (end == std::string_view::npos) {
        throw WecomMessageError(fmt::format("<{}> at byte {}: the CDATA section is not closed", name, tag_at));
      }
      value = std::string(xml.substr(at + kCdataOpen.size(), end - at - kCdataOpen.size()));
      at = end + 3;
    } else {
      const std::size_t end = xml.find('<', at);
      if (end == std::string_view::npos) {
        throw WecomMessageError(fmt::format("<{}> at byte {}: not closed", name, tag_at));
      }
      value = std::string(xml.substr(at, end - at));
      if (value.find('&') != std::string::npos) {
        throw WecomMessageError(
            fmt::format("<{}> at byte {}: entities are not part of WeCom's messages", name, tag_at));
      }
      at = end;
    }
    close_tag(xml, at, name);
    if (!children.emplace(name, std::move(value)).second) {
      throw WecomMessageError(fmt::format("<{}> at byte {}: the element appears twice", name, tag_at));
    }
  }
  skip_space(xml, at);
  if (at != xml.size()) {
    throw WecomMessageError(fmt::format("byte {}: text after the root element", at));
  }
  return children;
}

std::optional<WecomChangeEvent> wecom_change_event(const std::map<std::string, std::string, std::less<>>& message) {
  const auto text = [&](std::string_view tag) -> std::string {
    const auto found = message.find(tag);
    return found == message.end() ? std::string() : found->second;
  };
  if (text("MsgType") != "event" || text("Event") != "change_external_contact") {
    return std::nullopt;
  }
  WecomChangeEvent event;
  event.change_type = text("ChangeType");
  event.user_id = text("UserID");
  event.external_user_id = text("ExternalUserID");
  event.fail_reason = text("FailReason");
  for (const auto& [tag, value] : {std::pair<std::string_view, const std::string&>{"ChangeType", event.change_type},
                                   {"UserID", event.user_id},
                                   {"ExternalUserID", event.external_user_id}}) {
    if (value.empty()) {
      throw WecomMessageError(fmt::format("a change_external_contact event needs <{}>", tag));
    }
  }
  const std::optional<std::int64_t> created = whole_number(text("CreateTime"));
  if (!created || *created <= 0) {
    throw WecomMessageError("a change_external_contact event needs <CreateTime>, seconds since the epoch");
  }
  event.create_time_s = *created;
  return event;
}

std::string_view wecom_activity_kind(std::string_view change_type) {
  if (change_type == "del_follow_user") {
    return "customer_removed_owner";
  }
  if (change_type == "del_external_contact") {
    return "owner_removed_customer";
  }
  if (change_type == "add_external_contact" || change_type == "add_half_external_contact") {
    return "contact_added";
  }
  if (change_type == "transfer_fail") {
    return "handover_failed";
  }
  if (change_type == "edit_external_contact") {
    return "contact_edited";
  }
  return {};
}

WecomEventResult record_wecom_change(Session& session, const WecomCallbackSettings& settings,
                                     const WecomChangeEvent& event) {
  WecomEventResult result;
  result.activity_kind = std::string(wecom_activity_kind(event.change_type));
  if (result.activity_kind.empty()) {
    return result;
  }
  result.activity_external_id =
      fmt::format("wecom/{}/{}/{}/{}", event.change_type, event.user_id, event.external_user_id, event.create_time_s);
  std::string detail;
  if (event.change_type == "del_follow_user") {
    detail = fmt::format("the customer deleted member {}", event.user_id);
  } else if (event.change_type == "del_external_contact") {
    detail = fmt::format("member {} deleted the customer", event.user_id);
  } else if (event.change_type == "transfer_fail") {
    detail = fmt::format("the hand-over to member {} failed{}; the customer has no owner", event.user_id,
                         event.fail_reason.empty() ? std::string() : " (" + event.fail_reason + ")");
  } else {
    detail = fmt::format("{} by member {}", event.change_type, event.user_id);
  }
  nlohmann::json activity = {{"type", "activity"},
                             {"external_id", result.activity_external_id},
                             {"contact_external_id", event.external_user_id},
                             {"occurred_at_ms", event.create_time_s * 1000},
                             {"kind", result.activity_kind},
                             {"detail", detail}};

  const StoreHandle store = session.open_store();
  const std::optional<ContactCustomer> customer =
      ContactLookupRepository(store->database()).customer_of_contact(settings.source, event.external_user_id);
  if (!customer) {
    result.quarantine_reason = fmt::format(
        "/contact_external_id: source {} has no contact with this id (added since its last sync, or not "
        "synced): the {} event cannot name its customer; it is kept here with its time",
        settings.source, event.change_type);
    activity["customer_external_id"] = nullptr;
    store->quarantine(settings.source, activity.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      result.quarantine_reason, session.clock().now_ms());
    return result;
  }
  activity["customer_external_id"] = customer->customer_external_id;
  const EventIngestResult ingested =
      ingest_events(session, *store, {{"source", settings.source}, {"records", nlohmann::json::array({activity})}});
  if (!ingested.rejected.empty()) {
    result.quarantine_reason = ingested.rejected.front().reason;
    return result;
  }
  result.stored = true;

  if (event.change_type == "del_follow_user" || event.change_type == "transfer_fail") {
    // The alert's notification goes to channels: they must be loaded to be named when no route is configured.
    const std::unique_ptr<PluginHost> host = session.plugins(*store);
    const HostConfig& config = session.config();
    AlertEngine alerts(*store, *host, session.logger(), session.clock(), config.alerts, config.scoring);
    if (event.change_type == "del_follow_user") {
      result.alert_id = alerts.raise_customer_event(
          customer->customer_id, "customer_removed_owner", "",
          fmt::format("[signal] customer {}: the customer deleted their account manager", customer->customer_id),
          fmt::format("Contact {} deleted member {} on WeCom ({}): a strong churn signal.", event.external_user_id,
                      event.user_id, result.activity_external_id));
    } else {
      result.alert_id = alerts.raise_customer_event(
          customer->customer_id, "handover_failed", kEventAlertLevelDirector,
          fmt::format("[handover] customer {}: the hand-over failed, no owner", customer->customer_id),
          fmt::format("The hand-over of contact {} to member {} failed{}: the customer is left without an owner.",
                      event.external_user_id, event.user_id,
                      event.fail_reason.empty() ? std::string() : " (" + event.fail_reason + ")"));
    }
  }
  return result;
}

}  // namespace crm::host
