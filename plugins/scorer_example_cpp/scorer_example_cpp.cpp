// An example scorer written with the SDK's C++ layer: a baseline minus points
// for complaints in the last 90 days and for days since the last login.
#include <algorithm>
#include <cmath>
#include <string>

#include "crm/plugin.hpp"
#include "scorer_example_cpp_manifest.h"

namespace {

class EngagementScorer final : public crm::Scorer {
 public:
  CRM_PLUGIN_METADATA(SCORER_EXAMPLE_CPP)
  static constexpr const char* const kRequiredFeatures[] = {"complaints_window", "days_since_login", nullptr};

  EngagementScorer(const crm::Host& host, std::string_view /*config_json*/) {
    // The host has validated the configuration and filled in the defaults;
    // the typed getters (SDK 1.2) read single values without a JSON library.
    baseline_ = host.config_number("/baseline").value();
    complaint_penalty_ = host.config_number("/complaint_penalty").value();
    login_penalty_per_day_ = host.config_number("/login_penalty_per_day").value();
    host.debug("engagement scorer ready, baseline " + std::to_string(baseline_));
  }

  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    const crm::Column complaints = input.require("complaints_window");
    const crm::Column days_since_login = input.require("days_since_login");
    const std::size_t complaints_index = input.find("complaints_window").value();
    const std::size_t login_index = input.find("days_since_login").value();
    for (std::size_t customer = 0; customer < input.customer_count(); ++customer) {
      // A missing signal costs nothing: absence of evidence is not a complaint.
      const double complaint_points = std::isnan(complaints[customer]) ? 0 : complaints[customer] * complaint_penalty_;
      const double login_points =
          std::isnan(days_since_login[customer]) ? 0 : days_since_login[customer] * login_penalty_per_day_;
      output.set_score(customer, std::clamp(baseline_ - complaint_points - login_points, 0.0, 100.0));
      output.add_contribution(complaints_index, customer, -complaint_points);
      output.add_contribution(login_index, customer, -login_points);
    }
  }

 private:
  double baseline_ = 100;
  double complaint_penalty_ = 10;
  double login_penalty_per_day_ = 0.5;
};

}  // namespace

CRM_EXPORT_PLUGINS(EngagementScorer)
