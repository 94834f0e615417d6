// scorer_rfm: recency, frequency and monetary quintiles (from the host's
// population ranks, so a customer's quintile does not depend on which batch
// it came in), tiers, ABC classes and relationship stages (domain.md section 4).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "crm/plugin.hpp"
#include "scorer_rfm_manifest.h"

namespace {

// Codes of the host's "tier" and "stage" output columns (crm/scorer.h).
constexpr double kStrategic = 0;
constexpr double kKey = 1;
constexpr double kPotential = 2;
constexpr double kGeneral = 3;
constexpr double kDevelopment = 0;
constexpr double kInitial = 1;
constexpr double kStable = 2;
constexpr double kStrategicStage = 3;

double quintile(double rank) {
  return std::isnan(rank) ? rank : std::clamp(std::ceil(rank * 5.0), 1.0, 5.0);
}

class RfmScorer final : public crm::Scorer {
 public:
  CRM_PLUGIN_METADATA(SCORER_RFM)
  static constexpr const char* const kRequiredFeatures[] = {"recency_rank",        "frequency_rank", "monetary_rank",
                                                            "revenue_share_above", "order_count",    "share_of_wallet",
                                                            "strategic_value",     nullptr};
  static constexpr const char* const kOutputColumns[] = {"tier",    "abc_class", "stage", "r_score",
                                                         "f_score", "m_score",   nullptr};
  static constexpr const char* const kReasonCodes[] = {"low_recency", "low_frequency", "low_monetary", nullptr};

  RfmScorer(const crm::Host& /*host*/, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    weights_[0] = config.at("weights").at("recency").get<double>();
    weights_[1] = config.at("weights").at("frequency").get<double>();
    weights_[2] = config.at("weights").at("monetary").get<double>();
    if (weights_[0] + weights_[1] + weights_[2] <= 0) {
      throw crm::ConfigError("weights: recency, frequency and monetary cannot all be 0");
    }
    high_rfm_min_ = config.at("high_rfm_min").get<double>();
    high_strategic_min_ = config.at("high_strategic_min").get<double>();
    abc_a_share_ = config.at("abc_a_share").get<double>();
    abc_b_share_ = config.at("abc_b_share").get<double>();
    if (abc_b_share_ < abc_a_share_) {
      throw crm::ConfigError("abc_b_share must be at least abc_a_share");
    }
    stable_min_ = config.at("stage_stable_min").get<double>();
    strategic_min_ = config.at("stage_strategic_min").get<double>();
  }

  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    const crm::Column ranks[3] = {input.require("recency_rank"), input.require("frequency_rank"),
                                  input.require("monetary_rank")};
    const std::size_t rank_features[3] = {*input.find("recency_rank"), *input.find("frequency_rank"),
                                          *input.find("monetary_rank")};
    const crm::Column share_above = input.require("revenue_share_above");
    const crm::Column orders = input.require("order_count");
    const crm::Column wallet = input.require("share_of_wallet");
    const crm::Column strategic = input.require("strategic_value");
    const double weight_sum = weights_[0] + weights_[1] + weights_[2];
    for (std::size_t i = 0; i < input.customer_count(); ++i) {
      const bool buyer = orders[i] > 0;
      output.set_output(2, i,
                        !buyer                       ? kDevelopment
                        : std::isnan(wallet[i])      ? std::nan("")
                        : wallet[i] < stable_min_    ? kInitial
                        : wallet[i] < strategic_min_ ? kStable
                                                     : kStrategicStage);
      if (!buyer) {
        output.set_output(0, i, std::isnan(strategic[i]) || strategic[i] < high_strategic_min_ ? kGeneral : kPotential);
        output.set_output(1, i, 2);
        output.set_score(i, std::nan(""));
        continue;
      }
      double quintiles[3];
      double score = 100;
      for (int q = 0; q < 3; ++q) {
        quintiles[q] = std::isnan(quintile(ranks[q][i])) ? 1 : quintile(ranks[q][i]);
        output.set_output(3 + static_cast<std::size_t>(q), i, quintiles[q]);
        const double points = -100.0 * weights_[q] / weight_sum * (5.0 - quintiles[q]) / 4.0;
        score += points;
        output.add_contribution(rank_features[q], i, points);
        if (quintiles[q] <= 2) {
          output.add_reason(i, static_cast<unsigned>(q));
        }
      }
      output.set_score(i, std::clamp(score, 0.0, 100.0));
      const bool high_rfm = quintiles[0] + quintiles[1] + quintiles[2] >= high_rfm_min_;
      const bool high_strategic = !std::isnan(strategic[i]) && strategic[i] >= high_strategic_min_;
      output.set_output(0, i,
                        high_rfm ? (high_strategic ? kStrategic : kKey) : (high_strategic ? kPotential : kGeneral));
      const double above = share_above[i];
      output.set_output(1, i, std::isnan(above) || above >= abc_b_share_ ? 2 : above >= abc_a_share_ ? 1 : 0);
    }
  }

 private:
  double weights_[3] = {1, 1, 1};
  double high_rfm_min_ = 10;
  double high_strategic_min_ = 50;
  double abc_a_share_ = 0.8;
  double abc_b_share_ = 0.95;
  double stable_min_ = 0.5;
  double strategic_min_ = 0.8;
};

}  // namespace

CRM_EXPORT_PLUGINS(RfmScorer)
