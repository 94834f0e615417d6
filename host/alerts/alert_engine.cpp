#include "alerts/alert_engine.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <iterator>
#include <optional>
#include <set>

#include "alerts/ack_tokens.hpp"
#include "alerts/alert_message.hpp"
#include "core/config.hpp"
#include "crm/plugin.hpp"
#include "scoring/scoring.hpp"
#include "store/alert_context_repository.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMinuteMs = 60'000;

bool matches(const std::vector<std::string>& allowed, const std::string& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// A route's reason names a kind of alert: "sync_failed" matches the alert of
// every connector ("sync_failed:erp_csv"), as it does the exact reason.
bool matches_reason(const std::vector<std::string>& allowed, const std::string& reason) {
  return matches(allowed, reason) || matches(allowed, reason.substr(0, reason.find(':')));
}

constexpr std::string_view kDeliveryDead = "delivery_dead:";

}  // namespace

const char* const kAlertSettingsSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "routes": {
      "type": "array",
      "items": {
        "type": "object", "additionalProperties": false, "required": ["channel"],
        "properties": {
          "levels": {"type": "array", "items": {"type": "string"}},
          "reasons": {"type": "array", "items": {"type": "string"}},
          "tiers": {"type": "array", "items": {"type": "string"}},
          "channel": {"type": "string", "minLength": 1},
          "recipients": {"type": "array", "items": {"type": "string"}},
          "abc_classes": {"type": "array", "items": {"type": "string"}},
          "stages": {"type": "array", "items": {"type": "string"}},
          "industries": {"type": "array", "items": {"type": "string"}},
          "owners": {"type": "array", "items": {"type": "string"}},
          "digest_window_minutes": {"type": "number", "minimum": 0},
          "continue": {"type": "boolean"},
          "language": {"enum": ["en", "zh-CN"]},
          "utc_offset_minutes": {"type": "integer", "minimum": -720, "maximum": 840},
          "time_zone": {"type": "string", "minLength": 1},
          "group_by": {"type": "array",
                       "items": {"enum": ["level", "reason", "tier", "abc_class", "stage", "industry",
                                          "account_manager", "customer_id", "event"]}}
        }
      }
    },
    "roles": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    "repeat_interval_hours": {"type": "number", "exclusiveMinimum": 0},
    "signal_response_hours": {"type": "number", "exclusiveMinimum": 0},
    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
    "initial_backoff_ms": {"type": "integer", "minimum": 0},
    "max_backoff_ms": {"type": "integer", "minimum": 0},
    "notify_resolved": {"type": "boolean"},
    "max_in_flight": {"type": "integer", "minimum": 1, "maximum": 64},
    "first_response_minutes": {"type": "number", "exclusiveMinimum": 0},
    "close_loop_hours": {"type": "number", "exclusiveMinimum": 0},
    "quiet_hours": {"$comment": "kQuietHoursSchema, put in by the host configuration's schema"},
    "recipient_cap": {
      "type": "object", "additionalProperties": false, "required": ["per_hour"],
      "properties": {
        "per_hour": {"type": "integer", "minimum": 0},
        "exempt_levels": {"type": "array", "items": {"type": "string"}}
      }
    },
    "signal_reasons": {"type": "array", "items": {"type": "string"}},
    "language": {"enum": ["en", "zh-CN"]},
    "utc_offset_minutes": {"type": "integer", "minimum": -720, "maximum": 840},
    "time_zone": {"type": "string", "minLength": 1},
    "recipient_settings": {
      "type": "object",
      "additionalProperties": {
        "type": "object", "additionalProperties": false,
        "properties": {
          "language": {"enum": ["en", "zh-CN"]},
          "time_zone": {"type": "string", "minLength": 1}
        }
      }
    },
    "first_actions": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
    "max_reasons": {"type": "integer", "minimum": 1, "maximum": 20}
  }
})";

namespace {

std::shared_ptr<const TimeZone> load_zone(const nlohmann::json& name, const std::string& where,
                                          const std::filesystem::path& zoneinfo_dir) {
  try {
    return std::make_shared<const TimeZone>(TimeZone::load(name.get<std::string>(), zoneinfo_dir));
  } catch (const TimeZoneError& e) {
    throw ConfigError(fmt::format("{}: {}", where, e.what()));
  }
}

std::string lower_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

AlertSettings parse_alert_settings(const nlohmann::json& section, const std::filesystem::path& zoneinfo_dir) {
  AlertSettings settings;
  if (!section.is_object()) {
    return settings;
  }
  if (const auto routes = section.find("routes"); routes != section.end()) {
    std::size_t route_index = 0;
    for (const auto& route : *routes) {
      AlertRoute parsed;
      parsed.levels = route.value("levels", std::vector<std::string>{});
      parsed.reasons = route.value("reasons", std::vector<std::string>{});
      parsed.tiers = route.value("tiers", std::vector<std::string>{});
      parsed.channel = route["channel"].get<std::string>();
      parsed.recipients = route.value("recipients", std::vector<std::string>{});
      parsed.digest_window_ms = std::llround(route.value("digest_window_minutes", 0.0) * 60'000.0);
      parsed.group_by = route.value("group_by", std::vector<std::string>{});
      parsed.continue_matching = route.value("continue", false);
      if (route.contains("language")) {
        parsed.language = route["language"].get<std::string>();
      }
      if (route.contains("utc_offset_minutes")) {
        parsed.utc_offset_minutes = route["utc_offset_minutes"].get<int>();
      }
      if (route.contains("time_zone")) {
        parsed.time_zone =
            load_zone(route["time_zone"], fmt::format("alerts.routes[{}].time_zone", route_index), zoneinfo_dir);
      }
      ++route_index;
      for (const auto& [field, label] : {std::pair{"abc_classes", "abc_class"}, std::pair{"stages", "stage"},
                                         std::pair{"industries", "industry"}, std::pair{"owners", "account_manager"}}) {
        if (route.contains(field)) {
          parsed.label_matches[label] = route[field].get<std::vector<std::string>>();
        }
      }
      settings.routes.push_back(std::move(parsed));
    }
  }
  if (const auto roles = section.find("roles"); roles != section.end()) {
    for (const auto& [role, addresses] : roles->items()) {
      settings.roles[role] = addresses.get<std::vector<std::string>>();
    }
  }
  if (section.contains("repeat_interval_hours")) {
    settings.repeat_interval_ms =
        std::llround(section["repeat_interval_hours"].get<double>() * static_cast<double>(kHourMs));
  }
  if (section.contains("signal_response_hours")) {
    settings.signal_response_ms =
        std::llround(section["signal_response_hours"].get<double>() * static_cast<double>(kHourMs));
  }
  settings.max_attempts = section.value("max_attempts", settings.max_attempts);
  settings.initial_backoff_ms = section.value("initial_backoff_ms", settings.initial_backoff_ms);
  settings.max_backoff_ms = section.value("max_backoff_ms", settings.max_backoff_ms);
  settings.notify_resolved = section.value("notify_resolved", settings.notify_resolved);
  settings.max_in_flight = section.value("max_in_flight", settings.max_in_flight);
  if (section.contains("first_response_minutes")) {
    settings.first_response_ms =
        std::llround(section["first_response_minutes"].get<double>() * static_cast<double>(kMinuteMs));
  }
  if (section.contains("close_loop_hours")) {
    settings.close_loop_ms = std::llround(section["close_loop_hours"].get<double>() * static_cast<double>(kHourMs));
  }
  settings.signal_reasons = section.value("signal_reasons", settings.signal_reasons);
  settings.language = section.value("language", settings.language);
  settings.utc_offset_minutes = section.value("utc_offset_minutes", settings.utc_offset_minutes);
  if (section.contains("time_zone")) {
    settings.time_zone = load_zone(section["time_zone"], "alerts.time_zone", zoneinfo_dir);
  }
  if (const auto people = section.find("recipient_settings"); people != section.end()) {
    for (const auto& [address, preferences] : people->items()) {
      RecipientSettings parsed;
      if (preferences.contains("language")) {
        parsed.language = preferences["language"].get<std::string>();
      }
      if (preferences.contains("time_zone")) {
        parsed.time_zone = load_zone(preferences["time_zone"],
                                     fmt::format("alerts.recipient_settings.{}.time_zone", address), zoneinfo_dir);
      }
      settings.recipient_settings[lower_case(address)] = std::move(parsed);
    }
  }
  settings.first_actions = section.value("first_actions", settings.first_actions);
  settings.max_reasons = section.value("max_reasons", settings.max_reasons);
  if (const auto quiet = section.find("quiet_hours"); quiet != section.end()) {
    settings.quiet_hours = parse_quiet_hours(*quiet, settings.quiet_hours.levels);
  }
  if (const auto cap = section.find("recipient_cap"); cap != section.end()) {
    settings.recipient_cap.per_hour = cap->at("per_hour").get<int>();
    settings.recipient_cap.exempt_levels = cap->value("exempt_levels", settings.recipient_cap.exempt_levels);
  }
  return settings;
}

AlertEngine::AlertEngine(Store& store, PluginHost& plugins, Logger& logger, const Clock& clock, AlertSettings settings,
                         ScoringSettings scoring)
    : store_(store),
      plugins_(plugins),
      logger_(logger),
      clock_(clock),
      settings_(std::move(settings)),
      scoring_(std::move(scoring)),
      alerts_(store.database()),
      outbox_(store.database()),
      dispatcher_(store.database(), plugins, logger, clock,
                  {{settings_.max_attempts, settings_.initial_backoff_ms, settings_.max_backoff_ms},
                   settings_.max_in_flight,
                   settings_.quiet_hours,
                   settings_.recipient_cap}) {}

std::int64_t AlertEngine::response_ms(const std::string& level) const {
  for (const BandRule& band : scoring_.bands) {
    if (band.name == level && band.response_hours > 0) {
      return band.response_hours * kHourMs;
    }
  }
  return settings_.signal_response_ms;
}

std::string AlertEngine::next_level(const std::string& level) const {
  for (std::size_t b = 1; b + 1 < scoring_.bands.size(); ++b) {
    if (scoring_.bands[b].name == level) {
      return scoring_.bands[b + 1].name;
    }
  }
  if (level == "signal" && scoring_.bands.size() > 1) {
    return scoring_.bands[1].name;
  }
  return level;
}

std::string AlertEngine::owner_role(const std::string& level) const {
  for (const BandRule& band : scoring_.bands) {
    if (band.name == level) {
      return band.owner;
    }
  }
  return scoring_.bands.size() > 1 ? scoring_.bands[1].owner : std::string("csm");
}

std::vector<std::string> AlertEngine::resolve_recipients(const std::vector<std::string>& recipients,
                                                         const Condition& condition) const {
  std::vector<std::string> resolved;
  for (const std::string& recipient : recipients) {
    if (recipient.empty() || recipient[0] != '@') {
      resolved.push_back(recipient);
      continue;
    }
    std::string role = recipient == "@owner" ? owner_role(condition.level) : recipient.substr(1);
    if (recipient == "@account_manager") {
      // The customer's own account manager (an address, or a name the roles map); else the level's owner.
      role = condition.labels.value("account_manager", owner_role(condition.level));
    }
    if (const auto found = settings_.roles.find(role); found != settings_.roles.end()) {
      resolved.insert(resolved.end(), found->second.begin(), found->second.end());
    } else {
      resolved.push_back(role);  // no address configured: the role name itself
    }
  }
  return resolved;
}

MessageStyle AlertEngine::message_style(const AlertRoute* route, const std::string& recipient,
                                        const std::string& level) const {
  MessageStyle style;
  style.language = route != nullptr && route->language ? *route->language : settings_.language;
  if (route != nullptr && (route->time_zone || route->utc_offset_minutes)) {
    style.time_zone = route->time_zone;
    style.utc_offset_minutes = route->utc_offset_minutes.value_or(0);
  } else {
    style.time_zone = settings_.time_zone;
    style.utc_offset_minutes = settings_.utc_offset_minutes;
  }
  if (!recipient.empty()) {
    if (const auto own = settings_.recipient_settings.find(lower_case(recipient));
        own != settings_.recipient_settings.end()) {
      style.language = own->second.language.value_or(style.language);
      if (own->second.time_zone) {
        style.time_zone = own->second.time_zone;
      }
    }
  }
  const auto configured = settings_.first_actions.find(level);
  style.first_action =
      configured != settings_.first_actions.end() ? configured->second : default_first_action(level, style.language);
  return style;
}

void AlertEngine::notify(std::int64_t alert_id, std::int64_t customer_id, const std::string& reason,
                         const Condition& condition, const std::string& event) {
  struct Target {
    std::string channel;
    std::vector<std::string> recipients;
    const AlertRoute* route = nullptr;
  };
  std::vector<Target> targets;
  // An alert about a channel whose notifications die is not sent through that channel.
  const auto about = [&](const std::string& channel) {
    return reason.starts_with(kDeliveryDead) && reason.substr(kDeliveryDead.size()) == channel;
  };
  if (settings_.routes.empty()) {
    for (LoadedPlugin* channel : plugins_.plugins_of_kind(CRM_KIND_CHANNEL)) {
      if (!about(channel->id())) {
        targets.push_back({channel->id(), resolve_recipients({"@owner"}, condition), nullptr});
      }
    }
  } else {
    for (const AlertRoute& route : settings_.routes) {
      const auto label = [&](const std::string& name) { return condition.labels.value(name, std::string()); };
      bool labels_match = matches(route.tiers, label("tier"));
      for (const auto& [name, allowed] : route.label_matches) {
        labels_match = labels_match && matches(allowed, label(name));
      }
      if (labels_match && !about(route.channel) && matches(route.levels, condition.level) &&
          matches_reason(route.reasons, reason)) {
        targets.push_back(
            {route.channel,
             resolve_recipients(route.recipients.empty() ? std::vector<std::string>{"@owner"} : route.recipients,
                                condition),
             &route});
        if (!route.continue_matching) {
          break;
        }
      }
    }
  }
  const std::int64_t now = clock_.now_ms();
  const std::int64_t n = outbox_.messages_of_alert(alert_id);
  const AlertFacts facts = alert_facts(alert_id, customer_id, reason, condition, event);
  AckTokens ack_tokens(store_.database(), clock_);
  const std::optional<AckAlertRecord> alert = ack_tokens.repository().alert(alert_id);
  // A link per recipient acknowledges as that person: with links on, each
  // recipient gets a message of their own.
  const bool ack_links =
      !settings_.public_url.empty() && event != "resolved" && alert && alert->state == "open" && facts.deadline_ms > 0;
  for (const Target& target : targets) {
    // Recipients who read in another language or live on another clock get a
    // message of their own; with acknowledge links on, every recipient does.
    struct Group {
      MessageStyle style;
      std::vector<std::string> recipients;
    };
    std::vector<Group> messages;
    for (const std::string& recipient : target.recipients) {
      MessageStyle style = message_style(target.route, recipient, condition.level);
      if (!settings_.public_url.empty() && customer_id != 0) {
        style.customer_url = fmt::format("{}/app/customers/{}", settings_.public_url, customer_id);
      }
      const auto same_voice = [&](const Group& group) {
        return !ack_links && group.style.language == style.language && group.style.time_zone == style.time_zone &&
               group.style.utc_offset_minutes == style.utc_offset_minutes;
      };
      if (const auto group = std::find_if(messages.begin(), messages.end(), same_voice); group != messages.end()) {
        group->recipients.push_back(recipient);
      } else {
        messages.push_back({std::move(style), {recipient}});
      }
    }
    if (messages.empty()) {
      messages.push_back({message_style(target.route, "", condition.level), {}});
    }
    for (std::size_t m = 0; m < messages.size(); ++m) {
      OutboxMessage message;
      message.alert_id = alert_id;
      message.channel_id = target.channel;
      message.idempotency_key = messages.size() == 1
                                    ? fmt::format("crm-alert-{}-{}-{}", alert_id, n + 1, target.channel)
                                    : fmt::format("crm-alert-{}-{}-{}-{}", alert_id, n + 1, target.channel, m + 1);
      Envelope& envelope = message.envelope;
      envelope.severity = event == "resolved" ? CRM_SEVERITY_INFO
                          : (condition.level == "signal" || condition.level == next_level("signal"))
                              ? CRM_SEVERITY_WARNING
                              : CRM_SEVERITY_CRITICAL;
      envelope.title = event == "resolved"    ? "Resolved: " + condition.title
                       : event == "escalated" ? "Escalated: " + condition.title
                       : event == "reminder"  ? "Reminder: " + condition.title
                                              : condition.title;
      MessageStyle& style = messages[m].style;
      if (ack_links && messages[m].recipients.size() == 1) {
        style.recipient = messages[m].recipients.front();
        style.ack_url = fmt::format("{}/ack/{}", settings_.public_url,
                                    ack_tokens.issue(alert_id, style.recipient, facts.deadline_ms));
      }
      AlertMessage rendered = render_alert_message(facts, style);
      envelope.text = std::move(rendered.text);
      envelope.markdown = std::move(rendered.markdown);
      envelope.links = std::move(rendered.links);
      envelope.details = std::move(rendered.facts);
      envelope.recipients = messages[m].recipients;
      envelope.customer_id = customer_id;
      envelope.reason = reason;
      envelope.level = condition.level;
      envelope.event = event;
      envelope.created_ms = now;
      envelope.labels = condition.labels.is_object() ? condition.labels : nlohmann::json::object();
      if (target.route != nullptr && target.route->digest_window_ms > 0) {
        const nlohmann::json stored = envelope.to_json();
        nlohmann::json group = {target.channel, messages[m].recipients};
        for (const std::string& label : target.route->group_by) {
          group.push_back(stored.value(label, nlohmann::json()).dump());
        }
        message.group_key = "route:" + group.dump();
        message.digest_window_ms = target.route->digest_window_ms;
      }
      outbox_.enqueue(message, now);
    }
  }
  alerts_.mark_notified(alert_id, now);
}

AlertFacts AlertEngine::alert_facts(std::int64_t alert_id, std::int64_t customer_id, const std::string& reason,
                                    const Condition& condition, const std::string& event) {
  AlertFacts facts;
  facts.alert_id = alert_id;
  facts.customer_id = customer_id;
  facts.level = condition.level;
  facts.event = event;
  if (const std::optional<AckAlertRecord> alert = AckTokenRepository(store_.database()).alert(alert_id)) {
    facts.deadline_ms = alert->deadline_ms;
  }
  const std::int64_t now = clock_.now_ms();
  constexpr std::int64_t kYearMs = 365LL * 24 * kHourMs;
  const std::optional<AlertCustomerContext> context =
      customer_id == 0 ? std::nullopt
                       : AlertContextRepository(store_.database()).customer(customer_id, now - kYearMs, now);
  if (!context) {
    facts.customer_id = 0;
    facts.summary = condition.detail;
    return facts;
  }
  facts.customer_name = context->name;
  facts.customer_source = context->source;
  facts.customer_external_id = context->external_id;
  facts.score = context->score;
  facts.abc_class = context->abc_class;
  // A signal's own reason first, then the latest run's, each once.
  std::vector<std::string> codes;
  if (reason != "band" && reason.find(':') == std::string::npos) {
    codes.push_back(reason);
  }
  for (const std::string& code : split_reason_codes(context->reason_codes)) {
    if (std::find(codes.begin(), codes.end(), code) == codes.end()) {
      codes.push_back(code);
    }
  }
  for (const std::string& code : codes) {
    if (static_cast<int>(facts.reasons.size()) >= settings_.max_reasons) {
      break;
    }
    facts.reason_codes.push_back(code);
    facts.reasons.push_back(plain_label(scoring_, code));
  }
  if (!context->revenue_by_currency.empty()) {
    facts.value_currency = context->revenue_by_currency.front().first;
    facts.value_amount = context->revenue_by_currency.front().second;
  }
  return facts;
}

AlertCounts AlertEngine::evaluate(std::int64_t run_id) {
  AlertCounts counts;
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(store_.database());
  std::map<std::pair<std::int64_t, std::string>, ActiveAlert> active;
  for (ActiveAlert& alert : alerts_.active_customer_alerts()) {
    std::pair<std::int64_t, std::string> key{alert.customer_id, alert.reason};
    active[std::move(key)] = std::move(alert);
  }
  const auto band_rank = [&](const std::string& name) {
    for (std::size_t b = 0; b < scoring_.bands.size(); ++b) {
      if (scoring_.bands[b].name == name) {
        return static_cast<int>(b);
      }
    }
    return 0;
  };
  std::set<std::pair<std::int64_t, std::string>> current;
  // The account manager of each customer: the owner of its key contact (else of any current contact).
  const std::map<std::int64_t, std::string> account_managers = alerts_.account_managers();
  for (const ScoredCustomer& scored : alerts_.scored_customers(run_id)) {
    const std::int64_t customer = scored.customer_id;
    const std::string& band = scored.band;
    const double score = scored.score;
    nlohmann::json labels = nlohmann::json::object();
    const std::pair<const char*, const std::string&> label_values[] = {
        {"tier", scored.tier}, {"abc_class", scored.abc_class}, {"stage", scored.stage}, {"industry", scored.industry}};
    for (const auto& [name, value] : label_values) {
      if (!value.empty()) {
        labels[name] = value;
      }
    }
    if (const auto manager = account_managers.find(customer); manager != account_managers.end()) {
      labels["account_manager"] = manager->second;
    }
    std::vector<std::pair<std::string, Condition>> conditions;
    const std::string band_owner = owner_role(band);
    if (band_rank(band) >= 1) {
      conditions.push_back({"band",
                            {band, fmt::format("[{}] customer {}: health {:.1f}", band, customer, score),
                             fmt::format("Customer {} is {} (score {:.1f}); owner {}, respond within {} h.", customer,
                                         band, score, band_owner, response_ms(band) / kHourMs),
                             labels}});
    }
    for (const std::string& reason : split_reason_codes(scored.reasons)) {
      if (!matches(settings_.signal_reasons, reason) || settings_.signal_reasons.empty()) {
        continue;
      }
      conditions.push_back({reason,
                            {"signal", fmt::format("[signal] customer {}: {}", customer, reason),
                             fmt::format("Customer {} shows the churn signal '{}': {} (score {:.1f}, band {}).",
                                         customer, reason, plain_label(scoring_, reason), score, band),
                             labels}});
    }
    for (const auto& [reason, condition] : conditions) {
      const std::pair<std::int64_t, std::string> key{customer, reason};
      current.insert(key);
      const auto found = active.find(key);
      if (found == active.end()) {
        const std::int64_t id = alerts_.open({customer, reason, condition.level, condition.title, condition.detail, now,
                                              now + response_ms(condition.level), condition.labels.dump()});
        notify(id, customer, reason, condition, "opened");
        ++counts.opened;
        ++counts.opened_by_level[condition.level];
        continue;
      }
      const ActiveAlert& alert = found->second;
      if (reason == "band" && band_rank(condition.level) > band_rank(alert.level)) {
        alerts_.change_level(alert.id, condition.level, now + response_ms(condition.level), now);
        notify(alert.id, customer, reason, condition, "escalated");
        ++counts.updated;
      } else if (reason == "band" && condition.level != alert.level) {
        alerts_.change_level(alert.id, condition.level, now + response_ms(condition.level), now);
        ++counts.updated;
      } else {
        alerts_.touch(alert.id, now);
        if (now - alert.last_notified_ms >= settings_.repeat_interval_ms) {
          notify(alert.id, customer, reason, condition, "reminder");
          ++counts.renotified;
        }
      }
    }
  }
  for (const auto& [key, alert] : active) {
    // An event's alert did not come from a score, so a score's absence does not end it.
    const bool from_event = std::any_of(std::begin(kEventAlertReasons), std::end(kEventAlertReasons),
                                        [&](const char* reason) { return key.second == reason; });
    if (current.count(key) != 0 || from_event) {
      continue;
    }
    alerts_.resolve_ended(alert.id, now);
    ++counts.resolved;
    if (settings_.notify_resolved) {
      notify(alert.id, key.first, key.second,
             {alert.level, fmt::format("[{}] customer {}: {}", alert.level, key.first, key.second),
              fmt::format("The condition '{}' of customer {} has ended.", key.second, key.first),
              nlohmann::json::parse(alert.labels_json, nullptr, false)},
             "resolved");
    }
  }
  transaction.commit();
  return counts;
}

void AlertEngine::raise_sync_failure(const std::string& connector_id, const std::string& message) {
  raise_system_alert("sync_failed:" + connector_id, next_level(next_level("signal")),
                     "[sync] connector " + connector_id + " failed", message);
}

std::int64_t AlertEngine::raise_strategic(const std::string& reason, const std::string& title,
                                          const std::string& detail) {
  return raise_system_alert(reason, scoring_.bands.empty() ? std::string("red") : scoring_.bands.back().name, title,
                            detail);
}

std::int64_t AlertEngine::raise_customer_event(std::int64_t customer_id, const std::string& reason,
                                               const std::string& level, const std::string& title,
                                               const std::string& detail) {
  const std::string at = level.empty()                       ? std::string("signal")
                         : level == kEventAlertLevelDirector ? next_level(next_level("signal"))
                                                             : level;
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(store_.database());
  nlohmann::json labels = nlohmann::json::object();
  const std::map<std::int64_t, std::string> account_managers = alerts_.account_managers();
  if (const auto manager = account_managers.find(customer_id); manager != account_managers.end()) {
    labels["account_manager"] = manager->second;
  }
  std::int64_t alert_id = 0;
  for (const ActiveAlert& alert : alerts_.active_customer_alerts()) {
    if (alert.customer_id == customer_id && alert.reason == reason) {
      alert_id = alert.id;
    }
  }
  if (alert_id != 0) {
    alerts_.update_detail(alert_id, detail, now);
  } else {
    alert_id = alerts_.open({customer_id, reason, at, title, detail, now, now + response_ms(at), labels.dump()});
    notify(alert_id, customer_id, reason, {at, title, detail, labels}, "opened");
  }
  transaction.commit();
  return alert_id;
}

std::int64_t AlertEngine::raise_system_alert(const std::string& reason, const std::string& level,
                                             const std::string& title, const std::string& detail) {
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(store_.database());
  std::int64_t alert_id = 0;
  if (const std::optional<std::int64_t> existing = alerts_.open_system_alert(reason)) {
    alert_id = *existing;
    alerts_.update_detail(alert_id, detail, now);
  } else {
    alert_id = alerts_.open({0, reason, level, title, detail, now, now + response_ms(level), ""});
    notify(alert_id, 0, reason, {level, title, detail, nlohmann::json::object()}, "opened");
  }
  transaction.commit();
  return alert_id;
}

std::size_t AlertEngine::escalate() {
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(store_.database());
  const std::vector<AlertToNotify> due = alerts_.overdue(now);
  for (const AlertToNotify& alert : due) {
    const std::string level = next_level(alert.level);
    alerts_.escalate(alert.id, level, now + response_ms(level), now);
    notify(alert.id, alert.customer_id, alert.reason,
           {level, alert.title + fmt::format(" (not acknowledged in time; now {})", owner_role(level)), alert.detail,
            nlohmann::json::parse(alert.labels_json, nullptr, false)},
           "escalated");
  }
  // Reminders to the same people, once each: no first response (acknowledgement)
  // within first_response_ms, and acknowledged but not closed within close_loop_ms.
  for (const AlertToNotify& alert : alerts_.late(settings_.first_response_ms, settings_.close_loop_ms, now)) {
    alerts_.mark_reminded(alert.id, alert.first_response, now);
    const std::string why =
        alert.first_response
            ? fmt::format("no first response within {} min", settings_.first_response_ms / kMinuteMs)
            : fmt::format("acknowledged but not closed within {} h", settings_.close_loop_ms / kHourMs);
    notify(alert.id, alert.customer_id, alert.reason,
           {alert.level, alert.title + " (" + why + ")", "Alert " + std::to_string(alert.id) + ": " + why + ".",
            nlohmann::json::parse(alert.labels_json, nullptr, false)},
           "reminder");
  }
  transaction.commit();
  return due.size();
}

DeliveryCounts AlertEngine::deliver() {
  DeliveryCounts counts = dispatcher_.deliver_due();
  if (counts.dead_by_channel.empty()) {
    return counts;
  }
  for (const auto& [channel, count] : counts.dead_by_channel) {
    raise_system_alert(
        std::string(kDeliveryDead) + channel, next_level(next_level("signal")),
        fmt::format("[delivery] notifications to channel '{}' are dead", channel),
        fmt::format("{} notification(s) to '{}' failed for good in this run. See `crmhost alerts outbox "
                    "--state dead` for the errors and `crmhost alerts resend ID` once the channel works.",
                    count, channel));
  }
  // Once: what dies in this second pass (the alert above, on a channel also
  // broken) only updates the open alert.
  counts += dispatcher_.deliver_due();
  return counts;
}

bool AlertEngine::acknowledge(std::int64_t alert_id, const std::string& by, const std::string& note) {
  return alerts_.acknowledge(alert_id, by, clock_.now_ms(), note);
}

bool AlertEngine::resolve(std::int64_t alert_id, const std::string& by, const std::string& note) {
  return alerts_.resolve(alert_id, by, note, clock_.now_ms());
}

bool AlertEngine::resend(std::int64_t outbox_id) {
  return outbox_.resend(outbox_id, clock_.now_ms());
}

std::vector<AlertRow> AlertEngine::list(const std::string& state_filter) {
  return alerts_.list(state_filter);
}

std::vector<OutboxRow> AlertEngine::outbox(const std::string& state_filter) {
  return outbox_.list(state_filter);
}

std::optional<double> AlertEngine::median_time_to_acknowledge_ms() {
  const std::vector<double> times = alerts_.times_to_acknowledge_ms();
  if (times.empty()) {
    return std::nullopt;
  }
  return times.size() % 2 == 1 ? times[times.size() / 2]
                               : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2.0;
}

}  // namespace crm::host
