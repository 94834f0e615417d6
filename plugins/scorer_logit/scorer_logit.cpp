// scorer_logit: logistic regression of "no purchase in the horizon" on the
// logs of recency, frequency, monetary value, recent order counts and the
// recency relative to the customer's own rhythm. Trained by Newton's method
// (the problem is small and convex: a handful of coefficients), features
// standardised with the training means, missing values imputed with them.
#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crm/plugin.hpp"
#include "scorer_logit_manifest.h"

namespace {

constexpr std::size_t kFeatureCount = 6;

struct Model {
  std::array<double, kFeatureCount> mean{};
  std::array<double, kFeatureCount> scale{};
  std::array<double, kFeatureCount> coefficient{};
  double intercept = 0;
};

// log(1 + max(0, v)), NaN kept: counts and amounts are heavy-tailed.
double transform(double value) {
  return std::isnan(value) ? value : std::log1p(std::max(0.0, value));
}

// Solves the (n x n) system a * x = b in place by Gaussian elimination with partial pivoting.
template <std::size_t N>
bool solve(std::array<std::array<double, N>, N>& a, std::array<double, N>& b) {
  for (std::size_t col = 0; col < N; ++col) {
    std::size_t pivot = col;
    for (std::size_t row = col + 1; row < N; ++row) {
      if (std::fabs(a[row][col]) > std::fabs(a[pivot][col])) {
        pivot = row;
      }
    }
    if (std::fabs(a[pivot][col]) < 1e-12) {
      return false;
    }
    std::swap(a[pivot], a[col]);
    std::swap(b[pivot], b[col]);
    for (std::size_t row = col + 1; row < N; ++row) {
      const double factor = a[row][col] / a[col][col];
      for (std::size_t k = col; k < N; ++k) {
        a[row][k] -= factor * a[col][k];
      }
      b[row] -= factor * b[col];
    }
  }
  for (std::size_t col = N; col-- > 0;) {
    for (std::size_t k = col + 1; k < N; ++k) {
      b[col] -= a[col][k] * b[k];
    }
    b[col] /= a[col][col];
  }
  return true;
}

class LogitScorer final : public crm::TrainableScorer {
 public:
  CRM_PLUGIN_METADATA(SCORER_LOGIT)
  static constexpr const char* const kRequiredFeatures[] = {
      "recency_days", "order_count", "monetary_total", "order_count_90d", "order_count_365d", "recency_ratio", nullptr};
  static constexpr const char* const kOutputColumns[] = {"churn_probability", nullptr};

  LogitScorer(const crm::Host& /*host*/, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    l2_ = config.at("l2").get<double>();
    min_customers_ = config.at("min_customers").get<std::size_t>();
  }

  void train(const crm::Host& host, const crm::ScoreInput& features, const double* churned, int horizon_days) override {
    const auto columns = columns_of(features);
    std::vector<std::array<double, kFeatureCount>> rows;
    std::vector<double> labels;
    for (std::size_t i = 0; i < features.customer_count(); ++i) {
      if (std::isnan(churned[i]) || std::isnan(columns[0][i])) {
        continue;
      }
      std::array<double, kFeatureCount> row{};
      for (std::size_t k = 0; k < kFeatureCount; ++k) {
        row[k] = transform(columns[k][i]);
      }
      rows.push_back(row);
      labels.push_back(churned[i] > 0.5 ? 1.0 : 0.0);
    }
    const auto positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1.0));
    if (rows.size() < min_customers_ || positives == 0 || positives == static_cast<double>(rows.size())) {
      throw crm::DataError("cannot train on " + std::to_string(rows.size()) + " customers of whom " +
                           std::to_string(static_cast<long>(positives)) +
                           " churned: both outcomes must occur and at least " + std::to_string(min_customers_) +
                           " customers are needed");
    }
    Model model;
    for (std::size_t k = 0; k < kFeatureCount; ++k) {
      double sum = 0;
      double count = 0;
      for (const auto& row : rows) {
        if (!std::isnan(row[k])) {
          sum += row[k];
          count += 1;
        }
      }
      model.mean[k] = count > 0 ? sum / count : 0;
      double variance = 0;
      for (auto& row : rows) {
        row[k] = std::isnan(row[k]) ? 0.0 : row[k] - model.mean[k];
        variance += row[k] * row[k];
      }
      model.scale[k] = std::sqrt(variance / static_cast<double>(rows.size()));
      if (model.scale[k] < 1e-12) {
        model.scale[k] = 1;
      }
      for (auto& row : rows) {
        row[k] /= model.scale[k];
      }
    }
    // Newton's method on the penalised log-likelihood; parameter 0 is the intercept (not penalised).
    constexpr std::size_t kParameters = kFeatureCount + 1;
    std::array<double, kParameters> beta{};
    bool converged = false;
    int iteration = 0;
    for (; iteration < 50 && !converged; ++iteration) {
      std::array<double, kParameters> gradient{};
      std::array<std::array<double, kParameters>, kParameters> hessian{};
      for (std::size_t i = 0; i < rows.size(); ++i) {
        std::array<double, kParameters> x{};
        x[0] = 1;
        std::copy(rows[i].begin(), rows[i].end(), x.begin() + 1);
        double eta = 0;
        for (std::size_t k = 0; k < kParameters; ++k) {
          eta += beta[k] * x[k];
        }
        const double p = 1 / (1 + std::exp(-eta));
        const double w = std::max(p * (1 - p), 1e-12);
        for (std::size_t k = 0; k < kParameters; ++k) {
          gradient[k] += (labels[i] - p) * x[k];
          for (std::size_t m = 0; m < kParameters; ++m) {
            hessian[k][m] += w * x[k] * x[m];
          }
        }
      }
      for (std::size_t k = 1; k < kParameters; ++k) {
        gradient[k] -= l2_ * beta[k];
        hessian[k][k] += l2_;
      }
      if (!solve(hessian, gradient)) {
        throw crm::DataError("the training data is degenerate (a singular Hessian); add customers or features");
      }
      double step = 0;
      for (std::size_t k = 0; k < kParameters; ++k) {
        beta[k] += gradient[k];
        step = std::max(step, std::fabs(gradient[k]));
      }
      converged = step < 1e-9;
    }
    if (!converged) {
      throw crm::DataError("logistic regression did not converge in 50 Newton steps");
    }
    model.intercept = beta[0];
    std::copy(beta.begin() + 1, beta.end(), model.coefficient.begin());
    model_ = model;
    saved_ =
        nlohmann::json{{"model", "logit"},
                       {"features", std::vector<std::string>(kRequiredFeatures, kRequiredFeatures + kFeatureCount)},
                       {"transform", "log1p"},
                       {"mean", model.mean},
                       {"scale", model.scale},
                       {"coefficients", model.coefficient},
                       {"intercept", model.intercept},
                       {"customers", rows.size()},
                       {"churned", static_cast<long>(positives)},
                       {"newton_steps", iteration},
                       {"horizon_days", horizon_days},
                       {"trained_as_of_ms", features.as_of_ms()}};
    host.info("logistic regression trained on " + std::to_string(rows.size()) + " customers in " +
              std::to_string(iteration) + " Newton steps");
  }

  [[nodiscard]] std::string save_model(const crm::Host& /*host*/) const override {
    if (!model_) {
      throw crm::Error(CRM_STATUS_NOT_FOUND, "no model trained or loaded");
    }
    return saved_.dump();
  }

  void load_model(const crm::Host& /*host*/, std::string_view text) override {
    const auto saved = nlohmann::json::parse(text, nullptr, false);
    if (!saved.is_object() || saved.value("model", "") != "logit") {
      throw crm::DataError("not a logistic-regression model saved by scorer_logit");
    }
    if (saved.at("features") !=
        nlohmann::json(std::vector<std::string>(kRequiredFeatures, kRequiredFeatures + kFeatureCount))) {
      throw crm::DataError("the model was trained on other features (" + saved.at("features").dump() + "); retrain");
    }
    Model model;
    model.mean = saved.at("mean").get<std::array<double, kFeatureCount>>();
    model.scale = saved.at("scale").get<std::array<double, kFeatureCount>>();
    model.coefficient = saved.at("coefficients").get<std::array<double, kFeatureCount>>();
    model.intercept = saved.at("intercept").get<double>();
    model_ = model;
    saved_ = saved;
  }

  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    if (!model_) {
      throw crm::DataError("scorer_logit has no model; run `crmhost train` first");
    }
    const auto columns = columns_of(input);
    std::array<std::size_t, kFeatureCount> index{};
    for (std::size_t k = 0; k < kFeatureCount; ++k) {
      index[k] = *input.find(kRequiredFeatures[k]);
    }
    for (std::size_t i = 0; i < input.customer_count(); ++i) {
      if (std::isnan(columns[0][i])) {
        output.set_score(i, std::nan(""));  // never bought: nothing to predict from
        continue;
      }
      std::array<double, kFeatureCount> terms{};
      double eta = model_->intercept;
      for (std::size_t k = 0; k < kFeatureCount; ++k) {
        const double value = transform(columns[k][i]);
        const double z = std::isnan(value) ? 0.0 : (value - model_->mean[k]) / model_->scale[k];
        terms[k] = model_->coefficient[k] * z;
        eta += terms[k];
      }
      const double churn = 1 / (1 + std::exp(-eta));
      output.set_score(i, 100.0 * (1.0 - churn));
      output.set_output(0, i, churn);
      // First-order effect of each feature, in score points, against the average customer.
      for (std::size_t k = 0; k < kFeatureCount; ++k) {
        output.add_contribution(index[k], i, -100.0 * churn * (1 - churn) * terms[k]);
      }
    }
  }

 private:
  static std::array<crm::Column, kFeatureCount> columns_of(const crm::ScoreInput& input) {
    return {input.require(kRequiredFeatures[0]), input.require(kRequiredFeatures[1]),
            input.require(kRequiredFeatures[2]), input.require(kRequiredFeatures[3]),
            input.require(kRequiredFeatures[4]), input.require(kRequiredFeatures[5])};
  }

  double l2_ = 1;
  std::size_t min_customers_ = 50;
  std::optional<Model> model_;
  nlohmann::json saved_;
};

}  // namespace

CRM_EXPORT_PLUGINS(LogitScorer)
