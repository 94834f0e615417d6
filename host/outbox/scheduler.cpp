#include "outbox/scheduler.hpp"

#include <algorithm>
#include <limits>

namespace crm::host {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMinuteMs = 60'000;

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

std::string recipient_key(const std::string& recipient) {
  std::string key = recipient;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return key;
}

// When a window of `window_ms` holding `sent` (ms, ascending, all within the
// window before now) has room for one more under `limit`; 0 when it has now.
std::int64_t window_opens_ms(const std::vector<std::int64_t>& sent, std::uint32_t limit, std::int64_t window_ms) {
  if (limit == 0 || sent.size() < limit) {
    return 0;
  }
  // The oldest sends leave first: once sent.size() - limit + 1 of them have left, one more fits.
  return sent[sent.size() - limit] + window_ms;
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

DeliveryScheduler::DeliveryScheduler(QuietHours quiet, RecipientCap cap, std::int64_t now_ms)
    : quiet_(std::move(quiet)), cap_(std::move(cap)), now_ms_(now_ms), quiet_until_ms_(quiet_until(quiet_, now_ms)) {}

void DeliveryScheduler::remember_sent(const std::vector<std::string>& recipients, const std::string& message_key,
                                      std::int64_t sent_ms) {
  for (const std::string& recipient : recipients) {
    recent_by_recipient_[recipient][message_key] = sent_ms;
  }
}

std::optional<Hold> DeliveryScheduler::admit(const OutboxItem& item) {
  if (!item.digest_key.empty()) {
    return std::nullopt;
  }
  const std::string& level = item.envelope.level;
  if (quiet_until_ms_ && contains(quiet_.levels, level)) {
    return Hold{*quiet_until_ms_, "held: quiet hours", ""};
  }
  if (cap_.per_hour <= 0 || contains(cap_.exempt_levels, level)) {
    return std::nullopt;
  }
  const std::vector<std::string>& recipients = item.envelope.recipients;
  std::int64_t release_ms = 0;
  for (const std::string& recipient : recipients) {
    const auto& sent = recent_by_recipient_[recipient];
    if (static_cast<int>(sent.size()) >= cap_.per_hour) {
      std::int64_t oldest_ms = now_ms_;
      for (const auto& [key, sent_ms] : sent) {
        oldest_ms = std::min(oldest_ms, sent_ms);
      }
      release_ms = std::max(release_ms, oldest_ms + kHourMs);
    }
  }
  if (release_ms > 0) {
    // Held ones share a group so that they leave together, as one digest.
    return Hold{release_ms, "held: recipient cap per hour",
                "cap:" + nlohmann::json{item.channel_id, recipients}.dump()};
  }
  // Counted as sent from now; a group leaves as one digest, so it counts once.
  remember_sent(recipients, item.group_key.empty() ? item.key : item.group_key, now_ms_);
  return std::nullopt;
}

RecipientPacer::RecipientPacer(std::string channel_id, RecipientPacing pacing, std::int64_t now_ms)
    : channel_id_(std::move(channel_id)), pacing_(pacing), now_ms_(now_ms) {}

void RecipientPacer::remember_sent(const std::vector<std::string>& recipients, const std::string& message_key,
                                   std::int64_t sent_ms) {
  for (const std::string& recipient : recipients) {
    recent_by_recipient_[recipient_key(recipient)][message_key] = sent_ms;
  }
}

std::optional<Hold> RecipientPacer::hold(const std::vector<std::string>& recipients) const {
  std::int64_t release_ms = 0;
  std::string why;
  for (const std::string& recipient : recipients) {
    const auto found = recent_by_recipient_.find(recipient_key(recipient));
    if (found == recent_by_recipient_.end()) {
      continue;
    }
    std::vector<std::int64_t> last_hour;
    std::vector<std::int64_t> last_minute;
    for (const auto& [key, sent_ms] : found->second) {
      if (sent_ms > now_ms_ - kHourMs) {
        last_hour.push_back(sent_ms);
      }
      if (sent_ms > now_ms_ - kMinuteMs) {
        last_minute.push_back(sent_ms);
      }
    }
    std::sort(last_hour.begin(), last_hour.end());
    std::sort(last_minute.begin(), last_minute.end());
    const std::int64_t minute_opens_ms = window_opens_ms(last_minute, pacing_.per_minute, kMinuteMs);
    const std::int64_t hour_opens_ms = window_opens_ms(last_hour, pacing_.per_hour, kHourMs);
    if (minute_opens_ms > release_ms) {
      release_ms = minute_opens_ms;
      why = "held: recipient limit per minute of the channel";
    }
    if (hour_opens_ms > release_ms) {
      release_ms = hour_opens_ms;
      why = "held: recipient limit per hour of the channel";
    }
  }
  if (release_ms == 0) {
    return std::nullopt;
  }
  return Hold{release_ms, why, "pace:" + nlohmann::json{channel_id_, recipients}.dump()};
}

ChannelPacer::ChannelPacer(std::uint32_t per_minute, std::int64_t sent_in_window, std::int64_t window_start_ms)
    : per_minute_(per_minute), sent_in_window_(sent_in_window), window_start_ms_(window_start_ms) {}

std::int64_t ChannelPacer::budget() const {
  return per_minute_ > 0 ? std::max<std::int64_t>(0, per_minute_ - sent_in_window_)
                         : std::numeric_limits<std::int64_t>::max();
}

std::int64_t ChannelPacer::next_window_ms() const {
  return window_start_ms_ + kMinuteMs;
}

}  // namespace crm::host
