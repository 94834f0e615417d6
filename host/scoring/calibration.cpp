#include "scoring/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

namespace crm::host {

double Calibration::apply(double risk) const {
  if (std::isnan(risk) || probability.empty()) {
    return std::nan("");
  }
  const auto found = std::lower_bound(risk_upper.begin(), risk_upper.end(), risk);
  // Past the highest risk seen in training: the riskiest block's probability.
  const std::size_t block =
      found == risk_upper.end() ? probability.size() - 1 : static_cast<std::size_t>(found - risk_upper.begin());
  return probability[block];
}

Calibration fit_isotonic(const std::vector<double>& risk, const std::vector<double>& churned) {
  std::vector<std::size_t> order;
  std::size_t positives = 0;
  for (std::size_t i = 0; i < risk.size() && i < churned.size(); ++i) {
    if (!std::isnan(risk[i]) && !std::isnan(churned[i])) {
      order.push_back(i);
      positives += churned[i] > 0.5 ? 1 : 0;
    }
  }
  Calibration calibration;
  if (positives < 2 || order.size() - positives < 2) {
    return calibration;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return risk[a] < risk[b]; });
  // Equal risks form one block first, so the map is a function of the risk.
  struct Block {
    double sum = 0;
    double count = 0;
    double upper = 0;
  };
  std::vector<Block> blocks;
  for (std::size_t at = 0; at < order.size();) {
    std::size_t end = at;
    Block block{0, 0, risk[order[at]]};
    while (end < order.size() && risk[order[end]] == risk[order[at]]) {
      block.sum += churned[order[end]] > 0.5 ? 1 : 0;
      block.count += 1;
      ++end;
    }
    blocks.push_back(block);
    // Pool adjacent violators: merge backwards while the mean falls.
    while (blocks.size() > 1 &&
           blocks[blocks.size() - 2].sum / blocks[blocks.size() - 2].count >= blocks.back().sum / blocks.back().count) {
      Block last = blocks.back();
      blocks.pop_back();
      blocks.back().sum += last.sum;
      blocks.back().count += last.count;
      blocks.back().upper = last.upper;
    }
    at = end;
  }
  for (const Block& block : blocks) {
    calibration.risk_upper.push_back(block.upper);
    calibration.probability.push_back(block.sum / block.count);
  }
  calibration.customers = order.size();
  return calibration;
}

CalibrationQuality calibration_quality(const std::vector<double>& probability, const std::vector<double>& churned) {
  constexpr std::size_t kBins = 10;
  CalibrationQuality quality;
  quality.bins.resize(kBins);
  std::vector<double> predicted_sum(kBins, 0);
  std::vector<double> churned_sum(kBins, 0);
  double squared = 0;
  std::size_t known = 0;
  for (std::size_t i = 0; i < probability.size() && i < churned.size(); ++i) {
    if (std::isnan(probability[i]) || std::isnan(churned[i])) {
      continue;
    }
    const double outcome = churned[i] > 0.5 ? 1 : 0;
    squared += (probability[i] - outcome) * (probability[i] - outcome);
    ++known;
    const std::size_t bin = std::min(kBins - 1, static_cast<std::size_t>(std::max(0.0, probability[i]) * kBins));
    ++quality.bins[bin].customers;
    predicted_sum[bin] += probability[i];
    churned_sum[bin] += outcome;
  }
  quality.brier = known == 0 ? std::nan("") : squared / static_cast<double>(known);
  for (std::size_t b = 0; b < kBins; ++b) {
    ReliabilityBin& bin = quality.bins[b];
    bin.predicted_from = static_cast<double>(b) / kBins;
    bin.predicted_to = static_cast<double>(b + 1) / kBins;
    const auto count = static_cast<double>(bin.customers);
    bin.mean_predicted = bin.customers == 0 ? std::nan("") : predicted_sum[b] / count;
    bin.observed = bin.customers == 0 ? std::nan("") : churned_sum[b] / count;
  }
  return quality;
}

std::string calibration_to_json(const Calibration& calibration) {
  return nlohmann::json{{"risk_upper", calibration.risk_upper},
                        {"probability", calibration.probability},
                        {"customers", calibration.customers}}
      .dump();
}

std::optional<Calibration> calibration_from_json(const std::string& text) {
  const nlohmann::json stored = nlohmann::json::parse(text, nullptr, false);
  if (!stored.is_object() || !stored.contains("risk_upper") || !stored["risk_upper"].is_array() ||
      !stored.contains("probability") || !stored["probability"].is_array() || !stored.contains("customers") ||
      !stored["customers"].is_number_unsigned()) {
    return std::nullopt;
  }
  Calibration calibration;
  for (const auto& value : stored["risk_upper"]) {
    if (!value.is_number()) {
      return std::nullopt;
    }
    calibration.risk_upper.push_back(value.get<double>());
  }
  for (const auto& value : stored["probability"]) {
    if (!value.is_number()) {
      return std::nullopt;
    }
    calibration.probability.push_back(value.get<double>());
  }
  calibration.customers = stored["customers"].get<std::size_t>();
  // A map that is not monotone, or whose blocks do not pair up, would give probabilities that contradict the
  // score: refuse it rather than show them.
  if (calibration.risk_upper.size() != calibration.probability.size() ||
      !std::is_sorted(calibration.risk_upper.begin(), calibration.risk_upper.end()) ||
      !std::is_sorted(calibration.probability.begin(), calibration.probability.end()) ||
      std::any_of(calibration.probability.begin(), calibration.probability.end(),
                  [](double p) { return !(p >= 0 && p <= 1); })) {
    return std::nullopt;
  }
  return calibration;
}

}  // namespace crm::host
