#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerts/alert_settings.hpp"
#include "scoring/value_class.hpp"

namespace crm::host {

// The six reasons customers leave (domain.md section 6), as stored codes.
inline const std::vector<std::string>& churn_reason_codes() {
  static const std::vector<std::string> kCodes = {"abandoned_by_us", "forced_to_leave",   "bought_off",
                                                  "attracted_away",  "left_dissatisfied", "other"};
  return kCodes;
}

// One step of a playbook. Kinds:
//   message  send `text` (a template) through `channel` to `recipients`
//   task     a task for `owner` ("@account_manager", a role or an address): a senior person's dialogue
//   wait     `days` before the next step
//   branch   when `condition` holds (replied, ordered_again, ticket_resolved, task_done: the
//            owner closed every task this enrolment gave them, or score_above: the latest band
//            is `band` or better),
//            go to step `goto_step` (-1: end), else on
//   offer    a message that costs `cost`: skipped when over the budget, the cap or the customer's value
//   end
struct PlaybookStep {
  std::string kind;
  std::string channel{};
  std::string text{};
  std::vector<std::string> recipients{};  // "@customer" is the key contact's e-mail
  std::string owner{};
  double days = 0;
  std::string condition{};
  std::string band{};
  int goto_step = -1;
  double cost = 0;
};

// A playbook for lost customers of some reasons and tiers (empty: any).
// Versioned: a changed playbook gets a new version, and so a new campaign.
struct Playbook {
  std::string id;
  int version = 1;
  std::vector<std::string> reasons{};
  std::vector<std::string> tiers{};
  std::vector<PlaybookStep> steps{};
};

// The "winback" section of the host configuration; every number a default.
struct WinbackSettings {
  // Lost: no order for longer than silence_multiple times the customer's own
  // median interval between orders (and at least min_silence_days), with at
  // least min_orders orders to know the interval.
  double silence_multiple = 3.0;
  double min_silence_days = 60;
  int min_orders = 2;
  // Value of a recovered customer: yearly revenue x margin x horizon, the yearly revenue
  // being the scorers' purchases per year while a customer (scorer_bgnbd) times the
  // customer's average order, or without a scorer the revenue rate of their history.
  double margin = 0.25;
  double value_horizon_years = 1.0;
  // Reasons not pursued (domain.md: abandoned by us, forced to leave, bought off).
  std::vector<std::string> excluded_reasons = {"abandoned_by_us", "forced_to_leave", "bought_off"};
  // Reason rules: terms looked for in the customer's interactions (subject, keywords), any case.
  std::vector<std::string> competitor_terms = {"competitor", "switched to", "better offer", "cheaper supplier",
                                               "竞争对手",   "竞品",        "换成",         "转向"};
  std::vector<std::string> closure_terms = {
      "closed down", "bankrupt", "went out of business", "moved away", "relocated", "倒闭", "破产", "搬迁",
      "注销",        "停业"};
  std::vector<std::string> inducement_terms = {"kickback", "bribe", "inducement", "回扣", "好处费"};
  std::vector<std::string> discontinued_product_lines{};
  // Mass churn: this many losses for one reason in one period, or this share
  // of the active customers (from mass_churn_min_count losses on, so that a
  // small book is not one event per loss), raise one strategic alert instead
  // of campaigns.
  int mass_churn_count = 25;
  double mass_churn_rate = 0.05;
  int mass_churn_min_count = 5;
  double mass_churn_period_days = 30;
  // Campaigns.
  double holdout_fraction = 0.10;
  double recovery_window_days = 90;
  double budget = 0;          // per campaign, 0: none
  double max_offer_cost = 0;  // per customer, 0: only the customer's expected value caps it
  double min_days_between_contacts = 7;
  int channel_daily_cap = 0;  // messages per channel per day, 0: none
  QuietHours quiet_hours;     // steps wait for the window to end
  std::vector<Playbook> playbooks;
  // Revival pool: lost customers in no active playbook.
  double revival_interval_days = 182;
  std::string revival_channel;  // empty: no touches
  std::string revival_text = "News from us for {name}: our latest products and services.";
  std::vector<std::string> new_need_activity_kinds = {"new_need"};
  // The health bands from best to worst (the scoring section's), for `score_above`.
  std::vector<std::string> band_order = {"green", "yellow", "orange", "red"};
  // ABC classes of lost customers: the host's "value_classes" section, the scorers' too.
  ValueClassSettings value_classes;
};

// The built-in playbooks: the domain's strategies (a complaint fix and apology
// for the dissatisfied, a better-offer analysis for the attracted away, a new
// personal contact for the others), all sending through `channel`.
std::vector<Playbook> default_playbooks(const std::string& channel);

// A step or a playbook in the configuration's (and the campaigns table's) JSON form.
PlaybookStep parse_playbook_step(const nlohmann::json& step);
nlohmann::json playbook_json(const Playbook& playbook);

WinbackSettings parse_winback_settings(const nlohmann::json& section);
extern const char* const kWinbackSettingsSchema;

}  // namespace crm::host
