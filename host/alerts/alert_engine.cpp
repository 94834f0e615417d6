#include "alerts/alert_engine.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <set>
#include <thread>

#include "crm/plugin.hpp"
#include "scoring/scoring.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMinuteMs = 60'000;
// Room kept in a digest for its title line; the rest is one line per notification.
constexpr std::size_t kDigestHeaderBytes = 160;
constexpr std::string_view kTruncatedMarker = "\n[...truncated]";

bool matches(const std::vector<std::string>& allowed, const std::string& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// A route's reason names a kind of alert: "sync_failed" matches the alert of
// every connector ("sync_failed:erp_csv"), as it does the exact reason.
bool matches_reason(const std::vector<std::string>& allowed, const std::string& reason) {
  return matches(allowed, reason) || matches(allowed, reason.substr(0, reason.find(':')));
}

constexpr std::string_view kDeliveryDead = "delivery_dead:";

std::string digest_line(const OutboxItem& item) {
  return "- " + item.notification.value("title", std::string()) + "\n";
}

}  // namespace

std::optional<std::int64_t> quiet_until(const QuietHours& quiet, std::int64_t now_ms) {
  if (quiet.start_minute < 0 || quiet.start_minute == quiet.end_minute) {
    return std::nullopt;
  }
  constexpr std::int64_t kDayMinutes = 1'440;
  const std::int64_t local_ms = now_ms + quiet.utc_offset_minutes * kMinuteMs;
  const std::int64_t minute = ((local_ms / kMinuteMs) % kDayMinutes + kDayMinutes) % kDayMinutes;
  const bool wraps = quiet.start_minute > quiet.end_minute;  // 22:00-07:00
  const bool inside = wraps ? (minute >= quiet.start_minute || minute < quiet.end_minute)
                            : (minute >= quiet.start_minute && minute < quiet.end_minute);
  if (!inside) {
    return std::nullopt;
  }
  const std::int64_t to_end = (quiet.end_minute - minute + kDayMinutes) % kDayMinutes;
  return (local_ms / kMinuteMs + to_end) * kMinuteMs - quiet.utc_offset_minutes * kMinuteMs;
}

QuietHours parse_quiet_hours(const nlohmann::json& section, std::vector<std::string> default_levels) {
  const auto minutes = [](const std::string& text) {
    return std::stoi(text.substr(0, 2)) * 60 + std::stoi(text.substr(3));
  };
  return {minutes(section.at("start").get<std::string>()), minutes(section.at("end").get<std::string>()),
          section.value("utc_offset_minutes", 0), section.value("levels", std::move(default_levels))};
}

const char* const kQuietHoursSchema = R"({
  "type": "object", "additionalProperties": false, "required": ["start", "end"],
  "properties": {
    "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    "end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    "utc_offset_minutes": {"type": "integer", "minimum": -840, "maximum": 840},
    "levels": {"type": "array", "items": {"type": "string"}}
  }
})";

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
    "signal_reasons": {"type": "array", "items": {"type": "string"}}
  }
})";

AlertSettings parse_alert_settings(const nlohmann::json& section) {
  AlertSettings settings;
  if (!section.is_object()) {
    return settings;
  }
  if (const auto routes = section.find("routes"); routes != section.end()) {
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
      jitter_(static_cast<std::uint64_t>(clock.now_ms())) {}

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

void AlertEngine::notify(std::int64_t alert_id, std::int64_t customer_id, const std::string& reason,
                         const Condition& condition, const std::string& event) {
  Database& db = store_.database();
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
  Statement sequence = db.prepare("SELECT count(*) FROM outbox WHERE alert_id = ?1");
  sequence.bind(1, alert_id);
  sequence.step();
  const std::int64_t n = sequence.column_int64(0);
  Statement insert = db.prepare(
      "INSERT INTO outbox(alert_id, channel_id, idempotency_key, notification, state, next_attempt_ms, created_ms, "
      "group_key) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)");
  // A group's first notification opens its window; later ones join it and go out with it.
  Statement group_due = db.prepare(
      "SELECT min(next_attempt_ms) FROM outbox WHERE group_key = ?1 AND state = 'pending' AND digest_key IS NULL");
  for (const Target& target : targets) {
    const crm_severity severity = event == "resolved" ? CRM_SEVERITY_INFO
                                  : (condition.level == "signal" || condition.level == next_level("signal"))
                                      ? CRM_SEVERITY_WARNING
                                      : CRM_SEVERITY_CRITICAL;
    const std::string title = event == "resolved"    ? "Resolved: " + condition.title
                              : event == "escalated" ? "Escalated: " + condition.title
                              : event == "reminder"  ? "Reminder: " + condition.title
                                                     : condition.title;
    nlohmann::json notification = condition.labels;
    notification.update(nlohmann::json{{"severity", severity},
                                       {"title", title},
                                       {"text", condition.detail},
                                       {"recipients", target.recipients},
                                       {"customer_id", customer_id},
                                       {"reason", reason},
                                       {"level", condition.level},
                                       {"event", event},
                                       {"created_ms", now}});
    std::int64_t due_ms = now;
    std::optional<std::string> group_key;
    if (target.route != nullptr && target.route->digest_window_ms > 0) {
      nlohmann::json group = {target.channel, target.recipients};
      for (const std::string& label : target.route->group_by) {
        group.push_back(notification.value(label, nlohmann::json()).dump());
      }
      group_key = "route:" + group.dump();
      group_due.bind(1, *group_key);
      due_ms = group_due.step() && !group_due.column_is_null(0) ? group_due.column_int64(0)
                                                                : now + target.route->digest_window_ms;
      group_due.reset();
    }
    insert.bind(1, alert_id)
        .bind(2, target.channel)
        .bind(3, fmt::format("crm-alert-{}-{}-{}", alert_id, n + 1, target.channel))
        .bind(4, notification.dump())
        .bind(5, due_ms)
        .bind(6, now);
    if (group_key) {
      insert.bind(7, *group_key);
    } else {
      insert.bind_null(7);
    }
    insert.run();
  }
  db.prepare("UPDATE alerts SET last_notified_ms = ?1 WHERE id = ?2").bind(1, now).bind(2, alert_id).run();
}

AlertCounts AlertEngine::evaluate(std::int64_t run_id) {
  AlertCounts counts;
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(db);
  struct Active {
    std::int64_t id = 0;
    std::string level;
    std::int64_t last_notified_ms = 0;
    std::string labels;
  };
  std::map<std::pair<std::int64_t, std::string>, Active> active;
  {
    Statement query = db.prepare(
        "SELECT id, customer_id, reason, level, coalesce(last_notified_ms, 0), coalesce(labels, '{}') FROM alerts "
        "WHERE state != 'resolved' AND customer_id != 0");
    while (query.step()) {
      active[{query.column_int64(1), query.column_text(2)}] = {query.column_int64(0), query.column_text(3),
                                                               query.column_int64(4), query.column_text(5)};
    }
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
  std::map<std::int64_t, std::string> account_managers;
  {
    Statement owners = db.prepare(
        "SELECT customer_id, owner FROM contacts WHERE owner IS NOT NULL AND owner != '' AND left_at_ms IS NULL AND "
        "customer_id IS NOT NULL ORDER BY customer_id, coalesce(is_key_contact, 0) DESC, id");
    while (owners.step()) {
      account_managers.try_emplace(owners.column_int64(0), owners.column_text(1));
    }
  }
  Statement scores = db.prepare(
      "SELECT s.customer_id, s.band, coalesce(s.reasons, ''), coalesce(s.tier, ''), s.score, coalesce(s.abc_class, "
      "''), coalesce(s.stage, ''), coalesce(c.industry, '') FROM customer_scores s LEFT JOIN customers c ON c.id = "
      "s.customer_id WHERE s.run_id = ?1 AND s.band IS NOT NULL");
  scores.bind(1, run_id);
  Statement update = db.prepare("UPDATE alerts SET updated_ms = ?1, level = ?2, deadline_ms = ?3 WHERE id = ?4");
  Statement touch = db.prepare("UPDATE alerts SET updated_ms = ?1 WHERE id = ?2");
  Statement insert = db.prepare(
      "INSERT INTO alerts(customer_id, reason, level, state, title, detail, opened_ms, updated_ms, deadline_ms, "
      "labels) VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?6, ?7, ?8)");
  while (scores.step()) {
    const std::int64_t customer = scores.column_int64(0);
    const std::string band = scores.column_text(1);
    const double score = scores.column_double(4);
    nlohmann::json labels = nlohmann::json::object();
    const std::pair<const char*, std::string> label_values[] = {{"tier", scores.column_text(3)},
                                                                {"abc_class", scores.column_text(5)},
                                                                {"stage", scores.column_text(6)},
                                                                {"industry", scores.column_text(7)}};
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
    for (const std::string& reason : split_reason_codes(scores.column_text(2))) {
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
        insert.bind(1, customer)
            .bind(2, reason)
            .bind(3, condition.level)
            .bind(4, condition.title)
            .bind(5, condition.detail)
            .bind(6, now)
            .bind(7, now + response_ms(condition.level))
            .bind(8, condition.labels.dump())
            .run();
        const std::int64_t id = db.last_insert_rowid();
        notify(id, customer, reason, condition, "opened");
        ++counts.opened;
        ++counts.opened_by_level[condition.level];
        continue;
      }
      const Active& alert = found->second;
      if (reason == "band" && band_rank(condition.level) > band_rank(alert.level)) {
        update.bind(1, now)
            .bind(2, condition.level)
            .bind(3, now + response_ms(condition.level))
            .bind(4, alert.id)
            .run();
        notify(alert.id, customer, reason, condition, "escalated");
        ++counts.updated;
      } else if (reason == "band" && condition.level != alert.level) {
        update.bind(1, now)
            .bind(2, condition.level)
            .bind(3, now + response_ms(condition.level))
            .bind(4, alert.id)
            .run();
        ++counts.updated;
      } else {
        touch.bind(1, now).bind(2, alert.id).run();
        if (now - alert.last_notified_ms >= settings_.repeat_interval_ms) {
          notify(alert.id, customer, reason, condition, "reminder");
          ++counts.renotified;
        }
      }
    }
  }
  Statement resolve_statement = db.prepare(
      "UPDATE alerts SET state = 'resolved', resolved_ms = ?1, resolved_by = 'system', resolution_note = 'condition "
      "ended', updated_ms = ?1 WHERE id = ?2");
  for (const auto& [key, alert] : active) {
    if (current.count(key) != 0) {
      continue;
    }
    resolve_statement.bind(1, now).bind(2, alert.id).run();
    ++counts.resolved;
    if (settings_.notify_resolved) {
      notify(alert.id, key.first, key.second,
             {alert.level, fmt::format("[{}] customer {}: {}", alert.level, key.first, key.second),
              fmt::format("The condition '{}' of customer {} has ended.", key.second, key.first),
              nlohmann::json::parse(alert.labels, nullptr, false)},
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

std::int64_t AlertEngine::raise_system_alert(const std::string& reason, const std::string& level,
                                             const std::string& title, const std::string& detail) {
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(db);
  Statement existing =
      db.prepare("SELECT id FROM alerts WHERE customer_id = 0 AND reason = ?1 AND state != 'resolved'");
  existing.bind(1, reason);
  std::int64_t alert_id = 0;
  if (existing.step()) {
    alert_id = existing.column_int64(0);
    db.prepare("UPDATE alerts SET updated_ms = ?1, detail = ?2 WHERE id = ?3")
        .bind(1, now)
        .bind(2, detail)
        .bind(3, alert_id)
        .run();
  } else {
    db.prepare(
          "INSERT INTO alerts(customer_id, reason, level, state, title, detail, opened_ms, updated_ms, deadline_ms) "
          "VALUES (0, ?1, ?2, 'open', ?3, ?4, ?5, ?5, ?6)")
        .bind(1, reason)
        .bind(2, level)
        .bind(3, title)
        .bind(4, detail)
        .bind(5, now)
        .bind(6, now + response_ms(level))
        .run();
    alert_id = db.last_insert_rowid();
    notify(alert_id, 0, reason, {level, title, detail, nlohmann::json::object()}, "opened");
  }
  transaction.commit();
  return alert_id;
}

std::size_t AlertEngine::escalate() {
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(db);
  struct Due {
    std::int64_t id;
    std::int64_t customer_id;
    std::string reason;
    std::string level;
    std::string title;
    std::string detail;
    std::string labels;
  };
  std::vector<Due> due;
  Statement query = db.prepare(
      "SELECT id, customer_id, reason, level, title, detail, coalesce(labels, '{}') FROM alerts WHERE state = 'open' "
      "AND deadline_ms <= ?1");
  query.bind(1, now);
  while (query.step()) {
    due.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                   query.column_text(4), query.column_text(5), query.column_text(6)});
  }
  for (const Due& alert : due) {
    const std::string level = next_level(alert.level);
    db.prepare(
          "UPDATE alerts SET level = ?1, escalation_level = escalation_level + 1, escalated_ms = ?2, deadline_ms = ?3, "
          "updated_ms = ?2 WHERE id = ?4")
        .bind(1, level)
        .bind(2, now)
        .bind(3, now + response_ms(level))
        .bind(4, alert.id)
        .run();
    notify(alert.id, alert.customer_id, alert.reason,
           {level, alert.title + fmt::format(" (not acknowledged in time; now {})", owner_role(level)), alert.detail,
            nlohmann::json::parse(alert.labels, nullptr, false)},
           "escalated");
  }
  // Reminders to the same people, once each: no first response (acknowledgement)
  // within first_response_ms, and acknowledged but not closed within close_loop_ms.
  struct Reminder {
    std::int64_t id;
    std::int64_t customer_id;
    std::string reason;
    std::string level;
    std::string title;
    std::string labels;
    bool first_response;
  };
  std::vector<Reminder> reminders;
  Statement late = db.prepare(
      "SELECT id, customer_id, reason, level, title, coalesce(labels, '{}'), state = 'open' FROM alerts WHERE "
      "(state = 'open' AND first_response_reminded_ms IS NULL AND opened_ms + ?1 <= ?3) OR (state = 'acknowledged' "
      "AND close_loop_reminded_ms IS NULL AND acked_ms + ?2 <= ?3)");
  late.bind(1, settings_.first_response_ms).bind(2, settings_.close_loop_ms).bind(3, now);
  while (late.step()) {
    reminders.push_back({late.column_int64(0), late.column_int64(1), late.column_text(2), late.column_text(3),
                         late.column_text(4), late.column_text(5), late.column_int64(6) != 0});
  }
  for (const Reminder& alert : reminders) {
    db.prepare(alert.first_response ? "UPDATE alerts SET first_response_reminded_ms = ?1 WHERE id = ?2"
                                    : "UPDATE alerts SET close_loop_reminded_ms = ?1 WHERE id = ?2")
        .bind(1, now)
        .bind(2, alert.id)
        .run();
    const std::string why =
        alert.first_response
            ? fmt::format("no first response within {} min", settings_.first_response_ms / kMinuteMs)
            : fmt::format("acknowledged but not closed within {} h", settings_.close_loop_ms / kHourMs);
    notify(alert.id, alert.customer_id, alert.reason,
           {alert.level, alert.title + " (" + why + ")", "Alert " + std::to_string(alert.id) + ": " + why + ".",
            nlohmann::json::parse(alert.labels, nullptr, false)},
           "reminder");
  }
  transaction.commit();
  return due.size();
}

DeliveryCounts& DeliveryCounts::operator+=(const DeliveryCounts& other) {
  delivered += other.delivered;
  partial += other.partial;
  retried += other.retried;
  dead += other.dead;
  held += other.held;
  paced += other.paced;
  messages += other.messages;
  digested += other.digested;
  for (const auto& [channel, count] : other.dead_by_channel) {
    dead_by_channel[channel] += count;
  }
  return *this;
}

DeliveryCounts AlertEngine::deliver() {
  DeliveryCounts counts = deliver_due();
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
  counts += deliver_due();
  return counts;
}

DeliveryCounts AlertEngine::deliver_due() {
  DeliveryCounts counts;
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  std::vector<OutboxItem> due;
  {
    Statement query = db.prepare(
        "SELECT id, coalesce(alert_id, 0), channel_id, idempotency_key, notification, attempts, coalesce(group_key, "
        "''), coalesce(digest_key, '') FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY id");
    query.bind(1, now);
    while (query.step()) {
      due.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                     nlohmann::json::parse(query.column_text(4)), static_cast<int>(query.column_int64(5)),
                     query.column_text(6), query.column_text(7)});
    }
  }
  if (due.empty()) {
    return counts;
  }
  const std::vector<const OutboxItem*> ready = hold_back(due, counts);
  std::map<std::string, std::vector<const OutboxItem*>> by_channel;
  for (const OutboxItem* item : ready) {
    by_channel[item->channel_id].push_back(item);
  }
  for (const auto& [channel_id, items] : by_channel) {
    deliver_channel(channel_id, items, counts);
  }
  return counts;
}

// Quiet hours and recipient caps: what they hold waits (never dropped) and
// comes back when they allow. Notifications already in a digest are not
// held one by one (the digest goes out whole).
std::vector<const OutboxItem*> AlertEngine::hold_back(const std::vector<OutboxItem>& due, DeliveryCounts& counts) {
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  const RecipientCap& cap = settings_.recipient_cap;
  // recipient -> message key -> when sent, over the last hour
  std::map<std::string, std::map<std::string, std::int64_t>> recent_by_recipient;
  if (cap.per_hour > 0) {
    Statement recent = db.prepare(
        "SELECT r.value, coalesce(o.digest_key, o.idempotency_key), o.sent_ms FROM outbox o, "
        "json_each(o.notification, '$.recipients') r WHERE o.state = 'sent' AND o.sent_ms > ?1");
    recent.bind(1, now - kHourMs);
    while (recent.step()) {
      recent_by_recipient[recent.column_text(0)][recent.column_text(1)] = recent.column_int64(2);
    }
  }
  Statement hold = db.prepare(
      "UPDATE outbox SET next_attempt_ms = ?1, last_error = ?2, group_key = coalesce(group_key, ?3) WHERE id = ?4");
  std::vector<const OutboxItem*> ready;
  Transaction transaction(db);
  for (const OutboxItem& item : due) {
    if (!item.digest_key.empty()) {
      ready.push_back(&item);
      continue;
    }
    const std::string level = item.notification.value("level", "");
    if (const auto until = quiet_until(settings_.quiet_hours, now);
        until && !settings_.quiet_hours.levels.empty() && matches(settings_.quiet_hours.levels, level)) {
      hold.bind(1, *until).bind(2, std::string_view("held: quiet hours")).bind_null(3).bind(4, item.id).run();
      ++counts.held;
      continue;
    }
    if (cap.per_hour > 0 && !(matches(cap.exempt_levels, level) && !cap.exempt_levels.empty())) {
      const auto recipients = item.notification.value("recipients", std::vector<std::string>{});
      std::int64_t release_ms = 0;
      for (const std::string& recipient : recipients) {
        const auto& sent = recent_by_recipient[recipient];
        if (static_cast<int>(sent.size()) >= cap.per_hour) {
          std::int64_t oldest = now;
          for (const auto& [key, sent_ms] : sent) {
            oldest = std::min(oldest, sent_ms);
          }
          release_ms = std::max(release_ms, oldest + kHourMs);
        }
      }
      if (release_ms > 0) {
        // Held ones share a group so that they leave together, as one digest.
        hold.bind(1, release_ms)
            .bind(2, std::string_view("held: recipient cap per hour"))
            .bind(3, "cap:" + nlohmann::json{item.channel_id, recipients}.dump())
            .bind(4, item.id)
            .run();
        ++counts.held;
        continue;
      }
      for (const std::string& recipient : recipients) {
        // Counted as sent by this pass; a group leaves as one digest, so it counts once.
        recent_by_recipient[recipient][item.group_key.empty() ? item.key : item.group_key] = now;
      }
    }
    ready.push_back(&item);
  }
  transaction.commit();
  return ready;
}

void AlertEngine::deliver_channel(const std::string& channel_id, const std::vector<const OutboxItem*>& items,
                                  DeliveryCounts& counts) {
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  LoadedPlugin* channel = plugins_.find(channel_id);
  const auto stopped = channel == nullptr ? std::nullopt : channel->stopped_reason();
  if (channel == nullptr || channel->channel_api() == nullptr || stopped) {
    DeliveryResult missing;
    missing.error = fmt::format("channel '{}' is not loaded", channel_id);
    if (stopped) {
      // A channel that returned FATAL gets nothing more in this process (crm/abi.h).
      missing.outcome = DeliveryOutcome::permanent;
      missing.channel_out_of_use = true;
      missing.error = fmt::format("channel '{}' is out of use until the host restarts, after a fatal error: {}",
                                  channel_id, *stopped);
    }
    Transaction transaction(db);
    for (const OutboxItem* item : items) {
      record_result({item->key, {item}}, missing, counts);
    }
    transaction.commit();
    return;
  }
  const std::uint32_t per_minute = channel->channel_api()->messages_per_minute;
  const std::size_t max_bytes = channel->channel_api()->max_message_bytes;

  // Digests formed before (and not yet sent) go out as they were: same members, same key.
  std::vector<Batch> batches;
  std::map<std::string, std::size_t> formed;
  std::map<std::string, std::vector<const OutboxItem*>> groups;
  std::vector<const OutboxItem*> singles;
  for (const OutboxItem* item : items) {
    if (!item->digest_key.empty()) {
      const auto [found, inserted] = formed.try_emplace(item->digest_key, batches.size());
      if (inserted) {
        batches.push_back({item->digest_key, {}});
      }
      batches[found->second].items.push_back(item);
    } else if (!item->group_key.empty()) {
      groups[item->group_key].push_back(item);
    } else {
      singles.push_back(item);
    }
  }
  std::vector<Batch> fresh;
  for (const auto& [group_key, members] : groups) {
    pack_digests(channel_id, members, max_bytes, fresh);
  }
  std::int64_t sent_in_window = 0;
  std::int64_t window_start_ms = now;
  if (per_minute > 0) {
    Statement recent = db.prepare(
        "SELECT count(DISTINCT coalesce(digest_key, idempotency_key)), min(sent_ms) FROM outbox WHERE channel_id = ?1 "
        "AND state = 'sent' AND sent_ms > ?2");
    recent.bind(1, channel_id).bind(2, now - kMinuteMs);
    recent.step();
    sent_in_window = recent.column_int64(0);
    window_start_ms = recent.column_is_null(1) ? now : recent.column_int64(1);
  }
  const auto budget = per_minute > 0 ? std::max<std::int64_t>(0, per_minute - sent_in_window)
                                     : std::numeric_limits<std::int64_t>::max();
  if (static_cast<std::int64_t>(batches.size() + fresh.size() + singles.size()) > budget) {
    // More than the channel may carry this minute: merge what goes to the same recipients.
    std::map<std::string, std::vector<const OutboxItem*>> by_recipients;
    for (const OutboxItem* item : singles) {
      by_recipients[item->notification.value("recipients", nlohmann::json::array()).dump()].push_back(item);
    }
    for (const auto& [recipients, members] : by_recipients) {
      pack_digests(channel_id, members, max_bytes, fresh);
    }
  } else {
    for (const OutboxItem* item : singles) {
      fresh.push_back({item->key, {item}});
    }
  }
  {
    // The digest's membership is stored before it is sent, so a crash repeats the same message.
    Transaction transaction(db);
    Statement assign = db.prepare("UPDATE outbox SET digest_key = ?1 WHERE id = ?2");
    for (const Batch& batch : fresh) {
      if (batch.items.size() > 1) {
        for (const OutboxItem* item : batch.items) {
          assign.bind(1, batch.key).bind(2, item->id).run();
        }
      }
    }
    transaction.commit();
  }
  batches.insert(batches.end(), std::make_move_iterator(fresh.begin()), std::make_move_iterator(fresh.end()));
  std::sort(batches.begin(), batches.end(),
            [](const Batch& a, const Batch& b) { return a.items.front()->id < b.items.front()->id; });

  if (per_minute == 0 && settings_.max_in_flight > 1 && batches.size() > 1 &&
      channel->has_capability(CRM_CAP_THREAD_SAFE)) {
    send_concurrently(*channel, batches, max_bytes, counts);
    return;
  }
  Statement pace = db.prepare("UPDATE outbox SET next_attempt_ms = ?1, last_error = ?2 WHERE id = ?3");
  for (std::size_t b = 0; b < batches.size(); ++b) {
    if (per_minute > 0 && sent_in_window >= per_minute) {
      // Wait for the minute window rather than drop.
      Transaction transaction(db);
      for (std::size_t rest = b; rest < batches.size(); ++rest) {
        for (const OutboxItem* item : batches[rest].items) {
          pace.bind(1, window_start_ms + kMinuteMs)
              .bind(2, std::string_view("paced: channel limit per minute reached"))
              .bind(3, item->id)
              .run();
          ++counts.paced;
        }
      }
      transaction.commit();
      break;
    }
    const DeliveryResult result = send_notification(*channel, render(batches[b], max_bytes));
    Transaction transaction(db);
    record_result(batches[b], result, counts);
    transaction.commit();
    if (result.outcome == DeliveryOutcome::delivered || result.outcome == DeliveryOutcome::partial) {
      ++sent_in_window;
    }
  }
}

// A thread-safe channel gets max_in_flight sends at once; the store is only
// touched from this thread, one transaction per chunk of results. A crash
// repeats at most the chunk in flight, under the same idempotency keys.
void AlertEngine::send_concurrently(LoadedPlugin& channel, const std::vector<Batch>& batches, std::size_t max_bytes,
                                    DeliveryCounts& counts) {
  constexpr std::size_t kChunk = 256;
  for (std::size_t begin = 0; begin < batches.size(); begin += kChunk) {
    const std::size_t end = std::min(batches.size(), begin + kChunk);
    std::vector<Notification> rendered;
    rendered.reserve(end - begin);
    for (std::size_t b = begin; b < end; ++b) {
      rendered.push_back(render(batches[b], max_bytes));
    }
    std::vector<DeliveryResult> results(rendered.size());
    std::atomic<std::size_t> next{0};
    const auto worker = [&] {
      for (std::size_t i = next++; i < rendered.size(); i = next++) {
        results[i] = send_notification(channel, rendered[i]);
      }
    };
    const auto helpers = std::min<std::size_t>(static_cast<std::size_t>(settings_.max_in_flight), rendered.size()) - 1;
    std::vector<std::thread> threads;
    threads.reserve(helpers);
    for (std::size_t t = 0; t < helpers; ++t) {
      threads.emplace_back(worker);
    }
    worker();
    for (std::thread& thread : threads) {
      thread.join();
    }
    Transaction transaction(store_.database());
    for (std::size_t i = 0; i < results.size(); ++i) {
      record_result(batches[begin + i], results[i], counts);
    }
    transaction.commit();
  }
}

void AlertEngine::pack_digests(const std::string& channel_id, const std::vector<const OutboxItem*>& members,
                               std::size_t max_bytes, std::vector<Batch>& out) const {
  const std::size_t header_bytes = std::min<std::size_t>(kDigestHeaderBytes, max_bytes / 4);
  std::vector<const OutboxItem*> current;
  std::size_t current_bytes = 0;
  const auto flush = [&] {
    if (current.empty()) {
      return;
    }
    const std::string key =
        current.size() == 1 ? current.front()->key : fmt::format("crm-digest-{}-{}", current.front()->id, channel_id);
    out.push_back({key, current});
    current.clear();
    current_bytes = 0;
  };
  for (const OutboxItem* item : members) {
    const std::size_t line_bytes = digest_line(*item).size();
    if (max_bytes > 0 && !current.empty() && header_bytes + current_bytes + line_bytes > max_bytes) {
      flush();
    }
    current.push_back(item);
    current_bytes += line_bytes;
  }
  flush();
}

Notification AlertEngine::render(const Batch& batch, std::size_t max_bytes) const {
  Notification notification;
  notification.idempotency_key = batch.key;
  if (batch.items.size() == 1) {
    const OutboxItem& item = *batch.items.front();
    const nlohmann::json& stored = item.notification;
    notification.severity = stored.value("severity", CRM_SEVERITY_WARNING);
    notification.title = stored.value("title", "");
    notification.text = truncate_utf8(stored.value("text", ""), max_bytes, kTruncatedMarker);
    notification.markdown =
        truncate_utf8("**" + notification.title + "**\n\n" + stored.value("text", ""), max_bytes, kTruncatedMarker);
    notification.recipients = stored.value("recipients", std::vector<std::string>{});
    notification.created_ms = stored.value("created_ms", std::int64_t{0});
    notification.event = stored.value("event", "opened");
    nlohmann::json labels = {{"customer_id", std::to_string(stored.value("customer_id", std::int64_t{0}))},
                             {"reason", stored.value("reason", "")},
                             {"level", stored.value("level", "")},
                             {"alert_id", std::to_string(item.alert_id)}};
    for (const char* name : {"tier", "abc_class", "stage", "industry", "account_manager"}) {
      if (stored.contains(name) && stored[name].is_string()) {
        labels[name] = stored[name];
      }
    }
    notification.labels_json = labels.dump();
    return notification;
  }
  std::map<std::string, int> by_level;
  std::string lines;
  std::string alert_ids;
  notification.severity = CRM_SEVERITY_INFO;
  notification.created_ms = std::numeric_limits<std::int64_t>::max();
  for (const OutboxItem* item : batch.items) {
    ++by_level[item->notification.value("level", "")];
    lines += digest_line(*item);
    alert_ids += (alert_ids.empty() ? "" : ",") + std::to_string(item->alert_id);
    notification.severity = std::max(notification.severity, item->notification.value("severity", CRM_SEVERITY_INFO));
    notification.created_ms =
        std::min(notification.created_ms, item->notification.value("created_ms", std::int64_t{0}));
  }
  std::string summary;
  for (const auto& [level, count] : by_level) {
    summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", count, level);
  }
  notification.title = fmt::format("{} CRM alerts ({})", batch.items.size(), summary);
  notification.text = truncate_utf8(lines, max_bytes, kTruncatedMarker);
  notification.markdown = truncate_utf8("**" + notification.title + "**\n\n" + lines, max_bytes, kTruncatedMarker);
  notification.recipients = batch.items.front()->notification.value("recipients", std::vector<std::string>{});
  notification.event = "digest";
  notification.labels_json = nlohmann::json{
      {"digest", "true"},
      {"count", std::to_string(batch.items.size())},
      {"alert_ids", alert_ids}}.dump();
  return notification;
}

void AlertEngine::record_result(const Batch& batch, const DeliveryResult& result, DeliveryCounts& counts) {
  Database& db = store_.database();
  if (result.stopped_channel) {
    logger_.log(LogLevel::error, "alerts",
                fmt::format("{}; what it was to send is marked dead (`crmhost alerts resend` after a fix)",
                            logger_.redact(result.error)));
  }
  const std::int64_t now = clock_.now_ms();
  int attempts = 0;
  for (const OutboxItem* item : batch.items) {
    attempts = std::max(attempts, item->attempts + 1);
  }
  if (result.outcome == DeliveryOutcome::delivered || result.outcome == DeliveryOutcome::partial) {
    const std::string note = result.failed_recipients.empty()
                                 ? std::string()
                                 : fmt::format("partial: refused {}", nlohmann::json(result.failed_recipients).dump());
    Statement sent =
        db.prepare("UPDATE outbox SET state = 'sent', sent_ms = ?1, attempts = ?2, last_error = ?3 WHERE id = ?4");
    for (const OutboxItem* item : batch.items) {
      sent.bind(1, now).bind(2, static_cast<std::int64_t>(attempts)).bind(3, note).bind(4, item->id).run();
    }
    (result.outcome == DeliveryOutcome::delivered ? counts.delivered : counts.partial) += batch.items.size();
    ++counts.messages;
    if (batch.items.size() > 1) {
      counts.digested += batch.items.size();
    }
    return;
  }
  const std::string error = logger_.redact(result.error);
  const bool dead = result.outcome == DeliveryOutcome::permanent || attempts >= settings_.max_attempts;
  const double exponential = static_cast<double>(settings_.initial_backoff_ms) * std::pow(2.0, attempts - 1);
  const auto capped = static_cast<std::int64_t>(std::min(exponential, static_cast<double>(settings_.max_backoff_ms)));
  const std::int64_t wait =
      std::max(result.retry_after_ms,
               capped / 2 + static_cast<std::int64_t>(jitter_() % static_cast<std::uint64_t>(capped / 2 + 1)));
  Statement retry =
      db.prepare("UPDATE outbox SET attempts = ?1, next_attempt_ms = ?2, last_error = ?3, state = ?4 WHERE id = ?5");
  for (const OutboxItem* item : batch.items) {
    retry.bind(1, static_cast<std::int64_t>(attempts))
        .bind(2, now + wait)
        .bind(3, error)
        .bind(4, std::string_view(dead ? "dead" : "pending"))
        .bind(5, item->id)
        .run();
  }
  if (dead) {
    counts.dead += batch.items.size();
    counts.dead_by_channel[batch.items.front()->channel_id] += batch.items.size();
  }
  if (dead && !result.channel_out_of_use && !result.stopped_channel) {
    logger_.log(LogLevel::warn, "alerts",
                fmt::format("notification {} to '{}' is dead after {} attempt(s): {}", batch.key,
                            batch.items.front()->channel_id, attempts, error));
  } else if (!dead) {
    counts.retried += batch.items.size();
  }
}

bool AlertEngine::acknowledge(std::int64_t alert_id, const std::string& by) {
  Statement update = store_.database().prepare(
      "UPDATE alerts SET state = 'acknowledged', acked_by = ?1, acked_ms = ?2, updated_ms = ?2 WHERE id = ?3 AND "
      "state = 'open'");
  update.bind(1, by).bind(2, clock_.now_ms()).bind(3, alert_id).run();
  return store_.database().changes() > 0;
}

bool AlertEngine::resolve(std::int64_t alert_id, const std::string& by, const std::string& note) {
  Statement update = store_.database().prepare(
      "UPDATE alerts SET state = 'resolved', resolved_by = ?1, resolved_ms = ?2, resolution_note = ?3, updated_ms = "
      "?2 WHERE id = ?4 AND state != 'resolved'");
  update.bind(1, by).bind(2, clock_.now_ms()).bind(3, note).bind(4, alert_id).run();
  return store_.database().changes() > 0;
}

bool AlertEngine::resend(std::int64_t outbox_id) {
  Statement update = store_.database().prepare(
      "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = ?1 WHERE id = ?2 AND state = 'dead'");
  update.bind(1, clock_.now_ms()).bind(2, outbox_id).run();
  return store_.database().changes() > 0;
}

std::vector<AlertRow> AlertEngine::list(const std::string& state_filter) {
  std::vector<AlertRow> rows;
  Statement query = store_.database().prepare(
      "SELECT id, customer_id, reason, level, state, coalesce(title, ''), opened_ms, coalesce(deadline_ms, 0), "
      "escalation_level, coalesce(acked_by, ''), coalesce(acked_ms, 0), coalesce(resolved_by, ''), "
      "coalesce(resolution_note, '') FROM alerts WHERE ?1 = '' OR state = ?1 ORDER BY id");
  query.bind(1, state_filter);
  while (query.step()) {
    rows.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                    query.column_text(4), query.column_text(5), query.column_int64(6), query.column_int64(7),
                    static_cast<int>(query.column_int64(8)), query.column_text(9), query.column_int64(10),
                    query.column_text(11), query.column_text(12)});
  }
  return rows;
}

std::vector<OutboxRow> AlertEngine::outbox(const std::string& state_filter) {
  std::vector<OutboxRow> rows;
  Statement query = store_.database().prepare(
      "SELECT id, coalesce(alert_id, 0), channel_id, state, attempts, coalesce(last_error, ''), notification FROM "
      "outbox WHERE ?1 = '' OR state = ?1 ORDER BY id");
  query.bind(1, state_filter);
  while (query.step()) {
    rows.push_back({query.column_int64(0), query.column_int64(1), query.column_text(2), query.column_text(3),
                    static_cast<int>(query.column_int64(4)), query.column_text(5),
                    nlohmann::json::parse(query.column_text(6)).value("title", "")});
  }
  return rows;
}

std::optional<double> AlertEngine::median_time_to_acknowledge_ms() {
  std::vector<double> times;
  Statement query =
      store_.database().prepare("SELECT acked_ms - opened_ms FROM alerts WHERE acked_ms IS NOT NULL ORDER BY 1");
  while (query.step()) {
    times.push_back(query.column_double(0));
  }
  if (times.empty()) {
    return std::nullopt;
  }
  return times.size() % 2 == 1 ? times[times.size() / 2]
                               : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2.0;
}

}  // namespace crm::host
