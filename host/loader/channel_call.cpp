#include "loader/channel_call.hpp"

#include <fmt/format.h>

#include "loader/plugin_call_guard.hpp"

namespace crm::host {

const char* outcome_name(DeliveryOutcome outcome) {
  switch (outcome) {
    case DeliveryOutcome::delivered:
      return "delivered";
    case DeliveryOutcome::partial:
      return "partial";
    case DeliveryOutcome::retriable:
      return "retriable";
    case DeliveryOutcome::permanent:
      return "permanent";
  }
  return "unknown";
}

DeliveryResult send_notification(LoadedPlugin& channel, const Notification& notification) {
  DeliveryResult result;
  const crm_channel_api* api = channel.channel_api();
  if (api == nullptr) {
    result.outcome = DeliveryOutcome::permanent;
    result.error = fmt::format("plugin '{}' is not a channel", channel.id());
    return result;
  }
  if (const auto stopped = channel.stopped_reason()) {
    result.outcome = DeliveryOutcome::permanent;
    result.channel_out_of_use = true;
    result.error = fmt::format("channel '{}' is out of use until the host restarts, after a fatal error: {}",
                               channel.id(), *stopped);
    return result;
  }
  std::vector<crm_str> recipients;
  recipients.reserve(notification.recipients.size());
  for (const std::string& recipient : notification.recipients) {
    recipients.push_back(to_crm_str(recipient));
  }
  std::vector<crm_link> links;
  links.reserve(notification.links.size());
  for (const auto& [label, url] : notification.links) {
    links.push_back({to_crm_str(label), to_crm_str(url)});
  }
  const crm_channel_message message = {sizeof(crm_channel_message),
                                       notification.severity,
                                       to_crm_str(notification.idempotency_key),
                                       to_crm_str(notification.title),
                                       to_crm_str(notification.text),
                                       to_crm_str(notification.markdown),
                                       recipients.data(),
                                       recipients.size(),
                                       links.data(),
                                       links.size(),
                                       notification.created_ms,
                                       to_crm_str(notification.event),
                                       to_crm_str(notification.labels_json)};
  std::vector<std::uint8_t> failed(recipients.size(), 0);
  crm_channel_result out = {sizeof(crm_channel_result), failed.empty() ? nullptr : failed.data(), 0};
  ErrorBuffer error;
  crm_status status = CRM_STATUS_FATAL;
  {
    const auto lock = channel.call_lock();
    const PluginCallScope in_plugin(channel.id(), "send", channel.watchdog_ms(channel.deadlines().send_ms));
    try {
      status = api->send(channel.instance(), channel.host_table(), &message, &out, error.get());
    } catch (...) {
      status = CRM_STATUS_FATAL;
    }
  }
  switch (status) {
    case CRM_STATUS_OK:
      for (std::size_t i = 0; i < failed.size(); ++i) {
        if (failed[i] != 0) {
          result.failed_recipients.push_back(notification.recipients[i]);
        }
      }
      result.outcome = result.failed_recipients.empty() ? DeliveryOutcome::delivered : DeliveryOutcome::partial;
      return result;
    case CRM_STATUS_FATAL:
      result.outcome = DeliveryOutcome::permanent;
      result.stopped_channel = channel.stop_after_fatal(error.message());
      result.error = fmt::format("fatal error: {}; the host stops using channel '{}' until it restarts",
                                 error.message(), channel.id());
      return result;
    case CRM_STATUS_RETRIABLE:
    case CRM_STATUS_CANCELLED:
      result.outcome = DeliveryOutcome::retriable;
      result.retry_after_ms = out.retry_after_ms > 0 ? out.retry_after_ms : 0;
      break;
    default:
      result.outcome = DeliveryOutcome::permanent;
      // A message nobody could receive (every recipient refused) says who.
      for (std::size_t i = 0; i < failed.size(); ++i) {
        if (failed[i] != 0) {
          result.failed_recipients.push_back(notification.recipients[i]);
        }
      }
      break;
  }
  result.error = fmt::format("{} error: {}", status_name(status), error.message());
  return result;
}

}  // namespace crm::host
