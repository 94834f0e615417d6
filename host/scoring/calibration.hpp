#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace crm::host {

// A monotone map from a risk (any scale, higher = more likely to churn) to the
// probability of churning in the horizon, fitted by isotonic regression (pool
// adjacent violators) on customers whose outcome is known. Plain value; any
// thread may read a const one.
struct Calibration {
  std::vector<double> risk_upper;   // ascending: block k holds risks up to risk_upper[k]
  std::vector<double> probability;  // non-decreasing, one per block
  std::size_t customers = 0;        // how many outcomes it was fitted on

  [[nodiscard]] bool empty() const { return probability.empty(); }
  // The probability of the block `risk` falls in (a step function: exactly isotonic); past the
  // riskiest block, that block's. NaN risk, or no fit, gives NaN.
  [[nodiscard]] double apply(double risk) const;
};

// Fits on the pairs whose risk and outcome (1 churned, 0 stayed) are both known.
// Empty when fewer than two outcomes of each kind.
Calibration fit_isotonic(const std::vector<double>& risk, const std::vector<double>& churned);

// How close probabilities came to what happened.
struct ReliabilityBin {
  double predicted_from = 0;  // the bin: predicted probabilities in [from, to)
  double predicted_to = 0;
  std::size_t customers = 0;
  double mean_predicted = 0;  // NaN when empty
  double observed = 0;        // churned share; NaN when empty
};

struct CalibrationQuality {
  double brier = 0;                  // mean squared error of the probability; NaN when none known
  std::vector<ReliabilityBin> bins;  // ten equal-width bins over [0, 1]
};

CalibrationQuality calibration_quality(const std::vector<double>& probability, const std::vector<double>& churned);

// The map as stored with a fit (`{"risk_upper": [...], "probability": [...], "customers": n}`), and
// back; nullopt when the text is not such a map (blocks of unequal length, risks out of order,
// probabilities outside [0, 1] or falling).
std::string calibration_to_json(const Calibration& calibration);
std::optional<Calibration> calibration_from_json(const std::string& text);

}  // namespace crm::host
