#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/campaign_types.hpp"
#include "winback/winback_settings.hpp"

namespace crm::host {

// Who a campaign may contact, when, and at what cost (domain.md section 6),
// decided over plain values so that it is tested without a store. Contacts
// the policy holds are deferred, never skipped; offers it refuses are skipped
// with the reason in the step's outcome.
class ContactPolicy {
 public:
  // Reads the settings' caps and works out the quiet window around `now_ms` once.
  ContactPolicy(const WinbackSettings& settings, std::int64_t now_ms);

  // Nobody on the do-not-contact list gets another step.
  [[nodiscard]] static bool forbids(const CampaignFacts& facts, std::int64_t customer_id);

  // When a message or offer to an enrolment last contacted at
  // `last_contact_ms` (0: never) must wait until, with `sent_today_on_channel`
  // messages of the campaigns already queued on its channel today: the end of
  // the quiet hours, of the minimum days between contacts, or of the UTC day
  // when the channel's daily cap is reached, in that order. Nullopt: now.
  [[nodiscard]] std::optional<std::int64_t> defer_until(std::int64_t last_contact_ms,
                                                        std::int64_t sent_today_on_channel) const;

  // Why an offer costing `offer_cost` must not go to a customer worth
  // `expected_value` from a campaign of `budget` (0: none) that spent `spent`:
  // over the per-customer cap, over the customer's value, or over the budget.
  [[nodiscard]] std::optional<std::string> refuse_offer(double offer_cost, double expected_value, double budget,
                                                        double spent) const;

  // Why a customer worth `expected_value` is not enrolled in `playbook` at
  // all: its offers together cost more than the customer is worth.
  [[nodiscard]] static std::optional<std::string> exclude_from(const Playbook& playbook, double expected_value);

 private:
  std::int64_t now_ms_ = 0;
  std::int64_t min_ms_between_contacts_ = 0;
  int channel_daily_cap_ = 0;
  double max_offer_cost_ = 0;
  std::optional<std::int64_t> quiet_until_ms_;
};

}  // namespace crm::host
