#include "store/overview_repository.hpp"

#include <algorithm>

namespace crm::host {

namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

}  // namespace

std::vector<RunBandCounts> OverviewRepository::band_history(std::size_t limit) {
  std::vector<RunBandCounts> runs;
  Statement newest =
      db_.prepare("SELECT id, as_of_ms FROM score_runs WHERE finished_ms IS NOT NULL ORDER BY id DESC LIMIT ?1");
  newest.bind(1, static_cast<std::int64_t>(limit));
  while (newest.step()) {
    runs.push_back({newest.column_int64(0), newest.column_int64(1), {}});
  }
  if (runs.empty()) {
    return runs;
  }
  std::reverse(runs.begin(), runs.end());
  Statement bands = db_.prepare(
      "SELECT run_id, to_band, CAST(sum(customer_count) AS BIGINT) FROM score_run_bands WHERE run_id >= ?1 AND run_id "
      "<= ?2 AND "
      "to_band != '' GROUP BY run_id, to_band ORDER BY run_id, to_band");
  bands.bind(1, runs.front().run_id).bind(2, runs.back().run_id);
  auto run = runs.begin();
  while (bands.step()) {
    const std::int64_t run_id = bands.column_int64(0);
    while (run != runs.end() && run->run_id < run_id) {
      ++run;
    }
    if (run != runs.end() && run->run_id == run_id) {  // not an unfinished run between the finished ones
      run->bands[bands.column_text(1)] = bands.column_int64(2);
    }
  }
  return runs;
}

std::vector<BandTransition> OverviewRepository::band_transitions(std::int64_t run_id) {
  Statement query = db_.prepare(
      "SELECT from_band, to_band, customer_count FROM score_run_bands WHERE run_id = ?1 ORDER BY from_band, to_band");
  query.bind(1, run_id);
  std::vector<BandTransition> transitions;
  while (query.step()) {
    transitions.push_back({query.column_text(0), query.column_text(1), query.column_int64(2)});
  }
  return transitions;
}

OpenAlertCounts OverviewRepository::open_alerts(std::int64_t now_ms) {
  OpenAlertCounts counts;
  Statement by_level = db_.prepare(
      "SELECT level, count(*), CAST(sum(CASE WHEN deadline_ms < ?1 THEN 1 ELSE 0 END) AS BIGINT), CAST(sum(CASE "
      "WHEN deadline_ms >= ?1 AND deadline_ms < ?2 THEN 1 ELSE 0 END) AS BIGINT) FROM alerts WHERE state = 'open' "
      "GROUP BY level ORDER BY level");
  by_level.bind(1, now_ms).bind(2, now_ms + kHourMs);
  while (by_level.step()) {
    counts.open_by_level[by_level.column_text(0)] = by_level.column_int64(1);
    counts.past_deadline += by_level.column_is_null(2) ? 0 : by_level.column_int64(2);
    counts.due_within_hour += by_level.column_is_null(3) ? 0 : by_level.column_int64(3);
  }
  return counts;
}

std::vector<ReasonCount> OverviewRepository::lost_by_reason(std::int64_t since_ms) {
  Statement query = db_.prepare(
      "SELECT coalesce(reason, ''), count(*) FROM lost_customers WHERE churn_date_ms >= ?1 GROUP BY "
      "coalesce(reason, '') ORDER BY count(*) DESC, coalesce(reason, '')");
  query.bind(1, since_ms);
  std::vector<ReasonCount> reasons;
  while (query.step()) {
    reasons.push_back({query.column_text(0), query.column_int64(1)});
  }
  return reasons;
}

std::vector<MassChurnLine> OverviewRepository::mass_churn_events(std::int64_t since_ms) {
  Statement query = db_.prepare(
      "SELECT id, reason, period_start_ms, lost_count, rate, alert_id FROM mass_churn_events WHERE period_start_ms >= "
      "?1 ORDER BY period_start_ms, id");
  query.bind(1, since_ms);
  std::vector<MassChurnLine> events;
  while (query.step()) {
    MassChurnLine& event = events.emplace_back();
    event.id = query.column_int64(0);
    event.reason = query.column_text(1);
    event.period_start_ms = query.column_int64(2);
    event.lost_count = query.column_int64(3);
    event.rate = query.column_double(4);
    if (!query.column_is_null(5)) {
      event.alert_id = query.column_int64(5);
    }
  }
  return events;
}

WinbackFunnel OverviewRepository::winback_funnel() {
  Statement query = db_.prepare(
      "SELECT e.holdout, count(*), CAST(sum(CASE WHEN e.contacted != 0 THEN 1 ELSE 0 END) AS BIGINT), "
      "CAST(sum(CASE WHEN l.recovered_ms IS NOT NULL AND l.recovered_ms >= e.enrolled_ms AND l.recovered_ms <= "
      "e.enrolled_ms + c.recovery_window_days * ?1 THEN 1 ELSE 0 END) AS BIGINT) FROM enrolments e JOIN campaigns c ON "
      "c.id = e.campaign_id LEFT JOIN lost_customers "
      "l ON l.customer_id = e.customer_id GROUP BY e.holdout ORDER BY e.holdout");
  query.bind(1, kDayMs);
  WinbackFunnel funnel;
  while (query.step()) {
    const bool holdout = query.column_int64(0) != 0;
    const std::int64_t members = query.column_int64(1);
    const std::int64_t recovered = query.column_is_null(3) ? 0 : query.column_int64(3);
    if (holdout) {
      funnel.holdout = members;
      funnel.holdout_recovered = recovered;
    } else {
      funnel.enrolled = members;
      funnel.contacted = query.column_is_null(2) ? 0 : query.column_int64(2);
      funnel.recovered = recovered;
    }
  }
  return funnel;
}

}  // namespace crm::host
