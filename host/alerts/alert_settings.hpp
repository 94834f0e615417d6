#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/time_zone.hpp"
#include "outbox/scheduler.hpp"
#include "scoring/known_labels.hpp"

namespace crm::host {

// Where a kind of alert goes: the first route whose match fits (empty match
// fields match anything) sends to its channel, and so do later ones while the
// matching routes say continue_matching; recipients are addresses or
// roles ("@csm", "@owner") resolved through AlertSettings::roles;
// "@owner" is the owner role of the alert's level, "@account_manager" the
// customer's own account manager (the owner of its key contact).
// (Every member has a default so that a route can be written naming only the
// fields it sets: {.levels = {"red"}, .channel = "alert_email"}.)
struct AlertRoute {
  std::vector<std::string> levels{};  // yellow, orange, red, signal; empty: all of them, signal included
  // band, a scorer reason code, sync_failed, delivery_dead, mass_churn (a kind
  // matches each of its alerts: sync_failed matches sync_failed:erp_csv)
  std::vector<std::string> reasons{};
  std::vector<std::string> tiers{};
  std::string channel{};
  std::vector<std::string> recipients{};
  // With a window, notifications of the route wait up to it and go out as one
  // digest per group: same channel and recipients, and the same values of
  // these labels (level, reason, tier, customer_id, event).
  std::int64_t digest_window_ms = 0;
  std::vector<std::string> group_by{};
  // Segment and owner matches: label -> allowed values, over the labels
  // "abc_class", "stage", "industry" and "account_manager" (the owner of the
  // customer's key contact in the store).
  std::map<std::string, std::vector<std::string>> label_matches{};
  // Also try the routes after this one (as Alertmanager's `continue`): one
  // alert can go to the console and to e-mail.
  bool continue_matching = false;
  // How the route's notifications read: "en" or "zh-CN", and the clock their
  // deadline is shown on (an IANA zone, or a fixed offset from UTC); unset:
  // the alerts section's. A recipient's own settings come first.
  std::optional<std::string> language{};
  std::shared_ptr<const TimeZone> time_zone{};
  std::optional<int> utc_offset_minutes{};
};

// How notifications read for one recipient address ("alerts.recipient_settings"),
// whatever the route: the person's language and the zone of their clock.
struct RecipientSettings {
  std::optional<std::string> language;
  std::shared_ptr<const TimeZone> time_zone;  // null: the route's or the section's
};

// The "alerts" section of the host configuration; every number a default.
// (QuietHours and RecipientCap are the outbox scheduler's: outbox/scheduler.hpp.)
struct AlertSettings {
  std::vector<AlertRoute> routes;  // empty: every loaded channel, the level owner's role as recipient
  std::map<std::string, std::vector<std::string>> roles;  // "csm" -> addresses
  std::int64_t repeat_interval_ms = 24LL * 3'600'000;     // re-notify a lasting alert after this
  std::int64_t signal_response_ms = 24LL * 3'600'000;     // deadline of rule-signal alerts
  // domain.md section 5: a first response within 15 minutes, the loop closed within 24 hours.
  // Missing either sends the alert's people one reminder; the level's deadline still escalates.
  std::int64_t first_response_ms = 15LL * 60'000;
  std::int64_t close_loop_ms = 24LL * 3'600'000;
  // Failed sends are retried as RetryPolicy says (core/retry_policy.hpp).
  int max_attempts = 8;  // then the notification is dead
  std::int64_t initial_backoff_ms = 30'000;
  std::int64_t max_backoff_ms = 3'600'000;
  bool notify_resolved = true;
  // Sends in flight at once to a channel that declares itself thread-safe and
  // has no per-minute limit; results are marked in the outbox per chunk.
  int max_in_flight = 8;
  QuietHours quiet_hours;
  RecipientCap recipient_cap;
  // Scorer reason codes that raise an alert of their own: the rule signals of
  // domain.md section 3. Others (an RFM quintile, say) stay explanations.
  std::vector<std::string> signal_reasons = default_signal_reasons();
  // What a notification says (alerts/alert_message.hpp). The web app's
  // address (the configuration's top-level "public_url"; "" : no links).
  std::string public_url;
  std::string language = "en";  // "en" or "zh-CN"
  // Deadlines are shown on this zone's clock (daylight saving time included)
  // or, without a zone, on the clock of UTC plus the offset (480: China Standard Time).
  std::shared_ptr<const TimeZone> time_zone;
  int utc_offset_minutes = 0;
  // Per recipient address, matched case-insensitively (stored lower-cased).
  std::map<std::string, RecipientSettings> recipient_settings;
  // The first action a level calls for, replacing the defaults of domain.md
  // section 5 in every language: level -> text.
  std::map<std::string, std::string> first_actions;
  int max_reasons = 3;  // top reasons a notification names
};

// `section` has passed kAlertSettingsSchema. Zones are read from
// `zoneinfo_dir`; a name that is not a zone throws ConfigError naming where it is.
AlertSettings parse_alert_settings(const nlohmann::json& section,
                                   const std::filesystem::path& zoneinfo_dir = "/usr/share/zoneinfo");
extern const char* const kAlertSettingsSchema;

}  // namespace crm::host
