#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/campaign_types.hpp"
#include "store/database.hpp"

namespace crm::host {

// The campaigns table (one campaign per playbook version, its budget and what
// it spent) and the reads the win-back engine builds on: the facts its steps
// decide by, the tiers its playbooks match, the messages it queued today, the
// purchases its report measures. Holds a borrowed connection and the
// statements a pass reuses; one per pass or request.
class CampaignRepository {
 public:
  explicit CampaignRepository(Database& db) : db_(db) {}

  [[nodiscard]] std::optional<std::int64_t> find(std::string_view playbook_id, int playbook_version);
  // The new campaign's id.
  std::int64_t insert(const NewCampaign& campaign);
  std::vector<StoredCampaign> all();
  void add_spent(std::int64_t campaign_id, double amount);

  // Every campaign, by id.
  std::vector<CampaignListing> list();
  [[nodiscard]] std::optional<CampaignHeader> header(std::int64_t campaign_id);

  // customer -> tier of the latest scoring run ("" when it has none).
  std::unordered_map<std::int64_t, std::string> latest_tiers();
  // channel -> win-back messages (not alerts) queued in the outbox in [from_ms, to_ms).
  std::map<std::string, std::int64_t> messages_queued(std::int64_t from_ms, std::int64_t to_ms);
  // Orders and replies count from the earliest active enrolment on.
  CampaignFacts read_facts(const UnifiedCustomerOf& unified_of);
  // Every purchase from `since_ms` on, in no particular order.
  void for_each_purchase_since(std::int64_t since_ms, const std::function<void(const ReportPurchase&)>& visit);

 private:
  Database& db_;
  std::optional<Statement> add_spent_;
};

}  // namespace crm::host
