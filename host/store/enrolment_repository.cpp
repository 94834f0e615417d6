#include "store/enrolment_repository.hpp"

namespace crm::host {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

Statement& prepared(Database& db, std::optional<Statement>& slot, std::string_view sql) {
  if (!slot) {
    slot.emplace(db.prepare(sql));
  }
  return *slot;
}

}  // namespace

std::vector<EnrolmentCandidate> EnrolmentRepository::candidates() {
  std::vector<EnrolmentCandidate> candidates;
  Statement query = db_.prepare(
      "SELECT l.customer_id, coalesce(l.reason, 'other'), coalesce(l.expected_value, 0) FROM lost_customers l WHERE "
      "l.eligible = 1 AND l.recovered_ms IS NULL AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.customer_id = "
      "l.customer_id AND (e.state IN ('active', 'holdout') OR e.enrolled_ms >= l.churn_date_ms)) ORDER BY "
      "l.customer_id");
  while (query.step()) {
    candidates.push_back({query.column_int64(0), query.column_text(1), query.column_double(2)});
  }
  return candidates;
}

void EnrolmentRepository::exclude(std::int64_t customer_id, std::string_view why) {
  prepared(db_, exclude_, "UPDATE lost_customers SET eligible = 0, exclusion = ?1 WHERE customer_id = ?2")
      .bind(1, why)
      .bind(2, customer_id)
      .run();
}

void EnrolmentRepository::enrol(std::int64_t campaign_id, std::int64_t customer_id, bool holdout, std::int64_t now_ms) {
  prepared(db_, enrol_,
           "INSERT INTO enrolments(campaign_id, customer_id, holdout, state, next_step_ms, enrolled_ms) VALUES (?1, "
           "?2, ?3, ?4, ?5, ?5)")
      .bind(1, campaign_id)
      .bind(2, customer_id)
      .bind(3, static_cast<std::int64_t>(holdout ? 1 : 0))
      .bind(4, std::string_view(holdout ? "holdout" : "active"))
      .bind(5, now_ms)
      .run();
}

std::size_t EnrolmentRepository::convert_recovered(std::string_view state, std::string_view exit_reason,
                                                   std::int64_t now_ms) {
  db_.prepare(
         "UPDATE enrolments SET state = 'converted', ended_ms = ?1, exit_reason = ?2 WHERE state = ?3 AND "
         "customer_id IN (SELECT customer_id FROM lost_customers WHERE recovered_ms IS NOT NULL)")
      .bind(1, now_ms)
      .bind(2, exit_reason)
      .bind(3, state)
      .run();
  return static_cast<std::size_t>(db_.changes());
}

std::size_t EnrolmentRepository::close_control_windows(std::int64_t now_ms) {
  db_.prepare(
         "UPDATE enrolments SET state = 'completed', ended_ms = ?1, exit_reason = 'control window ended' WHERE state "
         "= 'holdout' AND enrolled_ms + CAST(?2 AS BIGINT) * (SELECT recovery_window_days FROM campaigns c WHERE c.id "
         "= campaign_id) <= ?1")
      .bind(1, now_ms)
      .bind(2, kDayMs)
      .run();
  return static_cast<std::size_t>(db_.changes());
}

std::vector<DueEnrolment> EnrolmentRepository::due(std::int64_t now_ms) {
  std::vector<DueEnrolment> due;
  Statement query = db_.prepare(
      "SELECT id, campaign_id, customer_id, step_index, steps_done, enrolled_ms, coalesce(last_contact_ms, 0) FROM "
      "enrolments WHERE state = 'active' AND next_step_ms <= ?1 ORDER BY next_step_ms, id");
  query.bind(1, now_ms);
  while (query.step()) {
    due.push_back({query.column_int64(0), query.column_int64(1), query.column_int64(2),
                   static_cast<int>(query.column_int64(3)), query.column_int64(4), query.column_int64(5),
                   query.column_int64(6)});
  }
  return due;
}

bool EnrolmentRepository::claim(const ExecutedStep& step) {
  prepared(db_, claim_,
           "INSERT INTO enrolment_steps(enrolment_id, sequence, step_index, kind, executed_ms, outcome) VALUES (?1, "
           "?2, ?3, ?4, ?5, ?6) ON CONFLICT (enrolment_id, sequence) DO NOTHING")
      .bind(1, step.enrolment_id)
      .bind(2, step.sequence)
      .bind(3, step.step_index)
      .bind(4, step.kind)
      .bind(5, step.executed_ms)
      .bind(6, step.outcome)
      .run();
  return db_.changes() > 0;
}

void EnrolmentRepository::move(const EnrolmentMove& move) {
  // `contacted` only ever goes from 0 to 1; the last contact is the step's time.
  prepared(db_, move_,
           "UPDATE enrolments SET step_index = ?1, steps_done = steps_done + 1, next_step_ms = ?2, state = ?3, "
           "ended_ms = CASE WHEN CAST(?3 AS TEXT) = 'active' THEN NULL ELSE CAST(?4 AS BIGINT) END, exit_reason = ?5, "
           "contacted = CASE WHEN CAST(?6 AS BIGINT) = 1 THEN 1 ELSE contacted END, last_contact_ms = CASE WHEN "
           "CAST(?6 AS BIGINT) = 1 THEN CAST(?4 AS BIGINT) ELSE last_contact_ms END, cost = cost + ?7 WHERE id = ?8")
      .bind(1, move.next_step_index)
      .bind(2, move.next_step_ms)
      .bind(3, move.state)
      .bind(4, move.now_ms)
      .bind(5, move.exit_reason)
      .bind(6, static_cast<std::int64_t>(move.contacted ? 1 : 0))
      .bind(7, move.cost)
      .bind(8, move.enrolment_id)
      .run();
}

void EnrolmentRepository::defer(std::int64_t enrolment_id, std::int64_t until_ms) {
  prepared(db_, defer_, "UPDATE enrolments SET next_step_ms = ?1 WHERE id = ?2")
      .bind(1, until_ms)
      .bind(2, enrolment_id)
      .run();
}

void EnrolmentRepository::leave(std::int64_t enrolment_id, std::string_view state, std::string_view exit_reason,
                                std::int64_t now_ms) {
  prepared(db_, leave_,
           "UPDATE enrolments SET state = ?1, ended_ms = ?2, exit_reason = ?3 WHERE id = ?4 AND state = 'active'")
      .bind(1, state)
      .bind(2, now_ms)
      .bind(3, exit_reason)
      .bind(4, enrolment_id)
      .run();
}

std::map<std::string, std::size_t> EnrolmentRepository::count_by_state(std::int64_t campaign_id) {
  std::map<std::string, std::size_t> counts;
  Statement& query =
      prepared(db_, count_by_state_, "SELECT state, count(*) FROM enrolments WHERE campaign_id = ?1 GROUP BY state");
  query.bind(1, campaign_id);
  while (query.step()) {
    counts[query.column_text(0)] = static_cast<std::size_t>(query.column_int64(1));
  }
  query.reset();
  return counts;
}

std::vector<EnrolmentMember> EnrolmentRepository::members(std::int64_t campaign_id) {
  std::vector<EnrolmentMember> members;
  Statement query =
      db_.prepare("SELECT customer_id, enrolled_ms, holdout, contacted, cost FROM enrolments WHERE campaign_id = ?1");
  query.bind(1, campaign_id);
  while (query.step()) {
    members.push_back({query.column_int64(0), query.column_int64(1), query.column_int64(2) != 0,
                       query.column_int64(3) != 0, query.column_double(4)});
  }
  return members;
}

}  // namespace crm::host
