#include "winback/campaigns.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "outbox/outbox.hpp"
#include "store/campaign_repository.hpp"
#include "store/do_not_contact_repository.hpp"
#include "store/enrolment_repository.hpp"
#include "store/revival_pool_repository.hpp"
#include "store/task_repository.hpp"
#include "winback/contact_policy.hpp"
#include "winback/lost_customers.hpp"
#include "winback/step_executors.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::size_t kChunk = 2'000;  // enrolments per transaction
constexpr int kMaxPassesPerRun = 1'000;

std::uint64_t mix(std::uint64_t value) {  // splitmix64's finaliser
  value += 0x9E3779B97F4A7C15ULL;
  value = (value ^ (value >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27U)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31U);
}

std::vector<PlaybookStep> steps_of(const nlohmann::json& playbook) {
  std::vector<PlaybookStep> steps;
  for (const auto& step : playbook.at("steps")) {
    steps.push_back(parse_playbook_step(step));
  }
  return steps;
}

bool matches(const std::vector<std::string>& allowed, const std::string& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

UnifiedCustomerOf unified_of(const UnifiedCustomers& unified) {
  return [&unified](std::int64_t row) { return unified.of(row); };
}

}  // namespace

bool in_holdout(std::int64_t campaign_id, std::int64_t customer_id, double fraction) {
  const std::uint64_t hash =
      mix(mix(static_cast<std::uint64_t>(campaign_id)) ^ static_cast<std::uint64_t>(customer_id));
  return static_cast<double>(hash % 1'000'000ULL) < fraction * 1'000'000.0;
}

CampaignEngine::CampaignEngine(Store& store, Logger& logger, const Clock& clock, WinbackSettings settings)
    : store_(store), logger_(logger), clock_(clock), settings_(std::move(settings)) {}

std::int64_t CampaignEngine::campaign_for(const Playbook& playbook) {
  CampaignRepository campaigns(store_.database());
  if (const std::optional<std::int64_t> found = campaigns.find(playbook.id, playbook.version)) {
    return *found;
  }
  return campaigns.insert({playbook.id, playbook.version, playbook_json(playbook).dump(), settings_.holdout_fraction,
                           settings_.budget, static_cast<std::int64_t>(std::llround(settings_.recovery_window_days)),
                           clock_.now_ms()});
}

CampaignPass CampaignEngine::enrol() {
  CampaignPass pass;
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  EnrolmentRepository enrolments(db);
  const std::vector<EnrolmentCandidate> candidates = enrolments.candidates();
  if (candidates.empty()) {
    return pass;
  }
  const std::unordered_map<std::int64_t, std::string> tiers = CampaignRepository(db).latest_tiers();
  Transaction transaction(db);
  std::map<std::string, std::int64_t> campaigns;  // playbook id -> campaign
  for (const EnrolmentCandidate& candidate : candidates) {
    const auto tier = tiers.find(candidate.customer_id);
    const Playbook* playbook = nullptr;
    for (const Playbook& each : settings_.playbooks) {
      if (matches(each.reasons, candidate.reason) && matches(each.tiers, tier == tiers.end() ? "" : tier->second)) {
        playbook = &each;
        break;
      }
    }
    if (playbook == nullptr) {
      continue;  // no playbook for this reason: the revival pool keeps in touch
    }
    if (const std::optional<std::string> why = ContactPolicy::exclude_from(*playbook, candidate.expected_value)) {
      enrolments.exclude(candidate.customer_id, *why);
      ++pass.excluded;
      continue;
    }
    auto [found, inserted] = campaigns.try_emplace(playbook->id, 0);
    if (inserted) {
      found->second = campaign_for(*playbook);
    }
    const bool holdout = in_holdout(found->second, candidate.customer_id, settings_.holdout_fraction);
    enrolments.enrol(found->second, candidate.customer_id, holdout, now);
    ++(holdout ? pass.holdout : pass.enrolled);
  }
  transaction.commit();
  return pass;
}

// Enrolments in `state` whose customer churn detection saw order again end
// now, even in the middle of a wait; the others are checked for a new order
// before each of their steps.
std::size_t CampaignEngine::convert_recovered(std::string_view state, std::string_view exit_reason) {
  return EnrolmentRepository(store_.database()).convert_recovered(state, exit_reason, clock_.now_ms());
}

CampaignPass CampaignEngine::advance() {
  const std::size_t converted = convert_recovered("active", "ordered again");
  std::optional<CampaignFacts> facts;
  CampaignPass pass = advance(facts);
  pass.converted += converted;
  return pass;
}

CampaignPass CampaignEngine::advance(std::optional<CampaignFacts>& facts_of_run) {
  CampaignPass pass;
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  EnrolmentRepository enrolments(db);
  CampaignRepository campaign_rows(db);
  TaskRepository tasks(db);
  const std::vector<DueEnrolment> due = enrolments.due(now);
  if (due.empty()) {
    return pass;
  }
  if (!facts_of_run) {
    const UnifiedCustomers unified(db);
    facts_of_run = campaign_rows.read_facts(unified_of(unified));
  }
  CampaignFacts& facts = *facts_of_run;
  std::map<std::int64_t, CampaignPlan> campaigns;
  for (const StoredCampaign& campaign : campaign_rows.all()) {
    campaigns[campaign.id] = {campaign.playbook_id, steps_of(nlohmann::json::parse(campaign.playbook_json)),
                              campaign.budget, campaign.spent};
  }
  std::map<std::string, std::int64_t> sent_today;  // channel -> messages queued on this UTC day
  if (settings_.channel_daily_cap > 0) {
    // Bounded on both sides: a replay of an earlier date (--as-of) must not
    // count what a later one queued.
    sent_today = campaign_rows.messages_queued(now / kDayMs * kDayMs, (now / kDayMs + 1) * kDayMs);
  }
  const ContactPolicy policy(settings_, now);

  Outbox outbox(db);

  for (std::size_t begin = 0; begin < due.size(); begin += kChunk) {
    Transaction transaction(db);
    for (std::size_t i = begin; i < std::min(due.size(), begin + kChunk); ++i) {
      const DueEnrolment& enrolment = due[i];
      const std::int64_t customer = enrolment.customer_id;
      if (const std::optional<EnrolmentExit> leaving = exit_before_step(facts, enrolment)) {
        // Exit on conversion: an order cancels every pending step.
        enrolments.leave(enrolment.id, leaving->state, leaving->reason, now);
        pass.converted += leaving->state == "converted" ? 1 : 0;
        continue;
      }
      CampaignPlan& campaign = campaigns[enrolment.campaign_id];
      const StepResult step = execute_step({enrolment, campaign, facts, policy, settings_.band_order, sent_today, now});
      if (step.deferred_until_ms) {
        enrolments.defer(enrolment.id, *step.deferred_until_ms);
        ++pass.deferred;
        continue;
      }
      // A step is claimed by recording its sequence number before its message,
      // task or spending happen, in one transaction with the enrolment's move:
      // a number already recorded (another run got there first) means done,
      // and nothing of the step happens twice.
      if (!enrolments.claim(
              {enrolment.id, enrolment.steps_done + 1, enrolment.step_index, step.kind, now, step.outcome})) {
        continue;
      }
      if (step.message) {
        const StepMessage& message = *step.message;
        outbox.enqueue_once({.channel_id = message.channel,
                             .idempotency_key = fmt::format("crm-winback-{}-{}-{}", enrolment.id,
                                                            enrolment.steps_done + 1, message.channel),
                             .envelope = {.severity = CRM_SEVERITY_INFO,
                                          .title = message.text.substr(0, message.text.find('\n')),
                                          .text = message.text,
                                          .recipients = message.recipients,
                                          .customer_id = customer,
                                          .reason = "winback:" + campaign.playbook_id,
                                          .level = "campaign",
                                          .event = message.event,
                                          .created_ms = now}},
                            now);
        ++sent_today[message.channel];
        ++pass.messages;
        if (message.event == "offer") {
          campaign.spent += step.cost;
          campaign_rows.add_spent(enrolment.campaign_id, step.cost);
        }
      }
      if (step.task) {
        tasks.create({enrolment.id, customer, step.task->owner, step.task->title, now, step.task->due_ms});
        ++pass.tasks;
        ++facts.open_tasks[enrolment.id];
      }
      enrolments.move({enrolment.id, step.next_step_index, step.next_step_ms, step.state, now, step.exit_reason,
                       step.message.has_value(), step.cost});
      ++pass.steps;
      if (step.state == "completed") {
        ++pass.completed;
      }
    }
    transaction.commit();
  }
  return pass;
}

CampaignPass CampaignEngine::touch_revival_pool() {
  CampaignPass pass;
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  RevivalPoolRepository pool(db);
  Transaction transaction(db);
  // Lost customers worth pursuing in no active playbook (and not held out) join the pool.
  pool.refresh(now, settings_.excluded_reasons);
  if (settings_.revival_channel.empty()) {
    transaction.commit();
    return pass;
  }
  const UnifiedCustomers unified(db);
  // The latest new-need signal per customer.
  const std::unordered_map<std::int64_t, std::int64_t> new_need_ms =
      pool.latest_activity_ms(now, settings_.new_need_activity_kinds, unified_of(unified));
  const std::vector<RevivalMember> members = pool.members();
  const auto interval_ms = static_cast<std::int64_t>(settings_.revival_interval_days * kDayMs);
  Outbox outbox(db);
  for (const RevivalMember& member : members) {
    const std::int64_t since = member.last_touch_ms > 0 ? member.last_touch_ms : member.joined_ms;
    const auto need = new_need_ms.find(member.customer_id);
    const bool new_need = need != new_need_ms.end() && need->second > since;
    if (!new_need && now - since < interval_ms) {
      continue;
    }
    if (member.email.empty()) {
      continue;
    }
    const std::string text =
        render_template(settings_.revival_text,
                        {{"name", member.name.empty() ? fmt::format("customer {}", member.customer_id) : member.name},
                         {"customer_id", std::to_string(member.customer_id)}});
    outbox.enqueue_once({.channel_id = settings_.revival_channel,
                         .idempotency_key = fmt::format("crm-revival-{}-{}", member.customer_id, member.touches + 1),
                         .envelope = {.severity = CRM_SEVERITY_INFO,
                                      .title = text.substr(0, text.find('\n')),
                                      .text = text,
                                      .recipients = {member.email},
                                      .customer_id = member.customer_id,
                                      .reason = new_need ? "revival:new_need" : "revival:periodic",
                                      .level = "campaign",
                                      .event = "revival",
                                      .created_ms = now}},
                        now);
    pool.touched(member.customer_id, member.touches, now);
    ++pass.revival_touches;
  }
  transaction.commit();
  return pass;
}

std::size_t CampaignEngine::close_control_group() {
  Database& db = store_.database();
  Transaction transaction(db);
  // The holdout is measured over the recovery window; after it (or once they
  // order again) its customers are free for the revival pool.
  std::size_t closed = convert_recovered("holdout", "ordered again (control group)");
  closed += EnrolmentRepository(db).close_control_windows(clock_.now_ms());
  transaction.commit();
  return closed;
}

CampaignPass CampaignEngine::run() {
  CampaignPass total = enrol();
  total.control_closed = close_control_group();
  // Once per run: no pass makes anyone recovered.
  total.converted = convert_recovered("active", "ordered again");
  std::optional<CampaignFacts> facts;  // read by the first pass with something due, shared by the others
  for (int i = 0; i < kMaxPassesPerRun; ++i) {
    const CampaignPass pass = advance(facts);
    total.steps += pass.steps;
    total.messages += pass.messages;
    total.tasks += pass.tasks;
    total.converted += pass.converted;
    total.completed += pass.completed;
    total.deferred = pass.deferred;  // the last pass's: what now waits
    if (pass.steps == 0) {
      break;
    }
  }
  total.revival_touches = touch_revival_pool().revival_touches;
  return total;
}

bool CampaignEngine::complete_task(std::int64_t task_id, const std::string& outcome, const std::string& by) {
  return TaskRepository(store_.database()).complete(task_id, outcome, by, clock_.now_ms());
}

void CampaignEngine::add_do_not_contact(std::int64_t customer_id, const std::string& reason, const std::string& by) {
  DoNotContactRepository(store_.database()).add(customer_id, reason, by, clock_.now_ms());
}

bool CampaignEngine::remove_do_not_contact(std::int64_t customer_id) {
  return DoNotContactRepository(store_.database()).remove(customer_id);
}

std::vector<CampaignRow> CampaignEngine::list() {
  std::vector<CampaignRow> rows;
  Database& db = store_.database();
  EnrolmentRepository enrolments(db);
  for (CampaignListing& campaign : CampaignRepository(db).list()) {
    rows.push_back({campaign.id, std::move(campaign.playbook_id), campaign.playbook_version, campaign.budget,
                    campaign.spent, enrolments.count_by_state(campaign.id)});
  }
  return rows;
}

std::optional<CampaignReport> CampaignEngine::report(std::int64_t campaign_id) {
  Database& db = store_.database();
  CampaignRepository campaigns(db);
  const std::optional<CampaignHeader> header = campaigns.header(campaign_id);
  if (!header) {
    return std::nullopt;
  }
  CampaignReport report;
  report.campaign_id = campaign_id;
  report.playbook = fmt::format("{} v{}", header->playbook_id, header->playbook_version);
  const std::int64_t window_ms = header->recovery_window_days * kDayMs;
  struct Member {
    std::int64_t enrolled_ms = 0;
    bool holdout = false;
    bool recovered = false;
    double revenue = 0;
  };
  std::unordered_map<std::int64_t, Member> members;
  std::int64_t earliest_ms = std::numeric_limits<std::int64_t>::max();
  for (const EnrolmentMember& enrolment : EnrolmentRepository(db).members(campaign_id)) {
    members[enrolment.customer_id] = {enrolment.enrolled_ms, enrolment.holdout};
    earliest_ms = std::min(earliest_ms, enrolment.enrolled_ms);
    ++(enrolment.holdout ? report.holdout : report.enrolled);
    report.contacted += enrolment.contacted ? 1 : 0;
    report.cost += enrolment.cost;
  }
  if (!members.empty()) {
    const UnifiedCustomers unified(db);
    campaigns.for_each_purchase_since(earliest_ms, [&](const ReportPurchase& order) {
      const auto found = members.find(unified.of(order.customer_id));
      if (found == members.end()) {
        return;
      }
      if (order.ordered_at_ms >= found->second.enrolled_ms &&
          order.ordered_at_ms <= found->second.enrolled_ms + window_ms) {
        found->second.recovered = true;
        found->second.revenue += order.amount;
      }
    });
  }
  for (const auto& [customer, member] : members) {
    if (!member.recovered) {
      continue;
    }
    if (member.holdout) {
      ++report.holdout_recovered;
    } else {
      ++report.recovered;
      report.revenue_recovered += member.revenue;
    }
  }
  const auto rate = [](std::size_t hits, std::size_t total) {
    return total == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(total);
  };
  report.recovery_rate = rate(report.recovered, report.enrolled);
  report.holdout_recovery_rate = rate(report.holdout_recovered, report.holdout);
  report.uplift_measured = report.enrolled > 0 && report.holdout > 0;
  report.uplift = report.recovery_rate - report.holdout_recovery_rate;
  const auto variance = [](double p, std::size_t n) { return n == 0 ? 0.0 : p * (1.0 - p) / static_cast<double>(n); };
  const double standard_error = std::sqrt(variance(report.recovery_rate, report.enrolled) +
                                          variance(report.holdout_recovery_rate, report.holdout));
  constexpr double kZ95 = 1.959964;
  report.uplift_low = report.uplift - kZ95 * standard_error;
  report.uplift_high = report.uplift + kZ95 * standard_error;
  report.benefit_cost_ratio = report.cost > 0 ? report.revenue_recovered * settings_.margin / report.cost : 0.0;
  return report;
}

}  // namespace crm::host
