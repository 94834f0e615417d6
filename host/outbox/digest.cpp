#include "outbox/digest.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "crm/plugin.hpp"

namespace crm::host {
namespace {

// Room kept in a digest for its title line; the rest is one line per notification.
constexpr std::size_t kDigestHeaderBytes = 160;
constexpr std::string_view kTruncatedMarker = "\n[...truncated]";

std::string digest_line(const OutboxItem& item) {
  return "- " + item.envelope.title + "\n";
}

}  // namespace

BatchPlan plan_batches(const std::string& channel_id, const std::vector<const OutboxItem*>& items,
                       std::size_t max_bytes, std::int64_t budget) {
  BatchPlan plan;
  std::vector<Batch>& batches = plan.batches;
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
  if (static_cast<std::int64_t>(batches.size() + fresh.size() + singles.size()) > budget) {
    // More than the channel may carry this minute: merge what goes to the same recipients.
    std::map<std::string, std::vector<const OutboxItem*>> by_recipients;
    for (const OutboxItem* item : singles) {
      by_recipients[nlohmann::json(item->envelope.recipients).dump()].push_back(item);
    }
    for (const auto& [recipients, members] : by_recipients) {
      pack_digests(channel_id, members, max_bytes, fresh);
    }
  } else {
    for (const OutboxItem* item : singles) {
      fresh.push_back({item->key, {item}});
    }
  }
  for (const Batch& batch : fresh) {
    if (batch.items.size() > 1) {
      for (const OutboxItem* item : batch.items) {
        plan.new_digest_members.emplace_back(item->id, batch.key);
      }
    }
  }
  batches.insert(batches.end(), std::make_move_iterator(fresh.begin()), std::make_move_iterator(fresh.end()));
  std::sort(batches.begin(), batches.end(),
            [](const Batch& a, const Batch& b) { return a.items.front()->id < b.items.front()->id; });
  return plan;
}

void pack_digests(const std::string& channel_id, const std::vector<const OutboxItem*>& members, std::size_t max_bytes,
                  std::vector<Batch>& out) {
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

Notification render(const Batch& batch, std::size_t max_bytes) {
  Notification notification;
  notification.idempotency_key = batch.key;
  if (batch.items.size() == 1) {
    const OutboxItem& item = *batch.items.front();
    const Envelope& envelope = item.envelope;
    notification.severity = envelope.severity;
    notification.title = envelope.title;
    notification.text = truncate_utf8(envelope.text, max_bytes, kTruncatedMarker);
    notification.markdown = truncate_utf8(
        "**" + notification.title + "**\n\n" + (envelope.markdown.empty() ? envelope.text : envelope.markdown),
        max_bytes, kTruncatedMarker);
    notification.recipients = envelope.recipients;
    notification.links = envelope.links;
    notification.created_ms = envelope.created_ms;
    notification.event = envelope.event;
    nlohmann::json labels = {{"customer_id", std::to_string(envelope.customer_id)},
                             {"reason", envelope.reason},
                             {"level", envelope.level},
                             {"alert_id", std::to_string(item.alert_id)}};
    for (const char* name : {"tier", "abc_class", "stage", "industry", "account_manager"}) {
      if (const auto label = envelope.labels.find(name); label != envelope.labels.end() && label->is_string()) {
        labels[name] = *label;
      }
    }
    // An alert's facts, for channels that render their own form (never shadowing the labels above).
    for (const auto& [name, value] : envelope.details.items()) {
      if (value.is_string() && !labels.contains(name)) {
        labels[name] = value;
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
    ++by_level[item->envelope.level];
    lines += digest_line(*item);
    alert_ids += (alert_ids.empty() ? "" : ",") + std::to_string(item->alert_id);
    notification.severity = std::max(notification.severity, item->envelope.severity);
    notification.created_ms = std::min(notification.created_ms, item->envelope.created_ms);
  }
  std::string summary;
  for (const auto& [level, count] : by_level) {
    summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", count, level);
  }
  notification.title = fmt::format("{} CRM alerts ({})", batch.items.size(), summary);
  notification.text = truncate_utf8(lines, max_bytes, kTruncatedMarker);
  notification.markdown = truncate_utf8("**" + notification.title + "**\n\n" + lines, max_bytes, kTruncatedMarker);
  notification.recipients = batch.items.front()->envelope.recipients;
  notification.event = "digest";
  notification.labels_json = nlohmann::json{
      {"digest", "true"},
      {"count", std::to_string(batch.items.size())},
      {"alert_ids", alert_ids}}.dump();
  return notification;
}

}  // namespace crm::host
