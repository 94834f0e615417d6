#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loader/plugin_host.hpp"

namespace crm::host {

// One rendered notification, as the host keeps it in its outbox.
struct Notification {
  crm_severity severity = CRM_SEVERITY_WARNING;
  std::string idempotency_key;
  std::string title;
  std::string text;
  std::string markdown;
  std::vector<std::string> recipients;
  std::vector<std::pair<std::string, std::string>> links;  // label, url
  std::int64_t created_ms = 0;
  std::string event = "opened";
  std::string labels_json = "{}";
};

enum class DeliveryOutcome { delivered, partial, retriable, permanent };

struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::retriable;
  std::vector<std::string> failed_recipients;  // with partial; with permanent, those the channel marked refused
  std::int64_t retry_after_ms = 0;             // with retriable; 0 = the host's backoff
  std::string error;                           // why, for retriable and permanent
  bool stopped_channel = false;                // this send's FATAL made the host stop using the channel
  bool channel_out_of_use = false;             // not sent: the channel had been stopped before
};

// Sends through a channel plugin. Never throws for what the plugin reports:
// OK is delivered (partial when it refused some recipients), RETRIABLE and
// CANCELLED are retriable, every other status is permanent. FATAL also stops
// the channel for the rest of the process (crm/abi.h): later sends through it
// are permanent failures without a call.
DeliveryResult send_notification(LoadedPlugin& channel, const Notification& notification);

const char* outcome_name(DeliveryOutcome outcome);

}  // namespace crm::host
