#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace crm::host {

// How features are computed: the windows and the domain's reference values
// (domain.md sections 3 and 4). Every number is a default the "features"
// section of the host configuration may change.
struct FeatureSettings {
  // Recency/frequency/monetary windows: order_count_<w>d and monetary_<w>d.
  std::vector<int> windows_days = {30, 90, 180, 365};
  // "This period vs the previous one" for purchase volume, frequency and communication.
  int period_days = 90;
  // Logins counted in the last N days (the domain's "3 months").
  int login_window_days = 90;
  // Document downloads: the last N days against the N before.
  int downloads_window_days = 30;
  // Complaints counted in the last N days.
  int complaints_window_days = 90;
  // A key contact change (owner changed or left) in the last N days counts.
  int contact_change_window_days = 90;
  // NPS is compared with the mean of the customer's industry; "*" is the fallback.
  std::map<std::string, double> industry_nps_mean = {{"*", 30.0}};
  // Days allowed between two follow-ups, by tier (strategic 2 a month, key 1 a month, general 1 a quarter).
  std::map<std::string, int> followup_interval_days = {
      {"strategic", 15}, {"key", 30}, {"potential", 90}, {"general", 90}};
  // Customer attributes (as connectors wrote them, names as written) used as
  // features, the "attr.*" family (crm/scorer.h): a numeric one becomes
  // "attr.<name>", a categorical one a 0/1 indicator "attr.<name>=<level>"
  // per level seen in the store. Empty: none.
  enum class AttributeKind { numeric, categorical };
  std::map<std::string, AttributeKind> attributes;
  // Connections that read the orders at once, each a range of customers (0:
  // one per core, at most 4, when the store has at least
  // parallel_scan_min_customers customers). Not in the configuration: the
  // host's own tuning, set by tests to exercise both paths.
  unsigned order_scan_connections = 0;
  std::size_t parallel_scan_min_customers = 50'000;
};

// The prefix of every attribute feature's name.
inline constexpr std::string_view kAttributeFeaturePrefix = "attr.";

// One health band: a score at or above min_score (and below the band above)
// belongs to it, owned by `owner`, who must respond within response_hours.
struct BandRule {
  std::string name;
  double min_score = 0;
  std::string owner;
  int response_hours = 0;
};

struct ScoringSettings {
  // Highest band first (domain.md sections 3 and 5).
  std::vector<BandRule> bands = {{"green", 80, "account_manager", 0},
                                 {"yellow", 70, "csm", 48},
                                 {"orange", 60, "cs_director", 24},
                                 {"red", 0, "coo", 24}};
  // The scorer whose score places customers in bands; empty: the first loaded.
  std::string primary_scorer = "scorer_health";
  // Customers per plugin call.
  std::size_t batch_size = 65'536;
  // Days without a purchase that count as churn: what `crmhost train` labels by default, and the
  // horizon of the churn probability every run stores ("38 % likely to stop buying within 90 days").
  int horizon_days = 90;
  // Reasons and features in plain words, e.g. {"volume_drop": "采购量下降超过20%"}.
  std::map<std::string, std::string> labels;
};

// The band a score falls in (the last band when the score is NaN).
const BandRule& band_of(const ScoringSettings& settings, double score);

// Parse the "features" / "scoring" sections (already schema-checked by the host config).
FeatureSettings parse_feature_settings(const nlohmann::json& section);
ScoringSettings parse_scoring_settings(const nlohmann::json& section);

// The JSON Schema fragments of those sections, embedded in the host configuration's schema.
extern const char* const kFeatureSettingsSchema;
extern const char* const kScoringSettingsSchema;

}  // namespace crm::host
