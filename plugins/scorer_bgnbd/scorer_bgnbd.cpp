// scorer_bgnbd: the BG/NBD model as a trainable scorer. train fits the four
// parameters on the customers' (repeat purchases, last purchase, age); score
// gives each customer the probability of at least one purchase in the
// horizon, 1 - exp(-E[purchases]), as the health score.
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bgnbd_model.hpp"
#include "crm/plugin.hpp"
#include "scorer_bgnbd_manifest.h"

namespace {

class BgNbdScorer final : public crm::TrainableScorer {
 public:
  CRM_PLUGIN_METADATA(SCORER_BGNBD)
  static constexpr const char* const kRequiredFeatures[] = {"repeat_purchases", "purchase_span_days", "tenure_days",
                                                            nullptr};
  // purchases_per_year_if_alive: what a customer buys in a year while still a customer
  // (E[purchases] / P(alive) over 365 days), the value of winning back a lost one.
  static constexpr const char* const kOutputColumns[] = {"p_alive", "expected_purchases", "purchases_per_year_if_alive",
                                                         nullptr};

  BgNbdScorer(const crm::Host& /*host*/, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    time_unit_days_ = config.at("time_unit_days").get<double>();
    horizon_days_ = config.at("horizon_days").get<int>();
    min_customers_ = config.at("min_customers").get<std::size_t>();
  }

  void train(const crm::Host& host, const crm::ScoreInput& features, const double* /*churned*/,
             int horizon_days) override {
    std::vector<crm::bgnbd::Customer> customers;
    const crm::Column repeat = features.require("repeat_purchases");
    const crm::Column span = features.require("purchase_span_days");
    const crm::Column age = features.require("tenure_days");
    for (std::size_t i = 0; i < features.customer_count(); ++i) {
      if (const auto customer = customer_at(repeat[i], span[i], age[i]); customer) {
        customers.push_back(*customer);
      }
    }
    if (customers.size() < min_customers_) {
      throw crm::DataError("BG/NBD needs at least " + std::to_string(min_customers_) +
                           " customers with a purchase, got " + std::to_string(customers.size()));
    }
    const crm::bgnbd::FitResult fit = crm::bgnbd::fit(customers);
    if (!fit.converged || !std::isfinite(fit.log_likelihood)) {
      throw crm::DataError("the BG/NBD fit did not converge in " + std::to_string(fit.iterations) + " iterations");
    }
    model_ = nlohmann::json{{"model", "bgnbd"},
                            {"r", fit.parameters.r},
                            {"alpha", fit.parameters.alpha},
                            {"a", fit.parameters.a},
                            {"b", fit.parameters.b},
                            {"log_likelihood", fit.log_likelihood},
                            {"iterations", fit.iterations},
                            {"at_boundary", fit.at_boundary},
                            {"customers", customers.size()},
                            {"time_unit_days", time_unit_days_},
                            {"horizon_days", horizon_days},
                            {"trained_as_of_ms", features.as_of_ms()},
                            {"features", {"repeat_purchases", "purchase_span_days", "tenure_days"}}};
    parameters_ = fit.parameters;
    trained_horizon_days_ = horizon_days;
    if (fit.at_boundary) {
      host.warn(
          "BG/NBD: the likelihood peaks where no customer drops out (a -> 0, b -> infinity); the model "
          "reduces to the NBD purchase rate");
    }
    host.info("BG/NBD fitted on " + std::to_string(customers.size()) +
              " customers: r=" + std::to_string(fit.parameters.r) + " alpha=" + std::to_string(fit.parameters.alpha) +
              " a=" + std::to_string(fit.parameters.a) + " b=" + std::to_string(fit.parameters.b));
  }

  [[nodiscard]] std::string save_model(const crm::Host& /*host*/) const override {
    if (!parameters_) {
      throw crm::Error(CRM_STATUS_NOT_FOUND, "no model trained or loaded");
    }
    return model_.dump();
  }

  void load_model(const crm::Host& /*host*/, std::string_view text) override {
    const auto model = nlohmann::json::parse(text, nullptr, false);
    if (!model.is_object() || model.value("model", "") != "bgnbd") {
      throw crm::DataError("not a BG/NBD model saved by scorer_bgnbd");
    }
    if (model.value("time_unit_days", 0.0) != time_unit_days_) {
      throw crm::DataError("the model was fitted with time_unit_days " +
                           std::to_string(model.value("time_unit_days", 0.0)) + ", the configuration says " +
                           std::to_string(time_unit_days_) + "; retrain");
    }
    parameters_ = crm::bgnbd::Parameters{model.at("r").get<double>(), model.at("alpha").get<double>(),
                                         model.at("a").get<double>(), model.at("b").get<double>()};
    trained_horizon_days_ = model.value("horizon_days", 90);
    model_ = model;
  }

  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    if (!parameters_) {
      throw crm::DataError("scorer_bgnbd has no model; run `crmhost train` first");
    }
    const double horizon = (horizon_days_ > 0 ? horizon_days_ : trained_horizon_days_) / time_unit_days_;
    const crm::Column repeat = input.require("repeat_purchases");
    const crm::Column span = input.require("purchase_span_days");
    const crm::Column age = input.require("tenure_days");
    for (std::size_t i = 0; i < input.customer_count(); ++i) {
      const auto customer = customer_at(repeat[i], span[i], age[i]);
      if (!customer) {
        output.set_score(i, std::nan(""));
        continue;
      }
      const double expected = crm::bgnbd::expected_purchases(*parameters_, *customer, horizon);
      output.set_score(i, 100.0 * (1.0 - std::exp(-std::max(0.0, expected))));
      const double alive = crm::bgnbd::probability_alive(*parameters_, *customer);
      output.set_output(0, i, alive);
      output.set_output(1, i, expected);
      constexpr double kYearDays = 365.0;
      output.set_output(
          2, i,
          alive > 1e-12 ? crm::bgnbd::expected_purchases(*parameters_, *customer, kYearDays / time_unit_days_) / alive
                        : std::nan(""));
    }
  }

 private:
  [[nodiscard]] std::optional<crm::bgnbd::Customer> customer_at(double repeat, double span, double age) const {
    if (std::isnan(repeat) || std::isnan(span) || std::isnan(age) || repeat < 0) {
      return std::nullopt;
    }
    return crm::bgnbd::Customer{repeat, span / time_unit_days_, age / time_unit_days_};
  }

  double time_unit_days_ = 7;
  int horizon_days_ = 0;
  int trained_horizon_days_ = 90;
  std::size_t min_customers_ = 20;
  std::optional<crm::bgnbd::Parameters> parameters_;
  nlohmann::json model_;
};

}  // namespace

CRM_EXPORT_PLUGINS(BgNbdScorer)
