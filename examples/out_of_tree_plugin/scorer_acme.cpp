// A scorer a vendor builds against the installed SDK (C++17).
#include <algorithm>
#include <cmath>
#include <string>

#include "crm/plugin.hpp"
#include "scorer_acme_manifest.h"

namespace {

class AcmeScorer final : public crm::Scorer {
 public:
  CRM_PLUGIN_METADATA(SCORER_ACME)
  static constexpr const char* const kRequiredFeatures[] = {"payment_delay_days", nullptr};

  AcmeScorer(const crm::Host& host, std::string_view /*config_json*/) {
    // No JSON library needed: the host hands out typed single values (SDK 1.2).
    points_per_overdue_day_ = host.config_number("/points_per_overdue_day").value_or(2);
  }

  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    const crm::Column delay = input.require("payment_delay_days");
    const std::size_t delay_index = input.find("payment_delay_days").value();
    for (std::size_t i = 0; i < input.customer_count(); ++i) {
      const double lost = std::isnan(delay[i]) ? 0 : std::max(0.0, delay[i]) * points_per_overdue_day_;
      output.set_score(i, std::max(0.0, 100.0 - lost));
      output.add_contribution(delay_index, i, -std::min(lost, 100.0));
    }
  }

 private:
  double points_per_overdue_day_ = 2;
};

}  // namespace

CRM_EXPORT_PLUGINS(AcmeScorer)
