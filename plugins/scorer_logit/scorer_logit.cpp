// scorer_logit: logistic regression of "no purchase in the horizon" on the
// logs of recency, frequency, monetary value, recent order counts and the
// recency relative to the customer's own rhythm, plus the customer attributes
// the host is configured to pass (the "attr.*" family of ABI 1.4: numbers and
// 0/1 indicators, used as they are). Trained by Newton's method (the problem
// is small and convex: tens of coefficients), features standardised with the
// training means, missing values imputed with them.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crm/plugin.hpp"
#include "scorer_logit_manifest.h"

namespace {

constexpr std::size_t kHistoryFeatureCount = 6;
constexpr std::string_view kAttributePrefix = "attr.";

bool is_attribute(std::string_view name) {
  return name.substr(0, kAttributePrefix.size()) == kAttributePrefix;
}

struct Model {
  std::vector<std::string> features;  // the history features, then the attributes seen in training
  std::vector<double> mean;
  std::vector<double> scale;
  std::vector<double> coefficient;  // 0 for a feature that never varied in training
  double intercept = 0;
};

// Purchase history: log(1 + max(0, v)), NaN kept, as counts and amounts are
// heavy-tailed. Attributes: as they are (numbers and indicators).
double transform(std::string_view name, double value) {
  if (is_attribute(name) || std::isnan(value)) {
    return value;
  }
  return std::log1p(std::max(0.0, value));
}

// Solves the (n x n) system a * x = b in place by Gaussian elimination with partial pivoting.
bool solve(std::vector<std::vector<double>>& a, std::vector<double>& b) {
  const std::size_t n = b.size();
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t row = col + 1; row < n; ++row) {
      if (std::fabs(a[row][col]) > std::fabs(a[pivot][col])) {
        pivot = row;
      }
    }
    if (std::fabs(a[pivot][col]) < 1e-12) {
      return false;
    }
    std::swap(a[pivot], a[col]);
    std::swap(b[pivot], b[col]);
    for (std::size_t row = col + 1; row < n; ++row) {
      const double factor = a[row][col] / a[col][col];
      for (std::size_t k = col; k < n; ++k) {
        a[row][k] -= factor * a[col][k];
      }
      b[row] -= factor * b[col];
    }
  }
  for (std::size_t col = n; col-- > 0;) {
    for (std::size_t k = col + 1; k < n; ++k) {
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
      "recency_days",     "order_count",   "monetary_total", "order_count_90d",
      "order_count_365d", "recency_ratio", "attr.*",         nullptr};
  static constexpr const char* const kOutputColumns[] = {"churn_probability", nullptr};

  LogitScorer(const crm::Host& /*host*/, std::string_view config_json) {
    const auto config = nlohmann::json::parse(config_json);
    l2_ = config.at("l2").get<double>();
    min_customers_ = config.at("min_customers").get<std::size_t>();
  }

  void train(const crm::Host& host, const crm::ScoreInput& features, const double* churned, int horizon_days) override {
    Model model;
    model.features = feature_names_of(features);
    const std::size_t feature_count = model.features.size();
    std::vector<crm::Column> columns;
    for (const std::string& name : model.features) {
      columns.push_back(features.require(name));
    }
    std::vector<std::vector<double>> rows;
    std::vector<double> labels;
    for (std::size_t i = 0; i < features.customer_count(); ++i) {
      if (std::isnan(churned[i]) || !scorable(model.features, columns, i)) {
        continue;
      }
      std::vector<double> row(feature_count);
      for (std::size_t k = 0; k < feature_count; ++k) {
        row[k] = transform(model.features[k], columns[k][i]);
      }
      rows.push_back(std::move(row));
      labels.push_back(churned[i] > 0.5 ? 1.0 : 0.0);
    }
    const auto positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1.0));
    if (rows.size() < min_customers_ || positives == 0 || positives == static_cast<double>(rows.size())) {
      throw crm::DataError("cannot train on " + std::to_string(rows.size()) + " customers of whom " +
                           std::to_string(static_cast<long>(positives)) +
                           " churned: both outcomes must occur and at least " + std::to_string(min_customers_) +
                           " customers are needed");
    }
    model.mean.assign(feature_count, 0);
    model.scale.assign(feature_count, 1);
    model.coefficient.assign(feature_count, 0);
    // The features that vary in training; one that never does (never known, or constant) keeps coefficient 0.
    std::vector<std::size_t> active;
    for (std::size_t k = 0; k < feature_count; ++k) {
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
      const double scale = std::sqrt(variance / static_cast<double>(rows.size()));
      if (scale < 1e-12) {
        continue;
      }
      model.scale[k] = scale;
      for (auto& row : rows) {
        row[k] /= scale;
      }
      active.push_back(k);
    }
    // Newton's method on the penalised log-likelihood; parameter 0 is the intercept (not penalised).
    const std::size_t parameters = active.size() + 1;
    std::vector<double> beta(parameters, 0.0);
    std::vector<double> x(parameters, 0.0);
    bool converged = false;
    int iteration = 0;
    for (; iteration < 50 && !converged; ++iteration) {
      std::vector<double> gradient(parameters, 0.0);
      std::vector<std::vector<double>> hessian(parameters, std::vector<double>(parameters, 0.0));
      for (std::size_t i = 0; i < rows.size(); ++i) {
        x[0] = 1;
        for (std::size_t a = 0; a < active.size(); ++a) {
          x[a + 1] = rows[i][active[a]];
        }
        double eta = 0;
        for (std::size_t k = 0; k < parameters; ++k) {
          eta += beta[k] * x[k];
        }
        const double p = 1 / (1 + std::exp(-eta));
        const double w = std::max(p * (1 - p), 1e-12);
        for (std::size_t k = 0; k < parameters; ++k) {
          gradient[k] += (labels[i] - p) * x[k];
          const double wx = w * x[k];
          for (std::size_t m = 0; m <= k; ++m) {
            hessian[k][m] += wx * x[m];
          }
        }
      }
      for (std::size_t k = 0; k < parameters; ++k) {
        for (std::size_t m = 0; m < k; ++m) {
          hessian[m][k] = hessian[k][m];
        }
      }
      for (std::size_t k = 1; k < parameters; ++k) {
        gradient[k] -= l2_ * beta[k];
        hessian[k][k] += l2_;
      }
      if (!solve(hessian, gradient)) {
        throw crm::DataError("the training data is degenerate (a singular Hessian); add customers or features");
      }
      double step = 0;
      for (std::size_t k = 0; k < parameters; ++k) {
        beta[k] += gradient[k];
        step = std::max(step, std::fabs(gradient[k]));
      }
      converged = step < 1e-9;
    }
    if (!converged) {
      throw crm::DataError("logistic regression did not converge in 50 Newton steps");
    }
    model.intercept = beta[0];
    for (std::size_t a = 0; a < active.size(); ++a) {
      model.coefficient[active[a]] = beta[a + 1];
    }
    saved_ = nlohmann::json{{"model", "logit"},
                            {"features", model.features},
                            {"transform", "log1p of the purchase history; attributes as they are"},
                            {"mean", model.mean},
                            {"scale", model.scale},
                            {"coefficients", model.coefficient},
                            {"intercept", model.intercept},
                            {"customers", rows.size()},
                            {"churned", static_cast<long>(positives)},
                            {"newton_steps", iteration},
                            {"horizon_days", horizon_days},
                            {"trained_as_of_ms", features.as_of_ms()}};
    model_ = std::move(model);
    host.info("logistic regression trained on " + std::to_string(rows.size()) + " customers and " +
              std::to_string(active.size()) + " features in " + std::to_string(iteration) + " Newton steps");
  }

  [[nodiscard]] std::string save_model(const crm::Host& /*host*/) const override {
    if (!model_) {
      throw crm::Error(CRM_STATUS_NOT_FOUND, "no model trained or loaded");
    }
    return saved_.dump();
  }

  // Reads models of every version: one saved before attributes has the six history features only.
  void load_model(const crm::Host& /*host*/, std::string_view text) override {
    const auto saved = nlohmann::json::parse(text, nullptr, false);
    if (!saved.is_object() || saved.value("model", "") != "logit") {
      throw crm::DataError("not a logistic-regression model saved by scorer_logit");
    }
    Model model;
    model.features = saved.at("features").get<std::vector<std::string>>();
    const std::vector<std::string> history(kRequiredFeatures, kRequiredFeatures + kHistoryFeatureCount);
    if (model.features.size() < kHistoryFeatureCount ||
        !std::equal(history.begin(), history.end(), model.features.begin()) ||
        !std::all_of(model.features.begin() + kHistoryFeatureCount, model.features.end(),
                     [](const std::string& name) { return is_attribute(name); })) {
      throw crm::DataError("the model was trained on other features (" + saved.at("features").dump() + "); retrain");
    }
    model.mean = saved.at("mean").get<std::vector<double>>();
    model.scale = saved.at("scale").get<std::vector<double>>();
    model.coefficient = saved.at("coefficients").get<std::vector<double>>();
    model.intercept = saved.at("intercept").get<double>();
    const std::size_t count = model.features.size();
    if (model.mean.size() != count || model.scale.size() != count || model.coefficient.size() != count) {
      throw crm::DataError("the model's mean, scale and coefficients do not match its " + std::to_string(count) +
                           " features; retrain");
    }
    model_ = std::move(model);
    saved_ = saved;
  }

  // A model feature the batch lacks (an attribute no longer configured, a level no longer seen) is
  // imputed with its training mean, as a missing value is.
  void score(const crm::Host& /*host*/, const crm::ScoreInput& input, crm::ScoreOutput& output) override {
    if (!model_) {
      throw crm::DataError("scorer_logit has no model; run `crmhost train` first");
    }
    const std::size_t feature_count = model_->features.size();
    std::vector<std::optional<std::size_t>> index(feature_count);
    std::vector<std::optional<crm::Column>> columns(feature_count);
    for (std::size_t k = 0; k < feature_count; ++k) {
      index[k] = input.find(model_->features[k]);
      if (index[k]) {
        columns[k] = input.column(*index[k]);
      } else if (k < kHistoryFeatureCount) {
        static_cast<void>(input.require(model_->features[k]));  // throws, naming it
      }
    }
    std::vector<double> terms(feature_count);
    for (std::size_t i = 0; i < input.customer_count(); ++i) {
      if (!scorable(model_->features, columns, i)) {
        output.set_score(i, std::nan(""));  // never bought and no attribute: nothing to predict from
        continue;
      }
      double eta = model_->intercept;
      for (std::size_t k = 0; k < feature_count; ++k) {
        const double value = columns[k] ? transform(model_->features[k], (*columns[k])[i]) : std::nan("");
        const double z = std::isnan(value) ? 0.0 : (value - model_->mean[k]) / model_->scale[k];
        terms[k] = model_->coefficient[k] * z;
        eta += terms[k];
      }
      const double churn = 1 / (1 + std::exp(-eta));
      output.set_score(i, 100.0 * (1.0 - churn));
      output.set_output(0, i, churn);
      // First-order effect of each feature, in score points, against the average customer.
      for (std::size_t k = 0; k < feature_count; ++k) {
        if (index[k]) {
          output.add_contribution(*index[k], i, -100.0 * churn * (1 - churn) * terms[k]);
        }
      }
    }
  }

 private:
  // The history features, then every attribute feature of the batch, in its order.
  static std::vector<std::string> feature_names_of(const crm::ScoreInput& input) {
    std::vector<std::string> names(kRequiredFeatures, kRequiredFeatures + kHistoryFeatureCount);
    for (std::size_t k = 0; k < input.feature_count(); ++k) {
      if (is_attribute(input.feature_name(k)) && input.feature_name(k).back() != '*') {
        names.emplace_back(input.feature_name(k));
      }
    }
    return names;
  }

  // A customer can be scored who bought before (recency known) or has any attribute feature known.
  template <class Columns>
  static bool scorable(const std::vector<std::string>& names, const Columns& columns, std::size_t i) {
    for (std::size_t k = 0; k < names.size(); ++k) {
      if ((k == 0 || is_attribute(names[k])) && present(columns[k]) && !std::isnan(value_of(columns[k], i))) {
        return true;
      }
    }
    return false;
  }
  static bool present(const crm::Column& /*column*/) { return true; }
  static bool present(const std::optional<crm::Column>& column) { return column.has_value(); }
  static double value_of(const crm::Column& column, std::size_t i) { return column[i]; }
  static double value_of(const std::optional<crm::Column>& column, std::size_t i) { return (*column)[i]; }

  double l2_ = 1;
  std::size_t min_customers_ = 50;
  std::optional<Model> model_;
  nlohmann::json saved_;
};

}  // namespace

CRM_EXPORT_PLUGINS(LogitScorer)
