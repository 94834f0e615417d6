#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/campaign_types.hpp"
#include "store/database.hpp"

namespace crm::host {

// Enrolments of lost customers in campaigns and their executed steps: who is
// enrolled, which steps are due, each step claimed under its sequence number,
// and how an enrolment moves, waits and ends. Holds a borrowed connection and
// the statements a pass reuses (one repository per pass: a pass writes one
// row or more per enrolment).
class EnrolmentRepository {
 public:
  explicit EnrolmentRepository(Database& db) : db_(db) {}

  // Eligible lost customers, not recovered, in no active or holdout
  // enrolment and not enrolled since their loss began; by customer.
  std::vector<EnrolmentCandidate> candidates();
  // Takes a candidate out of the campaigns, saying why (lost_customers.exclusion).
  void exclude(std::int64_t customer_id, std::string_view why);
  // A treated ("active", due at once) or a holdout enrolment.
  void enrol(std::int64_t campaign_id, std::int64_t customer_id, bool holdout, std::int64_t now_ms);

  // Ends the enrolments in `state` whose customer churn detection saw order again; how many.
  std::size_t convert_recovered(std::string_view state, std::string_view exit_reason, std::int64_t now_ms);
  // Ends the holdout enrolments whose campaign's recovery window is over; how many.
  std::size_t close_control_windows(std::int64_t now_ms);

  // Active enrolments due at `now_ms`, the longest waiting first.
  std::vector<DueEnrolment> due(std::int64_t now_ms);
  // Records a step; false when its sequence number was recorded already
  // (another run executed it), and then nothing of the step may happen.
  bool claim(const ExecutedStep& step);
  void move(const EnrolmentMove& move);
  void defer(std::int64_t enrolment_id, std::int64_t until_ms);
  // Ends an active enrolment before its step.
  void leave(std::int64_t enrolment_id, std::string_view state, std::string_view exit_reason, std::int64_t now_ms);

  // state -> enrolments of the campaign.
  std::map<std::string, std::size_t> count_by_state(std::int64_t campaign_id);
  std::vector<EnrolmentMember> members(std::int64_t campaign_id);

 private:
  Database& db_;
  std::optional<Statement> exclude_;
  std::optional<Statement> enrol_;
  std::optional<Statement> claim_;
  std::optional<Statement> move_;
  std::optional<Statement> defer_;
  std::optional<Statement> leave_;
  std::optional<Statement> count_by_state_;
};

}  // namespace crm::host
