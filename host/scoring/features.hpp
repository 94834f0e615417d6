#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loader/scorer_call.hpp"
#include "scoring/settings.hpp"
#include "store/database.hpp"

namespace crm::host {

// Every customer's signals as of one date, columnar: columns[k][i] is feature
// names[k] of customer customer_ids[i] (a unified customer id). NaN = unknown.
struct CustomerFeatures {
  std::int64_t as_of_ms = 0;
  std::vector<std::int64_t> customer_ids;
  std::vector<std::string> names;
  std::vector<std::vector<double>> columns;
  // Each customer's purchase revenue (store/purchases.hpp) in the 365 days
  // before as_of_ms: the value the at-risk list sorts by, not a scorer feature.
  // Empty when the features were not built from the store (then 0 each).
  std::vector<double> revenue_last_year;

  [[nodiscard]] std::size_t size() const { return customer_ids.size(); }
  // The column of `name`; throws std::out_of_range naming it when absent.
  [[nodiscard]] const std::vector<double>& column(std::string_view name) const;
  // Customers [begin, end) with the named features only, as one scorer call's input.
  [[nodiscard]] FeatureBatch slice(std::size_t begin, std::size_t end, const std::vector<std::string>& wanted) const;
  // The customers at `rows` (positions in this set), every feature kept.
  [[nodiscard]] CustomerFeatures subset(const std::vector<std::size_t>& rows) const;
  // The same, for the customers at `rows`.
  [[nodiscard]] FeatureBatch select(const std::vector<std::size_t>& rows, const std::vector<std::string>& wanted) const;
};

// Features the host takes from scorers' outputs, filled while scoring (in
// score_customers) for the scorers that ask for them; build_features leaves
// them unknown. churn_probability: scorer_logit's output of that name (learned
// probability of no purchase in the horizon); p_alive: scorer_bgnbd's.
const std::vector<std::string_view>& scorer_output_feature_names();

// The names build_features computes with these settings, in column order.
std::vector<std::string> feature_names(const FeatureSettings& settings);

// The rows of `features` whose customer bought before its date: the population
// that churn is measured on (training, backtests).
std::vector<std::size_t> buyer_rows(const CustomerFeatures& features);

// Computes every customer's features as of `as_of_ms` from the store: one scan
// per table, nothing dated at or after as_of_ms read (no look-ahead). The
// customer attributes (share of wallet, strategic value, and the attribute
// features of settings.attributes, "attr.*", appended last) carry no date and
// are used as they are now; the attribute features are set for every known
// customer, also one with no dated record.
CustomerFeatures build_features(Database& db, const FeatureSettings& settings, std::int64_t as_of_ms);

// For each customer of `features`, 1 if they made no purchase in
// [from_ms, to_ms) (churned), else 0: the outcome labels of training and backtests.
std::vector<double> churn_labels(Database& db, const CustomerFeatures& features, std::int64_t from_ms,
                                 std::int64_t to_ms);

constexpr std::int64_t kMillisecondsPerDay = 86'400'000;

}  // namespace crm::host
