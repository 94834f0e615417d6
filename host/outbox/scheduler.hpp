#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "outbox/outbox_types.hpp"

namespace crm::host {

// Hours in which notifications of some levels are held (not dropped) and
// released when the window ends, in the recipients' local time.
struct QuietHours {
  int start_minute = -1;  // minutes after local midnight; -1: no quiet hours
  int end_minute = -1;
  int utc_offset_minutes = 0;
  std::vector<std::string> levels = {"yellow", "signal"};  // red and orange go through
};

// At most per_hour notifications reach one recipient in any hour; more wait
// (held, never dropped) and go out together as a digest when the hour allows.
struct RecipientCap {
  int per_hour = 0;  // 0: no cap
  std::vector<std::string> exempt_levels = {"red"};
};

// When the quiet window around `now_ms` ends, or nullopt when `now_ms` is outside it.
std::optional<std::int64_t> quiet_until(const QuietHours& quiet, std::int64_t now_ms);

// {"start": "22:00", "end": "07:00", "utc_offset_minutes": 480, "levels": [...]}, validated by kQuietHoursSchema.
QuietHours parse_quiet_hours(const nlohmann::json& section, std::vector<std::string> default_levels);
extern const char* const kQuietHoursSchema;

// Why and until when the scheduler holds a notification back.
struct Hold {
  std::int64_t until_ms = 0;
  std::string why;        // "held: quiet hours", "held: recipient cap per hour", "held: recipient limit ..."
  std::string group_key;  // "" or the group the held notification joins, to leave as one digest
};

// Decides, one due notification at a time in queue order, which go out now
// and which wait for quiet hours to end or a recipient's hourly cap to allow.
// Pure: the caller tells it what was sent in the last hour.
class DeliveryScheduler {
 public:
  DeliveryScheduler(QuietHours quiet, RecipientCap cap, std::int64_t now_ms);

  // Whether sends before now count: only with a recipient cap.
  [[nodiscard]] bool needs_recent_sends() const { return cap_.per_hour > 0; }
  // A message sent within the last hour to `recipients` (a digest's members share its key).
  void remember_sent(const std::vector<std::string>& recipients, const std::string& message_key, std::int64_t sent_ms);
  // nullopt: send it now (and it counts against its recipients' caps from now on).
  // Notifications already in a digest are never held one by one: the digest goes out whole.
  std::optional<Hold> admit(const OutboxItem& item);

 private:
  QuietHours quiet_;
  RecipientCap cap_;
  std::int64_t now_ms_;
  std::optional<std::int64_t> quiet_until_ms_;
  // recipient -> message key -> when sent, over the last hour
  std::map<std::string, std::map<std::string, std::int64_t>> recent_by_recipient_;
};

// A channel's per-recipient limits (crm_channel_api since ABI 1.3): at most
// per_minute messages to one recipient in any 60 seconds and per_hour in any
// hour through that channel. 0: no limit.
struct RecipientPacing {
  std::uint32_t per_minute = 0;
  std::uint32_t per_hour = 0;

  [[nodiscard]] bool limited() const { return per_minute > 0 || per_hour > 0; }
};

// Counts the messages one channel carried to each recipient over the last
// minute and hour (recipients compared case-insensitively, ASCII: services
// that limit per member know ids that way), and says when a message to some
// recipients must wait for a window. A message past the limits is held,
// never dropped, at every level: the service would drop even a red alert.
// Pure: the caller tells it what was sent in the last hour.
class RecipientPacer {
 public:
  RecipientPacer(std::string channel_id, RecipientPacing pacing, std::int64_t now_ms);

  [[nodiscard]] bool limited() const { return pacing_.limited(); }
  // A message sent to `recipients` (a digest's members share its key, so it counts once).
  void remember_sent(const std::vector<std::string>& recipients, const std::string& message_key, std::int64_t sent_ms);
  // nullopt: a message to `recipients` may go now. Otherwise when it may, and
  // the group its notifications join, so that what waits for the same
  // recipients leaves together as one digest.
  [[nodiscard]] std::optional<Hold> hold(const std::vector<std::string>& recipients) const;

 private:
  std::string channel_id_;
  RecipientPacing pacing_;
  std::int64_t now_ms_;
  // recipient (ASCII lower case) -> message key -> when sent, over the last hour
  std::map<std::string, std::map<std::string, std::int64_t>> recent_by_recipient_;
};

// A channel's per-minute limit over a sliding minute: how many messages it
// may still carry, and when the window opens again.
class ChannelPacer {
 public:
  // per_minute 0: no limit. `sent_in_window` messages went out since now - 1 min, the first at `window_start_ms`.
  ChannelPacer(std::uint32_t per_minute, std::int64_t sent_in_window, std::int64_t window_start_ms);

  [[nodiscard]] bool limited() const { return per_minute_ > 0; }
  // Messages it may still carry in this window (the maximum when unlimited).
  [[nodiscard]] std::int64_t budget() const;
  [[nodiscard]] bool window_full() const { return per_minute_ > 0 && sent_in_window_ >= per_minute_; }
  // When what waits for the window may go.
  [[nodiscard]] std::int64_t next_window_ms() const;
  void count_send() { ++sent_in_window_; }

 private:
  std::int64_t per_minute_;
  std::int64_t sent_in_window_;
  std::int64_t window_start_ms_;
};

}  // namespace crm::host
