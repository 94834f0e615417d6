#include "app/overview.hpp"

#include <cmath>
#include <fmt/format.h>

#include "app/errors.hpp"

namespace crm::host {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

// A band's place in the configuration's list (0: the healthiest), or nullopt.
std::optional<std::size_t> band_rank(const ScoringSettings& settings, const std::string& band) {
  for (std::size_t i = 0; i < settings.bands.size(); ++i) {
    if (settings.bands[i].name == band) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace

Overview read_overview(Session& session, std::int64_t period_days, const std::vector<PluginRecord>* plugins) {
  if (period_days < 1 || period_days > kMaxOverviewPeriodDays) {
    throw InvalidRequest(fmt::format("the period must be 1 to {} days, not {}", kMaxOverviewPeriodDays, period_days));
  }
  Overview overview;
  overview.as_of_ms = session.clock().now_ms();
  {
    const StoreHandle store = session.open_store();
    OverviewRepository reads(store->database());
    overview.band_history = reads.band_history(kOverviewRuns);
    // The period ends at the latest scoring run's as-of date, as every other figure of the
    // store does (today on a live host; a replay of history, such as the demo, is seen as of its date).
    overview.lost_period_start_ms =
        (overview.band_history.empty() ? overview.as_of_ms : overview.band_history.back().as_of_ms) -
        period_days * kDayMs;
    if (overview.band_history.size() >= 2) {
      const ScoringSettings& settings = session.config().scoring;
      BandChangeSummary& changes = overview.band_changes;
      changes.since_run_id = overview.band_history[overview.band_history.size() - 2].run_id;
      for (BandTransition& transition : reads.band_transitions(overview.band_history.back().run_id)) {
        if (transition.from_band.empty() || transition.to_band.empty() || transition.from_band == transition.to_band) {
          continue;
        }
        const std::optional<std::size_t> from = band_rank(settings, transition.from_band);
        const std::optional<std::size_t> to = band_rank(settings, transition.to_band);
        if (from && to) {
          (*to > *from ? changes.worse : changes.better) += transition.customer_count;
        }
        changes.transitions.push_back(std::move(transition));
      }
    }
    overview.alerts = reads.open_alerts(overview.as_of_ms);
    overview.lost_by_reason = reads.lost_by_reason(overview.lost_period_start_ms);
    const auto mass_churn_period_ms =
        static_cast<std::int64_t>(std::llround(session.config().winback.mass_churn_period_days * kDayMs));
    overview.mass_churn = reads.mass_churn_events(overview.lost_period_start_ms - mass_churn_period_ms + 1);
    overview.winback = reads.winback_funnel();
  }
  overview.connectors = plugins != nullptr ? list_connectors(session, *plugins) : list_connectors(session);
  return overview;
}

}  // namespace crm::host
