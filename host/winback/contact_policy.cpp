#include "winback/contact_policy.hpp"

#include <fmt/format.h>

#include "alerts/alert_settings.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

}  // namespace

ContactPolicy::ContactPolicy(const WinbackSettings& settings, std::int64_t now_ms)
    : now_ms_(now_ms),
      min_ms_between_contacts_(static_cast<std::int64_t>(settings.min_days_between_contacts * kDayMs)),
      channel_daily_cap_(settings.channel_daily_cap),
      max_offer_cost_(settings.max_offer_cost),
      quiet_until_ms_(quiet_until(settings.quiet_hours, now_ms)) {}

bool ContactPolicy::forbids(const CampaignFacts& facts, std::int64_t customer_id) {
  return facts.do_not_contact.count(customer_id) != 0;
}

std::optional<std::int64_t> ContactPolicy::defer_until(std::int64_t last_contact_ms,
                                                       std::int64_t sent_today_on_channel) const {
  if (quiet_until_ms_) {
    return quiet_until_ms_;
  }
  const std::int64_t cap_until_ms = last_contact_ms > 0 ? last_contact_ms + min_ms_between_contacts_ : 0;
  if (cap_until_ms > now_ms_) {
    return cap_until_ms;
  }
  if (channel_daily_cap_ > 0 && sent_today_on_channel >= channel_daily_cap_) {
    return (now_ms_ / kDayMs + 1) * kDayMs;  // the next UTC midnight
  }
  return std::nullopt;
}

std::optional<std::string> ContactPolicy::refuse_offer(double offer_cost, double expected_value, double budget,
                                                       double spent) const {
  if (max_offer_cost_ > 0 && offer_cost > max_offer_cost_) {
    return fmt::format("offer of {:.2f} over the per-customer cap {:.2f}", offer_cost, max_offer_cost_);
  }
  if (offer_cost > expected_value) {
    return fmt::format("offer of {:.2f} over the customer's expected value {:.2f}", offer_cost, expected_value);
  }
  if (budget > 0 && spent + offer_cost > budget) {
    return fmt::format("campaign budget {:.2f} spent", budget);
  }
  return std::nullopt;
}

std::optional<std::string> ContactPolicy::exclude_from(const Playbook& playbook, double expected_value) {
  double offer_cost = 0;
  for (const PlaybookStep& step : playbook.steps) {
    offer_cost += step.kind == "offer" ? step.cost : 0;
  }
  if (offer_cost > expected_value) {
    return fmt::format("offer cost {:.2f} of playbook '{}' exceeds the expected value {:.2f}", offer_cost, playbook.id,
                       expected_value);
  }
  return std::nullopt;
}

}  // namespace crm::host
