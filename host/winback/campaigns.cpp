#include "winback/campaigns.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/dates.hpp"
#include "outbox/outbox.hpp"
#include "store/purchases.hpp"
#include "winback/lost_customers.hpp"

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

std::string render(std::string text, const std::map<std::string, std::string>& variables) {
  for (const auto& [name, value] : variables) {
    const std::string placeholder = "{" + name + "}";
    for (std::size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return text;
}

}  // namespace

// What the steps need to know about the enrolled customers. Steps do not change
// these (they queue messages and create tasks, whose counts are kept here as
// they go), so a run reads them once for all its passes.
struct CampaignFacts {
  std::unordered_map<std::int64_t, std::int64_t> last_order_ms;    // since the earliest enrolment
  std::unordered_map<std::int64_t, std::int64_t> last_inbound_ms;  // interactions from the customer
  std::unordered_map<std::int64_t, int> open_complaints;
  std::unordered_map<std::int64_t, std::string> band;  // of the latest scoring run
  std::unordered_map<std::int64_t, std::string> email;
  std::unordered_map<std::int64_t, std::string> account_manager;
  std::unordered_set<std::int64_t> do_not_contact;
  std::unordered_set<std::int64_t> recovered;  // churn detection saw them order again
  struct Lost {
    std::string name;
    std::string reason;
    double expected_value = 0;
    std::int64_t churn_date_ms = 0;
  };
  std::unordered_map<std::int64_t, Lost> lost;       // of the active enrolments
  std::unordered_map<std::int64_t, int> open_tasks;  // enrolment -> tasks not done yet
  std::unordered_map<std::int64_t, int> tasks_done;  // enrolment -> tasks done
};

namespace {

// Orders and replies count from the earliest active enrolment on.
CampaignFacts read_facts(Database& db) {
  CampaignFacts facts;
  std::int64_t since_ms = 0;
  {
    Statement earliest = db.prepare("SELECT coalesce(min(enrolled_ms), 0) FROM enrolments WHERE state = 'active'");
    since_ms = earliest.step() ? earliest.column_int64(0) : 0;
  }
  const UnifiedCustomers unified(db);
  Statement orders = db.prepare(
      "SELECT customer_id, max(ordered_at_ms) FROM orders WHERE customer_id IS NOT NULL AND ordered_at_ms >= ?1 AND " +
      purchase_condition() + " GROUP BY customer_id");
  orders.bind(1, since_ms);
  while (orders.step()) {
    std::int64_t& last = facts.last_order_ms[unified.of(orders.column_int64(0))];
    last = std::max(last, orders.column_int64(1));
  }
  Statement inbound = db.prepare(
      "SELECT customer_id, max(occurred_at_ms) FROM interactions WHERE customer_id IS NOT NULL AND direction = "
      "'inbound' AND occurred_at_ms >= ?1 GROUP BY customer_id");
  inbound.bind(1, since_ms);
  while (inbound.step()) {
    std::int64_t& last = facts.last_inbound_ms[unified.of(inbound.column_int64(0))];
    last = std::max(last, inbound.column_int64(1));
  }
  Statement complaints = db.prepare(
      "SELECT customer_id, count(*) FROM tickets WHERE customer_id IS NOT NULL AND coalesce(is_complaint, 0) = 1 AND "
      "resolved_at_ms IS NULL GROUP BY customer_id");
  while (complaints.step()) {
    facts.open_complaints[unified.of(complaints.column_int64(0))] += static_cast<int>(complaints.column_int64(1));
  }
  Statement bands = db.prepare(
      "SELECT customer_id, band FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs) AND band IS NOT "
      "NULL");
  while (bands.step()) {
    facts.band[bands.column_int64(0)] = bands.column_text(1);
  }
  Statement contacts = db.prepare(
      "SELECT customer_id, coalesce(email, ''), coalesce(owner, '') FROM contacts WHERE customer_id IS NOT NULL AND "
      "left_at_ms IS NULL ORDER BY customer_id, coalesce(is_key_contact, 0) DESC, id");
  while (contacts.step()) {
    const std::int64_t customer = unified.of(contacts.column_int64(0));
    if (!contacts.column_text(1).empty()) {
      facts.email.try_emplace(customer, contacts.column_text(1));
    }
    if (!contacts.column_text(2).empty()) {
      facts.account_manager.try_emplace(customer, contacts.column_text(2));
    }
  }
  Statement back = db.prepare("SELECT customer_id FROM lost_customers WHERE recovered_ms IS NOT NULL");
  while (back.step()) {
    facts.recovered.insert(back.column_int64(0));
  }
  Statement blocked = db.prepare("SELECT customer_id FROM do_not_contact");
  while (blocked.step()) {
    facts.do_not_contact.insert(blocked.column_int64(0));
  }
  Statement lost = db.prepare(
      "SELECT l.customer_id, coalesce(c.name, ''), coalesce(l.reason, ''), coalesce(l.expected_value, 0), "
      "l.churn_date_ms FROM lost_customers l LEFT JOIN customers c ON c.id = l.customer_id WHERE l.customer_id IN "
      "(SELECT customer_id FROM enrolments WHERE state = 'active')");
  while (lost.step()) {
    facts.lost[lost.column_int64(0)] = {lost.column_text(1), lost.column_text(2), lost.column_double(3),
                                        lost.column_int64(4)};
  }
  Statement tasks = db.prepare(
      "SELECT t.enrolment_id, t.state, count(*) FROM tasks t JOIN enrolments e ON e.id = t.enrolment_id WHERE "
      "e.state = 'active' GROUP BY t.enrolment_id, t.state");
  while (tasks.step()) {
    auto& counts = tasks.column_text(1) == "done" ? facts.tasks_done : facts.open_tasks;
    counts[tasks.column_int64(0)] = static_cast<int>(tasks.column_int64(2));
  }
  return facts;
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
  Database& db = store_.database();
  Statement find = db.prepare("SELECT id FROM campaigns WHERE playbook_id = ?1 AND playbook_version = ?2");
  find.bind(1, playbook.id).bind(2, static_cast<std::int64_t>(playbook.version));
  if (find.step()) {
    return find.column_int64(0);
  }
  Statement insert = db.prepare(
      "INSERT INTO campaigns(playbook_id, playbook_version, playbook, holdout_fraction, budget, recovery_window_days, "
      "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert.bind(1, playbook.id)
      .bind(2, static_cast<std::int64_t>(playbook.version))
      .bind(3, playbook_json(playbook).dump())
      .bind(4, settings_.holdout_fraction)
      .bind(5, settings_.budget)
      .bind(6, static_cast<std::int64_t>(std::llround(settings_.recovery_window_days)))
      .bind(7, clock_.now_ms())
      .run();
  return db.last_insert_rowid();
}

CampaignPass CampaignEngine::enrol() {
  CampaignPass pass;
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  struct Candidate {
    std::int64_t customer_id;
    std::string reason;
    double expected_value;
  };
  std::vector<Candidate> candidates;
  {
    // Eligible, not recovered, and not enrolled since this loss began.
    Statement query = db.prepare(
        "SELECT l.customer_id, coalesce(l.reason, 'other'), coalesce(l.expected_value, 0) FROM lost_customers l WHERE "
        "l.eligible = 1 AND l.recovered_ms IS NULL AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.customer_id = "
        "l.customer_id AND (e.state IN ('active', 'holdout') OR e.enrolled_ms >= l.churn_date_ms)) ORDER BY "
        "l.customer_id");
    while (query.step()) {
      candidates.push_back({query.column_int64(0), query.column_text(1), query.column_double(2)});
    }
  }
  if (candidates.empty()) {
    return pass;
  }
  std::unordered_map<std::int64_t, std::string> tiers;
  {
    Statement query = db.prepare(
        "SELECT customer_id, coalesce(tier, '') FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs)");
    while (query.step()) {
      tiers[query.column_int64(0)] = query.column_text(1);
    }
  }
  Transaction transaction(db);
  std::map<std::string, std::int64_t> campaigns;  // playbook id -> campaign
  Statement insert = db.prepare(
      "INSERT INTO enrolments(campaign_id, customer_id, holdout, state, next_step_ms, enrolled_ms) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?5)");
  Statement exclude = db.prepare("UPDATE lost_customers SET eligible = 0, exclusion = ?1 WHERE customer_id = ?2");
  for (const Candidate& candidate : candidates) {
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
    double offer_cost = 0;
    for (const PlaybookStep& step : playbook->steps) {
      offer_cost += step.kind == "offer" ? step.cost : 0;
    }
    if (offer_cost > candidate.expected_value) {
      exclude
          .bind(1, fmt::format("offer cost {:.2f} of playbook '{}' exceeds the expected value {:.2f}", offer_cost,
                               playbook->id, candidate.expected_value))
          .bind(2, candidate.customer_id)
          .run();
      ++pass.excluded;
      continue;
    }
    auto [found, inserted] = campaigns.try_emplace(playbook->id, 0);
    if (inserted) {
      found->second = campaign_for(*playbook);
    }
    const bool holdout = in_holdout(found->second, candidate.customer_id, settings_.holdout_fraction);
    insert.bind(1, found->second)
        .bind(2, candidate.customer_id)
        .bind(3, static_cast<std::int64_t>(holdout ? 1 : 0))
        .bind(4, std::string_view(holdout ? "holdout" : "active"))
        .bind(5, now)
        .run();
    ++(holdout ? pass.holdout : pass.enrolled);
  }
  transaction.commit();
  return pass;
}

// Enrolments in `state` whose customer churn detection saw order again end
// now, even in the middle of a wait; the others are checked for a new order
// before each of their steps.
std::size_t CampaignEngine::convert_recovered(std::string_view state, std::string_view exit_reason) {
  Database& db = store_.database();
  db.prepare(
        "UPDATE enrolments SET state = 'converted', ended_ms = ?1, exit_reason = ?2 WHERE state = ?3 AND customer_id "
        "IN (SELECT customer_id FROM lost_customers WHERE recovered_ms IS NOT NULL)")
      .bind(1, clock_.now_ms())
      .bind(2, exit_reason)
      .bind(3, state)
      .run();
  return static_cast<std::size_t>(db.changes());
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
  struct Due {
    std::int64_t id;
    std::int64_t campaign_id;
    std::int64_t customer_id;
    int step_index;
    std::int64_t steps_done;
    std::int64_t enrolled_ms;
    std::int64_t last_contact_ms;
  };
  std::vector<Due> due;
  {
    Statement query = db.prepare(
        "SELECT id, campaign_id, customer_id, step_index, steps_done, enrolled_ms, coalesce(last_contact_ms, 0) FROM "
        "enrolments WHERE state = 'active' AND next_step_ms <= ?1 ORDER BY next_step_ms, id");
    query.bind(1, now);
    while (query.step()) {
      due.push_back({query.column_int64(0), query.column_int64(1), query.column_int64(2),
                     static_cast<int>(query.column_int64(3)), query.column_int64(4), query.column_int64(5),
                     query.column_int64(6)});
    }
  }
  if (due.empty()) {
    return pass;
  }
  if (!facts_of_run) {
    facts_of_run = read_facts(db);
  }
  CampaignFacts& facts = *facts_of_run;
  struct Campaign {
    std::string playbook_id;
    std::vector<PlaybookStep> steps;
    double budget = 0;
    double spent = 0;
  };
  std::map<std::int64_t, Campaign> campaigns;
  {
    Statement query = db.prepare("SELECT id, playbook_id, playbook, coalesce(budget, 0), spent FROM campaigns");
    while (query.step()) {
      campaigns[query.column_int64(0)] = {query.column_text(1), steps_of(nlohmann::json::parse(query.column_text(2))),
                                          query.column_double(3), query.column_double(4)};
    }
  }
  std::map<std::string, std::int64_t> sent_today;  // channel -> messages queued on this UTC day
  if (settings_.channel_daily_cap > 0) {
    // Bounded on both sides: a replay of an earlier date (--as-of) must not
    // count what a later one queued.
    Statement query = db.prepare(
        "SELECT channel_id, count(*) FROM outbox WHERE alert_id IS NULL AND created_ms >= ?1 AND created_ms < ?2 AND "
        "idempotency_key LIKE 'crm-winback-%' GROUP BY channel_id");
    query.bind(1, now / kDayMs * kDayMs).bind(2, (now / kDayMs + 1) * kDayMs);
    while (query.step()) {
      sent_today[query.column_text(0)] = query.column_int64(1);
    }
  }
  const std::optional<std::int64_t> quiet = quiet_until(settings_.quiet_hours, now);

  Statement record = db.prepare(
      "INSERT OR IGNORE INTO enrolment_steps(enrolment_id, sequence, step_index, kind, executed_ms, outcome) VALUES "
      "(?1, ?2, ?3, ?4, ?5, ?6)");
  Statement move = db.prepare(
      "UPDATE enrolments SET step_index = ?1, steps_done = steps_done + 1, next_step_ms = ?2, state = ?3, ended_ms = "
      "CASE WHEN ?3 = 'active' THEN NULL ELSE ?4 END, exit_reason = ?5, contacted = max(contacted, ?6), "
      "last_contact_ms = CASE WHEN ?6 = 1 THEN ?4 ELSE last_contact_ms END, cost = cost + ?7 WHERE id = ?8");
  Statement defer = db.prepare("UPDATE enrolments SET next_step_ms = ?1 WHERE id = ?2");
  Statement leave = db.prepare(
      "UPDATE enrolments SET state = ?1, ended_ms = ?2, exit_reason = ?3 WHERE id = ?4 AND state = 'active'");
  Outbox outbox(db);
  Statement task = db.prepare(
      "INSERT INTO tasks(enrolment_id, customer_id, owner, title, created_ms, due_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  Statement spend = db.prepare("UPDATE campaigns SET spent = spent + ?1 WHERE id = ?2");

  for (std::size_t begin = 0; begin < due.size(); begin += kChunk) {
    Transaction transaction(db);
    for (std::size_t i = begin; i < std::min(due.size(), begin + kChunk); ++i) {
      const Due& enrolment = due[i];
      const std::int64_t customer = enrolment.customer_id;
      if (facts.do_not_contact.count(customer) != 0) {
        leave.bind(1, std::string_view("exited")).bind(2, now).bind(3, std::string_view("do not contact"));
        leave.bind(4, enrolment.id).run();
        continue;
      }
      if (const auto order = facts.last_order_ms.find(customer);
          facts.recovered.count(customer) != 0 ||
          (order != facts.last_order_ms.end() && order->second >= enrolment.enrolled_ms)) {
        // Exit on conversion: an order cancels every pending step.
        leave.bind(1, std::string_view("converted")).bind(2, now).bind(3, std::string_view("ordered again"));
        leave.bind(4, enrolment.id).run();
        ++pass.converted;
        continue;
      }
      Campaign& campaign = campaigns[enrolment.campaign_id];
      const CampaignFacts::Lost& who = facts.lost[customer];
      int next_index = enrolment.step_index + 1;
      std::int64_t next_ms = now;
      std::string state = "active";
      std::string exit_reason;
      std::string outcome = "done";
      int contacted = 0;
      double cost = 0;
      std::string kind = "end";
      // A step is claimed by recording its sequence number before its message,
      // task or spending happen, in one transaction with the enrolment's move:
      // a number already recorded (another run got there first) means done,
      // and nothing of the step happens twice.
      bool claimed = false;
      const auto claim = [&](const std::string& step_outcome) {
        record.bind(1, enrolment.id)
            .bind(2, enrolment.steps_done + 1)
            .bind(3, static_cast<std::int64_t>(enrolment.step_index))
            .bind(4, kind)
            .bind(5, now)
            .bind(6, step_outcome)
            .run();
        claimed = db.changes() > 0;
        return claimed;
      };
      if (enrolment.step_index >= static_cast<int>(campaign.steps.size())) {
        state = "completed";
        exit_reason = "playbook finished";
      } else {
        const PlaybookStep& step = campaign.steps[static_cast<std::size_t>(enrolment.step_index)];
        kind = step.kind;
        const auto manager = facts.account_manager.find(customer);
        const std::string account_manager = manager == facts.account_manager.end() ? "" : manager->second;
        // Template variables, formatted only for the steps that write text.
        const auto variables = [&] {
          return std::map<std::string, std::string>{
              {"name", who.name.empty() ? fmt::format("customer {}", customer) : who.name},
              {"customer_id", std::to_string(customer)},
              {"reason", who.reason},
              {"owner", account_manager},
              {"expected_value", fmt::format("{:.2f}", who.expected_value)},
              {"offer_cost", fmt::format("{:.2f}", step.cost)},
              {"churn_date", utc_date_text(who.churn_date_ms)}};
        };
        if (step.kind == "message" || step.kind == "offer") {
          const std::int64_t cap_until_ms =
              enrolment.last_contact_ms > 0
                  ? enrolment.last_contact_ms + static_cast<std::int64_t>(settings_.min_days_between_contacts * kDayMs)
                  : 0;
          std::optional<std::int64_t> wait_until;
          if (quiet) {
            wait_until = *quiet;
          } else if (cap_until_ms > now) {
            wait_until = cap_until_ms;
          } else if (settings_.channel_daily_cap > 0 && sent_today[step.channel] >= settings_.channel_daily_cap) {
            wait_until = (now / kDayMs + 1) * kDayMs;
          }
          if (wait_until) {
            defer.bind(1, *wait_until).bind(2, enrolment.id).run();
            ++pass.deferred;
            continue;
          }
          std::optional<std::string> skipped;
          if (step.kind == "offer") {
            if (settings_.max_offer_cost > 0 && step.cost > settings_.max_offer_cost) {
              skipped =
                  fmt::format("offer of {:.2f} over the per-customer cap {:.2f}", step.cost, settings_.max_offer_cost);
            } else if (step.cost > who.expected_value) {
              skipped = fmt::format("offer of {:.2f} over the customer's expected value {:.2f}", step.cost,
                                    who.expected_value);
            } else if (campaign.budget > 0 && campaign.spent + step.cost > campaign.budget) {
              skipped = fmt::format("campaign budget {:.2f} spent", campaign.budget);
            }
          }
          std::vector<std::string> recipients;
          for (const std::string& recipient :
               step.recipients.empty() ? std::vector<std::string>{"@customer"} : step.recipients) {
            if (recipient == "@customer") {
              if (const auto email = facts.email.find(customer); email != facts.email.end()) {
                recipients.push_back(email->second);
              }
            } else if (recipient == "@account_manager") {
              if (!account_manager.empty()) {
                recipients.push_back(account_manager);
              }
            } else {
              recipients.push_back(recipient);
            }
          }
          if (!skipped && recipients.empty()) {
            skipped = "no address for the customer";
          }
          if (skipped) {
            outcome = "skipped: " + *skipped;
          } else {
            if (step.kind == "offer") {
              cost = step.cost;
              outcome = fmt::format("offer of {:.2f} sent", cost);
            }
            if (!claim(outcome)) {
              continue;
            }
            const std::string text = render(step.text, variables());
            outbox.enqueue_once({.channel_id = step.channel,
                                 .idempotency_key = fmt::format("crm-winback-{}-{}-{}", enrolment.id,
                                                                enrolment.steps_done + 1, step.channel),
                                 .envelope = {.severity = CRM_SEVERITY_INFO,
                                              .title = text.substr(0, text.find('\n')),
                                              .text = text,
                                              .recipients = recipients,
                                              .customer_id = customer,
                                              .reason = "winback:" + campaign.playbook_id,
                                              .level = "campaign",
                                              .event = step.kind,
                                              .created_ms = now}},
                                now);
            contacted = 1;
            ++sent_today[step.channel];
            ++pass.messages;
            if (step.kind == "offer") {
              campaign.spent += cost;
              spend.bind(1, cost).bind(2, enrolment.campaign_id).run();
            }
          }
        } else if (step.kind == "task") {
          std::string owner = step.owner.empty() || step.owner == "@account_manager" ? account_manager : step.owner;
          if (owner.empty()) {
            owner = "unassigned";
          }
          outcome = "task for " + owner;
          if (!claim(outcome)) {
            continue;
          }
          task.bind(1, enrolment.id)
              .bind(2, customer)
              .bind(3, owner)
              .bind(4, render(step.text, variables()))
              .bind(5, now)
              .bind(6, now + static_cast<std::int64_t>(std::max(1.0, step.days) * kDayMs))
              .run();
          ++pass.tasks;
          ++facts.open_tasks[enrolment.id];
        } else if (step.kind == "wait") {
          next_ms = now + static_cast<std::int64_t>(step.days * kDayMs);
        } else if (step.kind == "branch") {
          bool holds = false;
          if (step.condition == "ordered_again") {
            const auto order = facts.last_order_ms.find(customer);
            holds = order != facts.last_order_ms.end() && order->second >= enrolment.enrolled_ms;
          } else if (step.condition == "replied") {
            const auto reply = facts.last_inbound_ms.find(customer);
            holds = reply != facts.last_inbound_ms.end() && reply->second >= enrolment.enrolled_ms;
          } else if (step.condition == "ticket_resolved") {
            const auto open = facts.open_complaints.find(customer);
            holds = open == facts.open_complaints.end() || open->second == 0;
          } else if (step.condition == "task_done") {
            // The owner closed every task this enrolment gave them (`crmhost campaigns done`).
            const auto open = facts.open_tasks.find(enrolment.id);
            holds = facts.tasks_done.count(enrolment.id) != 0 && (open == facts.open_tasks.end() || open->second == 0);
          } else if (step.condition == "score_above") {
            const auto band = facts.band.find(customer);
            const auto rank = [&](const std::string& name) {
              return std::find(settings_.band_order.begin(), settings_.band_order.end(), name) -
                     settings_.band_order.begin();
            };
            holds = band != facts.band.end() && rank(band->second) <= rank(step.band);  // that band or better
          }
          outcome = holds ? "condition held" : "condition did not hold";
          if (holds) {
            next_index = step.goto_step;
          }
        } else {  // end
          next_index = -1;
        }
        if (next_index < 0 || next_index >= static_cast<int>(campaign.steps.size())) {
          state = "completed";
          exit_reason = "playbook finished";
          next_index = static_cast<int>(campaign.steps.size());
        }
      }
      if (!claimed && !claim(outcome)) {
        continue;
      }
      move.bind(1, static_cast<std::int64_t>(next_index))
          .bind(2, next_ms)
          .bind(3, state)
          .bind(4, now)
          .bind(5, exit_reason)
          .bind(6, static_cast<std::int64_t>(contacted))
          .bind(7, cost)
          .bind(8, enrolment.id)
          .run();
      ++pass.steps;
      if (state == "completed") {
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
  Transaction transaction(db);
  // Lost customers worth pursuing in no active playbook (and not held out) join the pool.
  db.prepare(
        "INSERT OR IGNORE INTO revival_pool(customer_id, joined_ms) SELECT l.customer_id, ?1 FROM lost_customers l "
        "WHERE l.recovered_ms IS NULL AND coalesce(l.reason, 'other') NOT IN (SELECT value FROM json_each(?2)) AND "
        "NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.customer_id = l.customer_id AND e.state IN ('active', "
        "'holdout'))")
      .bind(1, now)
      .bind(2, nlohmann::json(settings_.excluded_reasons).dump())
      .run();
  db.prepare(
        "DELETE FROM revival_pool WHERE customer_id IN (SELECT customer_id FROM lost_customers WHERE "
        "recovered_ms IS NOT NULL) OR customer_id IN (SELECT customer_id FROM enrolments WHERE state = 'active')")
      .run();
  if (settings_.revival_channel.empty()) {
    transaction.commit();
    return pass;
  }
  const UnifiedCustomers unified(db);
  std::unordered_map<std::int64_t, std::int64_t> new_need_ms;  // the latest new-need signal per customer
  {
    Statement query = db.prepare(
        "SELECT customer_id, max(occurred_at_ms) FROM activities WHERE customer_id IS NOT NULL AND occurred_at_ms <= "
        "?1 AND kind IN (SELECT value FROM json_each(?2)) GROUP BY customer_id");
    query.bind(1, now).bind(2, nlohmann::json(settings_.new_need_activity_kinds).dump());
    while (query.step()) {
      std::int64_t& latest = new_need_ms[unified.of(query.column_int64(0))];
      latest = std::max(latest, query.column_int64(1));
    }
  }
  struct Member {
    std::int64_t customer_id;
    std::int64_t joined_ms;
    std::int64_t last_touch_ms;
    std::int64_t touches;
    std::string name;
    std::string email;
  };
  std::vector<Member> members;
  {
    Statement query = db.prepare(
        "SELECT r.customer_id, r.joined_ms, coalesce(r.last_touch_ms, 0), r.touches, coalesce(c.name, ''), "
        "coalesce((SELECT k.email FROM contacts k WHERE k.customer_id = r.customer_id AND k.email IS NOT NULL AND "
        "k.left_at_ms IS NULL ORDER BY coalesce(k.is_key_contact, 0) DESC, k.id LIMIT 1), '') FROM revival_pool r "
        "LEFT JOIN customers c ON c.id = r.customer_id WHERE r.customer_id NOT IN (SELECT customer_id FROM "
        "do_not_contact)");
    while (query.step()) {
      members.push_back({query.column_int64(0), query.column_int64(1), query.column_int64(2), query.column_int64(3),
                         query.column_text(4), query.column_text(5)});
    }
  }
  const auto interval_ms = static_cast<std::int64_t>(settings_.revival_interval_days * kDayMs);
  Statement touched = db.prepare(
      "UPDATE revival_pool SET last_touch_ms = ?1, touches = touches + 1 WHERE customer_id = ?2 AND touches = ?3");
  Outbox outbox(db);
  for (const Member& member : members) {
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
        render(settings_.revival_text,
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
    touched.bind(1, now).bind(2, member.customer_id).bind(3, member.touches).run();
    ++pass.revival_touches;
  }
  transaction.commit();
  return pass;
}

std::size_t CampaignEngine::close_control_group() {
  Database& db = store_.database();
  const std::int64_t now = clock_.now_ms();
  Transaction transaction(db);
  // The holdout is measured over the recovery window; after it (or once they
  // order again) its customers are free for the revival pool.
  std::size_t closed = convert_recovered("holdout", "ordered again (control group)");
  db.prepare(
        "UPDATE enrolments SET state = 'completed', ended_ms = ?1, exit_reason = 'control window ended' WHERE state = "
        "'holdout' AND enrolled_ms + ?2 * (SELECT recovery_window_days FROM campaigns c WHERE c.id = campaign_id) <= "
        "?1")
      .bind(1, now)
      .bind(2, kDayMs)
      .run();
  closed += static_cast<std::size_t>(db.changes());
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
  Database& db = store_.database();
  db.prepare("UPDATE tasks SET state = 'done', done_ms = ?1, done_by = ?2, outcome = ?3 WHERE id = ?4")
      .bind(1, clock_.now_ms())
      .bind(2, by)
      .bind(3, outcome)
      .bind(4, task_id)
      .run();
  return db.changes() > 0;
}

void CampaignEngine::add_do_not_contact(std::int64_t customer_id, const std::string& reason, const std::string& by) {
  Database& db = store_.database();
  Transaction transaction(db);
  db.prepare(
        "INSERT INTO do_not_contact(customer_id, reason, added_by, added_ms) VALUES (?1, ?2, ?3, ?4) ON "
        "CONFLICT(customer_id) DO UPDATE SET reason = excluded.reason, added_by = excluded.added_by")
      .bind(1, customer_id)
      .bind(2, reason)
      .bind(3, by)
      .bind(4, clock_.now_ms())
      .run();
  db.prepare("UPDATE lost_customers SET eligible = 0, exclusion = 'on the do-not-contact list' WHERE customer_id = ?1")
      .bind(1, customer_id)
      .run();
  transaction.commit();
}

bool CampaignEngine::remove_do_not_contact(std::int64_t customer_id) {
  Database& db = store_.database();
  db.prepare("DELETE FROM do_not_contact WHERE customer_id = ?1").bind(1, customer_id).run();
  const bool removed = db.changes() > 0;
  db.prepare(
        "UPDATE lost_customers SET eligible = 1, exclusion = '' WHERE customer_id = ?1 AND exclusion = 'on the "
        "do-not-contact list'")
      .bind(1, customer_id)
      .run();
  return removed;
}

std::vector<CampaignRow> CampaignEngine::list() {
  std::vector<CampaignRow> rows;
  Database& db = store_.database();
  Statement query =
      db.prepare("SELECT id, playbook_id, playbook_version, coalesce(budget, 0), spent FROM campaigns ORDER BY id");
  Statement states = db.prepare("SELECT state, count(*) FROM enrolments WHERE campaign_id = ?1 GROUP BY state");
  while (query.step()) {
    CampaignRow row{query.column_int64(0),  query.column_text(1),   static_cast<int>(query.column_int64(2)),
                    query.column_double(3), query.column_double(4), {}};
    states.bind(1, row.id);
    while (states.step()) {
      row.enrolments_by_state[states.column_text(0)] = static_cast<std::size_t>(states.column_int64(1));
    }
    states.reset();
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<CampaignReport> CampaignEngine::report(std::int64_t campaign_id) {
  Database& db = store_.database();
  CampaignReport report;
  std::int64_t window_ms = 0;
  {
    Statement query =
        db.prepare("SELECT playbook_id, playbook_version, recovery_window_days FROM campaigns WHERE id = ?1");
    query.bind(1, campaign_id);
    if (!query.step()) {
      return std::nullopt;
    }
    report.campaign_id = campaign_id;
    report.playbook = fmt::format("{} v{}", query.column_text(0), query.column_int64(1));
    window_ms = query.column_int64(2) * kDayMs;
  }
  struct Member {
    std::int64_t enrolled_ms = 0;
    bool holdout = false;
    bool recovered = false;
    double revenue = 0;
  };
  std::unordered_map<std::int64_t, Member> members;
  std::int64_t earliest_ms = std::numeric_limits<std::int64_t>::max();
  {
    Statement query =
        db.prepare("SELECT customer_id, enrolled_ms, holdout, contacted, cost FROM enrolments WHERE campaign_id = ?1");
    query.bind(1, campaign_id);
    while (query.step()) {
      const bool holdout = query.column_int64(2) != 0;
      members[query.column_int64(0)] = {query.column_int64(1), holdout};
      earliest_ms = std::min(earliest_ms, query.column_int64(1));
      ++(holdout ? report.holdout : report.enrolled);
      report.contacted += query.column_int64(3) != 0 ? 1 : 0;
      report.cost += query.column_double(4);
    }
  }
  if (!members.empty()) {
    const UnifiedCustomers unified(db);
    Statement orders = db.prepare(
        "SELECT customer_id, ordered_at_ms, coalesce(amount, 0) FROM orders WHERE customer_id IS NOT NULL AND "
        "ordered_at_ms >= ?1 AND " +
        purchase_condition());
    orders.bind(1, earliest_ms);
    while (orders.step()) {
      const auto found = members.find(unified.of(orders.column_int64(0)));
      if (found == members.end()) {
        continue;
      }
      const std::int64_t at = orders.column_int64(1);
      if (at >= found->second.enrolled_ms && at <= found->second.enrolled_ms + window_ms) {
        found->second.recovered = true;
        found->second.revenue += orders.column_double(2);
      }
    }
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
