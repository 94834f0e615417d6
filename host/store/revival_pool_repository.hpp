#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/campaign_types.hpp"
#include "store/database.hpp"

namespace crm::host {

// The revival pool: lost customers worth pursuing in no active playbook, kept
// in touch with now and then. Holds a borrowed connection and the statement a
// pass reuses.
class RevivalPoolRepository {
 public:
  explicit RevivalPoolRepository(Database& db) : db_(db) {}

  // Lost customers not recovered, of no reason in `excluded_reasons`, in no
  // active or holdout enrolment join the pool (joined at `now_ms`); the
  // recovered and the actively enrolled leave it.
  void refresh(std::int64_t now_ms, const std::vector<std::string>& excluded_reasons);
  // Unified customer -> the latest activity of one of `kinds` up to `now_ms`.
  std::unordered_map<std::int64_t, std::int64_t> latest_activity_ms(std::int64_t now_ms,
                                                                    const std::vector<std::string>& kinds,
                                                                    const UnifiedCustomerOf& unified_of);
  // Members not on the do-not-contact list, by customer.
  std::vector<RevivalMember> members();
  // Counts a touch, unless another run counted touch number `touches` + 1 already.
  void touched(std::int64_t customer_id, std::int64_t touches, std::int64_t now_ms);

 private:
  Database& db_;
  std::optional<Statement> touched_;
};

}  // namespace crm::host
