#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/plugin_host.hpp"
#include "scoring/calibration.hpp"
#include "scoring/features.hpp"
#include "scoring/settings.hpp"
#include "store/score_run_repository.hpp"
#include "store/store.hpp"

namespace crm::host {

// What one scorer said about every customer of a CustomerFeatures.
struct ScorerOutcome {
  std::string scorer_id;
  std::string model;  // "<scorer version>" or "<scorer version>+model <id>"
  std::vector<double> scores;
  std::vector<std::string> reason_names;
  std::vector<std::uint64_t> reasons;  // empty when the scorer reports none
  std::vector<std::string> output_names;
  std::vector<std::vector<double>> outputs;
  // The five largest contributions (feature name index into feature_names, points), when explained.
  std::vector<std::string> feature_names;
  std::vector<std::array<std::pair<std::int16_t, float>, 5>> top_contributions;

  // The output column `name`, or nullptr.
  [[nodiscard]] const std::vector<double>* output(std::string_view name) const;
};

struct ScoringResult {
  std::vector<ScorerOutcome> scorers;
  std::optional<std::size_t> primary;  // index into scorers of the banding scorer
  std::vector<std::string> skipped;    // "<id>: <why>" for scorers that could not score
};

// Scorers among the loaded plugins, in load order.
std::vector<LoadedPlugin*> loaded_scorers(PluginHost& plugins);

// Loads the newest stored model of every trainable scorer; returns the scorers
// without one (they cannot score until `crmhost train`).
// `model_labels` gets "<version>+model <id>" per scorer that has a model.
std::vector<std::string> load_stored_models(Store& store, PluginHost& plugins,
                                            std::map<std::string, std::string>& model_labels);

// Scores every customer through every scorer in `scorers` (nullopt: all loaded),
// batch by batch. `progress(done, total)` after each batch.
ScoringResult score_customers(PluginHost& plugins, const CustomerFeatures& features, const ScoringSettings& settings,
                              bool explain, const std::function<void(std::size_t, std::size_t)>& progress,
                              const std::vector<std::string>& untrained = {});

// The reason codes stored with a customer's score ("a,b,c"), in order.
std::vector<std::string> split_reason_codes(std::string_view stored);

// Labels of the codes the host knows ("tier", "abc_class", "stage"); empty when none.
std::string output_label(std::string_view column, double code);

// Compares the rows of a run being written with the customers' rows in the
// finished run before it, read once at construction (one ordered scan, no
// join in the database): the score change of each row, and the run's band
// changes. A change is a customer with a row in both runs whose band now is
// set and differs from the band before (empty from_band: none before). Used
// by store_scoring_run() and by anything else that writes a run's rows.
// Single-threaded; borrows `runs` during construction and `customer_ids`
// for its whole life.
class RunComparison {
 public:
  // `customer_ids`: the run's customers; compare() takes positions in it.
  RunComparison(ScoreRunRepository& runs, std::int64_t run_id, const std::vector<std::int64_t>& customer_ids);
  // Records the customer at `position` (its score and band in the new run);
  // returns the score minus the score before, when both exist.
  std::optional<double> compare(std::size_t position, std::optional<double> score,
                                std::optional<std::string_view> band);
  // The band changes recorded, the lowest score first (then by customer id).
  std::vector<BandChange> take_changes();

 private:
  const std::vector<std::int64_t>& customer_ids_;
  std::vector<char> had_row_;
  std::vector<double> score_;  // NaN: no score before
  std::vector<std::optional<std::string>> band_;
  std::vector<BandChange> changes_;
};

// A stored scoring run: its id, and the customers whose band differs from
// the finished run before it, the lowest score first (BandChange is declared
// with the store's score runs).
struct StoredScoringRun {
  std::int64_t run_id = 0;
  std::vector<BandChange> changes;
};

// The calibration a scoring run applies to the band-deciding score: each
// customer's probability of churning within horizon_days (a stored map, id
// its calibrations row).
struct RunCalibration {
  std::int64_t id = 0;
  int horizon_days = 0;
  Calibration map;
};

// The sentence shown where a churn probability would be, when no calibration fits a run yet.
inline constexpr const char* kNoCalibrationYet = "no calibration yet: run `crmhost train`";

// The risk a calibration maps to a probability, from a band-deciding (health) score: higher, likelier to churn.
inline double churn_risk_of_score(double score) {
  return 100.0 - score;
}

// Stores one scoring run, with its counts by band for the overview, in one transaction. With a
// calibration, every scored customer's churn probability and the run's horizon are stored too.
StoredScoringRun store_scoring_run(Store& store, const CustomerFeatures& features, const ScoringResult& result,
                                   const ScoringSettings& settings, std::int64_t now_ms,
                                   const RunCalibration* calibration = nullptr);

// Stores a trained model; returns its id.
std::int64_t store_model(Store& store, const std::string& scorer_id, const std::string& scorer_version,
                         std::int64_t trained_ms, std::int64_t as_of_ms, int horizon_days, std::size_t customer_count,
                         const std::string& model);

}  // namespace crm::host
