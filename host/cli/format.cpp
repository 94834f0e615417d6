#include "cli/format.hpp"

#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/plugin_table.hpp"
#include "core/dates.hpp"

namespace crm::host {

namespace {

// "a 1, b 2" of a count per name; "" when there is none.
template <typename Counts>
std::string count_list(const Counts& counts) {
  std::string text;
  for (const auto& [name, count] : counts) {
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", name, count);
  }
  return text;
}

}  // namespace

std::string sync_summary_line(const SyncSummary& summary) {
  std::string line = fmt::format(
      "{}: {}, read {}, fetched {} (inserted {}, updated {}, unchanged {}), quarantined {}, skipped {}, cursor {}, "
      "{:.1f} s",
      summary.connector_id, summary.status, summary.source_records, summary.fetched, summary.counts.inserted,
      summary.counts.updated, summary.counts.unchanged, summary.quarantined, summary.skipped(),
      summary.cursor.empty() ? "-" : summary.cursor, static_cast<double>(summary.duration_ms) / 1000.0);
  if (!summary.message.empty()) {
    line += ": " + summary.message;
  }
  return line;
}

void print_sync(std::ostream& out, const SyncResult& result) {
  for (const SyncSummary& summary : result.summaries) {
    out << sync_summary_line(summary) << '\n';
  }
  if (result.summaries.empty()) {
    out << (result.refused > 0
                ? fmt::format("no connector could run: {} refused; see `crmhost plugins`\n", result.refused)
                : std::string("no connector is configured; see `crmhost plugins`\n"));
  }
}

void print_quarantine(std::ostream& out, const std::vector<QuarantineEntry>& entries) {
  for (const QuarantineEntry& entry : entries) {
    out << fmt::format("{:>6}  {:<16}  {}{}\n", entry.id, entry.plugin_id, entry.reason,
                       entry.reprocessed_ms ? "  (released)" : "");
  }
  out << fmt::format("{} record(s)\n", entries.size());
}

void print_quarantine_retry(std::ostream& out, const QuarantineRetryResult& result) {
  for (const QuarantineRetry& retry : result.connectors) {
    const RetrySummary& summary = retry.summary;
    out << fmt::format(
        "{}: {} released, {} still quarantined{}{}\n", retry.connector_id, summary.released, summary.still_bad,
        summary.unsupported > 0 ? fmt::format(", {} cannot be retried by this connector", summary.unsupported) : "",
        summary.fatal_message.empty() ? ""
                                      : fmt::format("; stopped after a fatal error ({}), {} not tried",
                                                    summary.fatal_message, summary.not_tried));
  }
}

void print_score(std::ostream& out, const ScoringPass& pass, const ScoringSettings& settings) {
  out << fmt::format("scored {} customers as of {} (run {}, bands by {})\n", pass.customers,
                     utc_date_text(pass.as_of_ms), pass.run_id, pass.primary_scorer);
  for (const BandRule& band : settings.bands) {
    const auto count = pass.bands.find(band.name);
    out << fmt::format(
        "  {:<8} {:>9}  (score >= {:g}; owner {}{})\n", band.name, count == pass.bands.end() ? 0 : count->second,
        band.min_score, band.owner,
        band.response_hours > 0 ? fmt::format(", respond within {} h", band.response_hours) : std::string());
  }
  if (pass.unscored > 0) {
    out << fmt::format("  {:<8} {:>9}  (no signal to score yet)\n", "unscored", pass.unscored);
  }
  for (const std::string& skipped : pass.skipped) {
    out << "  skipped " << skipped << '\n';
  }
  if (pass.calibration_id) {
    out << fmt::format("  churn probability within {} days: calibration {} (outcomes known by {})\n", pass.horizon_days,
                       *pass.calibration_id, utc_date_text(pass.calibration_outcome_end_ms.value_or(0)));
  } else {
    out << fmt::format("  churn probability within {} days: {}\n", pass.horizon_days, pass.calibration_note);
  }
  const std::vector<BandChange>& changes = pass.changes;
  out << fmt::format("{} customer(s) changed band since the last run\n", changes.size());
  for (std::size_t i = 0; i < changes.size() && i < 20; ++i) {
    out << fmt::format("  customer {}: {} -> {} ({:.1f})\n", changes[i].customer_id,
                       changes[i].from_band.empty() ? "new" : changes[i].from_band, changes[i].to_band,
                       changes[i].score);
  }
  if (changes.size() > 20) {
    out << fmt::format("  ... and {} more (--json lists all)\n", changes.size() - 20);
  }
}

void print_customer_360(std::ostream& out, const Customer360& view) {
  out << fmt::format(
      "customer {} as of {}: score {} -> band {}{}\n", view.customer_id, utc_date_text(view.as_of_ms),
      view.score ? fmt::format("{:.1f}", *view.score) : std::string("none"), view.band.empty() ? "none" : view.band,
      view.previous_band && *view.previous_band != view.band ? fmt::format(" (was {})", *view.previous_band)
                                                             : std::string());
  if (!view.known_as.empty()) {
    out << fmt::format("  known as: {}\n", fmt::join(view.known_as, ", "));
  }
  if (view.band_rule) {
    out << fmt::format("  owner: {}{}\n", view.band_rule->owner,
                       view.band_rule->response_hours > 0
                           ? fmt::format(", respond within {} h", view.band_rule->response_hours)
                           : std::string());
  }
  if (view.churn_probability && view.churn_horizon_days) {
    out << fmt::format("  churn: {:.0f} % likely to stop buying within {} days\n", *view.churn_probability * 100,
                       *view.churn_horizon_days);
  } else {
    out << fmt::format("  churn: {}\n", view.churn_probability_note);
  }
  out << fmt::format("  tier: {}   stage: {}   value class: {}\n", view.tier.empty() ? "-" : view.tier,
                     view.stage.empty() ? "unknown" : view.stage, view.abc_class.empty() ? "-" : view.abc_class);
  for (const auto& [scorer, value] : view.scores.items()) {
    out << fmt::format("  {}: {}\n", scorer, value.is_null() ? std::string("n/a") : value.dump());
  }
  if (!view.reasons.empty()) {
    out << "  signals:\n";
    for (const ReasonText& reason : view.reasons) {
      out << "    - " << reason.text << '\n';
    }
  }
  if (!view.top_contributions.empty()) {
    out << "  what moved the score:\n";
    for (const ScoreDriver& driver : view.top_contributions) {
      out << fmt::format("    {:+7.1f} points  {}\n", driver.points, driver.text);
    }
  }
}

void print_train(std::ostream& out, const TrainResult& result) {
  out << fmt::format("trained on {} customers as of {} ({} churned by {})\n", result.customers,
                     utc_date_text(result.features_as_of_ms), result.churned, utc_date_text(result.outcome_end_ms));
  for (const TrainedScorer& scorer : result.scorers) {
    out << fmt::format("  {}: {}\n", scorer.scorer_id,
                       scorer.model_id ? fmt::format("model {}", *scorer.model_id) : scorer.error);
  }
  if (result.scorers.empty()) {
    out << "  no loaded scorer learns from history\n";
  }
  if (result.calibration_id) {
    out << fmt::format("  churn probability within {} days: calibration {}, {}'s score on {} customers, Brier {:.4f}\n",
                       result.horizon_days, *result.calibration_id, result.calibration_scorer,
                       result.calibration_customers, result.calibration_brier);
  } else {
    out << fmt::format("  churn probability: {}\n", result.calibration_note);
  }
}

void print_backtest(std::ostream& out, const BacktestResult& result, const std::string& as_of, int horizon_days) {
  const std::vector<BacktestRow>& rows = result.rows;
  out << fmt::format("backtest as of {}, horizon {} days: {} customers, {} churned\n", as_of, horizon_days,
                     rows.empty() ? 0 : rows.front().customers, rows.empty() ? 0 : rows.front().churned);
  out << fmt::format("  {:<28} {:>8} {:>10} {:>10} {:>10} {:>12}\n", "scorer", "ROC-AUC", "prec@10%", "recall@10%",
                     "lead days", "after last");
  const auto cell = [](double value, const char* format) {
    return std::isnan(value) ? std::string("-") : fmt::format(fmt::runtime(format), value);
  };
  for (const BacktestRow& row : rows) {
    const std::string name = row.band_scorer.empty() ? row.scorer_id : row.scorer_id + " (" + row.band_scorer + ")";
    out << fmt::format("  {:<28} {:>8} {:>10} {:>10} {:>10} {:>12}{}\n", name, cell(row.roc_auc, "{:.3f}"),
                       cell(row.precision_top10, "{:.3f}"), cell(row.recall_top10, "{:.3f}"),
                       cell(row.median_lead_time_days, "{:.0f}"),
                       cell(row.median_flag_after_last_purchase_days, "{:.0f}"),
                       row.note.empty() ? "" : "  (" + row.note + ")");
  }
  for (const BacktestRow& row : rows) {
    for (const std::string& warning : row.warnings) {
      out << fmt::format("  {}: {}\n", row.scorer_id, warning);
    }
  }
  for (const BacktestRow& row : rows) {
    if (row.bands.empty()) {
      continue;
    }
    out << fmt::format("  bands at the date (score of {}): customers, churned share\n", row.band_scorer);
    for (const BandOutcome& band : row.bands) {
      out << fmt::format("    {:<10} {:>8} {:>8}\n", band.band, band.customers, cell(band.precision(), "{:.3f}"));
    }
    out << fmt::format("  accuracy at the red threshold (red = will churn): {} (source documents' target 0.85)\n",
                       cell(row.accuracy_at_red, "{:.3f}"));
    out << fmt::format(
        "  churn probability within {} days, calibrated (isotonic) on {} customers a horizon earlier: Brier {}\n",
        horizon_days, row.calibration_customers, cell(row.calibration.brier, "{:.4f}"));
    out << "    predicted   customers  mean predicted  observed\n";
    for (const ReliabilityBin& bin : row.calibration.bins) {
      out << fmt::format("    {:.1f}-{:.1f}  {:>11} {:>15} {:>9}\n", bin.predicted_from, bin.predicted_to,
                         bin.customers, cell(bin.mean_predicted, "{:.3f}"), cell(bin.observed, "{:.3f}"));
    }
  }
}

void print_cross_validation(std::ostream& out, const CrossValidationJobResult& result) {
  const CrossValidationResult& cv = result.cross_validation;
  out << fmt::format("cross-validation, {} stratified folds on the attribute '{}': {} customers, {} churned", cv.folds,
                     cv.label, cv.customers, cv.churned);
  out << (cv.unreadable > 0 ? fmt::format(" ({} more with a label neither yes nor no, left out)\n", cv.unreadable)
                            : std::string("\n"));
  const auto cell = [](double value) { return std::isnan(value) ? std::string("-") : fmt::format("{:.4f}", value); };
  std::string header = fmt::format("  {:<28}", "ROC-AUC");
  for (int f = 0; f < cv.folds; ++f) {
    header += fmt::format(" {:>7}", fmt::format("fold {}", f + 1));
  }
  out << header << fmt::format(" {:>7} {:>7}\n", "mean", "pooled");
  for (const CrossValidationRow& row : cv.rows) {
    std::string line =
        fmt::format("  {:<28}", row.band_scorer.empty() ? row.scorer_id : row.scorer_id + " (" + row.band_scorer + ")");
    for (const double auc : row.fold_roc_auc) {
      line += fmt::format(" {:>7}", cell(auc));
    }
    out << line << fmt::format(" {:>7} {:>7}\n", cell(row.mean_roc_auc), cell(row.pooled_roc_auc));
  }
  for (const CrossValidationRow& row : cv.rows) {
    for (const std::string& note : row.notes) {
      out << fmt::format("  {}: {}\n", row.scorer_id, note);
    }
  }
}

void print_alerts(std::ostream& out, const AlertList& list) {
  for (const AlertRow& row : list.alerts) {
    out << fmt::format(
        "{:>6}  {:<12} {:<7} {}{}\n", row.id, row.state, row.level, row.title,
        row.escalation_level > 0 ? fmt::format("  (escalated x{})", row.escalation_level) : std::string());
  }
  if (list.median_time_to_acknowledge_ms) {
    out << fmt::format("median time to acknowledge: {:.0f} min\n", *list.median_time_to_acknowledge_ms / 60'000.0);
  }
}

void print_outbox(std::ostream& out, const std::vector<OutboxRow>& rows) {
  for (const OutboxRow& row : rows) {
    out << fmt::format("{:>6}  {:<8} {:<16} attempts {:<3} {}{}\n", row.id, row.state, row.channel_id, row.attempts,
                       row.title, row.last_error.empty() ? "" : "  (" + row.last_error + ")");
  }
}

std::string churn_detection_line(const ChurnDetection& counts) {
  const std::string reasons = count_list(counts.by_reason);
  return fmt::format(
      "churn: {} customers examined, {} newly lost, {} still lost, {} recovered; reasons: {}; {} "
      "eligible for win-back; {} mass-churn event(s)",
      counts.customers_examined, counts.newly_lost, counts.still_lost, counts.recovered,
      reasons.empty() ? "-" : reasons, counts.eligible, counts.mass_churn_events);
}

std::string campaign_pass_line(const CampaignPass& pass) {
  return fmt::format(
      "campaigns: {} enrolled ({} more held out as control), {} excluded, {} step(s): {} message(s), {} "
      "task(s); {} waiting on caps or quiet hours; {} converted, {} completed; {} left the control group; {} revival "
      "touch(es)",
      pass.enrolled, pass.holdout, pass.excluded, pass.steps, pass.messages, pass.tasks, pass.deferred, pass.converted,
      pass.completed, pass.control_closed, pass.revival_touches);
}

void print_lost_customers(std::ostream& out, const std::vector<LostCustomer>& rows) {
  out << fmt::format("{:>7}  {:<10}  {:<18} {:<6} {:>10}  {:<3} {}\n", "id", "lost on", "reason", "by", "value", "abc",
                     "status");
  for (const LostCustomer& row : rows) {
    out << fmt::format("{:>7}  {}  {:<18} {:<6} {:>10.2f}  {:<3} {}\n", row.customer_id,
                       utc_date_text(row.churn_date_ms), row.reason, row.reason_source, row.expected_value,
                       row.abc_class,
                       row.recovered_ms ? "recovered"
                       : row.eligible   ? "eligible"
                                        : "excluded: " + row.exclusion);
  }
}

void print_lost_customer(std::ostream& out, const LostCustomer& row) {
  out << fmt::format(
      "customer {} ({}) lost on {} ({})\n  reason: {} ({}{}){}\n  value: {:.2f} expected, class "
      "{}\n  {}\n",
      row.customer_id, row.name.empty() ? "-" : row.name, utc_date_text(row.churn_date_ms), row.method,
      row.reason.empty() ? "not assessed" : row.reason, row.reason_source,
      row.reason_evidence.empty() ? "" : ": " + row.reason_evidence,
      row.reason_note.empty() ? "" : "\n  note: " + row.reason_note, row.expected_value, row.abc_class,
      row.recovered_ms ? "recovered on " + utc_date_text(*row.recovered_ms)
      : row.eligible   ? std::string("eligible for win-back")
                       : "not pursued: " + row.exclusion);
  for (std::size_t i = 0; i < row.why_chain.size(); ++i) {
    out << fmt::format("  why {}: {}\n", i + 1, row.why_chain[i]);
  }
}

void print_root_causes(std::ostream& out, const std::vector<RootCause>& causes) {
  for (const RootCause& cause : causes) {
    out << fmt::format("{:>4} customer(s), worth {:.2f} ({}): {}\n", cause.customers.size(), cause.expected_value,
                       count_list(cause.by_reason), cause.cause);
  }
  if (causes.empty()) {
    out << "no 5 Why chain recorded yet (`crmhost churn why CUSTOMER TEXT`)\n";
  }
}

void print_do_not_contact(std::ostream& out, const std::vector<DoNotContactEntry>& entries) {
  for (const DoNotContactEntry& entry : entries) {
    out << fmt::format("{:>7}  {}  {} ({})\n", entry.customer_id, utc_date_text(entry.added_ms), entry.reason,
                       entry.added_by);
  }
}

void print_campaign_run(std::ostream& out, const CampaignRunResult& result) {
  out << campaign_pass_line(result.pass)
      << fmt::format("; {} notification(s) delivered, {} retrying\n", result.delivered.delivered,
                     result.delivered.retried);
}

void print_campaigns(std::ostream& out, const std::vector<CampaignSummary>& summaries) {
  for (const CampaignSummary& summary : summaries) {
    const CampaignRow& row = summary.campaign;
    const CampaignReport& results = summary.results;
    const std::string states = count_list(row.enrolments_by_state);
    out << fmt::format(
        "{:>4}  {} v{}  spent {:.2f}{}  enrolments: {}\n      recovered {:.1f} %, uplift {}, "
        "benefit/cost {:.2f}\n",
        row.id, row.playbook_id, row.playbook_version, row.spent,
        row.budget > 0 ? fmt::format(" of {:.2f}", row.budget) : std::string(), states.empty() ? "-" : states,
        results.recovery_rate * 100,
        results.uplift_measured ? fmt::format("{:+.1f} points", results.uplift * 100) : std::string("not measured"),
        results.benefit_cost_ratio);
  }
}

void print_campaign_report(std::ostream& out, const CampaignReport& report) {
  const std::string uplift =
      report.uplift_measured
          ? fmt::format("uplift {:+.1f} points, 95 % interval [{:+.1f}, {:+.1f}]", report.uplift * 100,
                        report.uplift_low * 100, report.uplift_high * 100)
          : std::string("uplift not measured: the campaign needs customers in both its treatment and holdout groups");
  out << fmt::format(
      "campaign {} ({})\n  enrolled {} (holdout {}), contacted {}\n  recovered {} = {:.1f} % (holdout {} = {:.1f} "
      "%)\n  {}\n  cost {:.2f}, revenue recovered {:.2f}, benefit/cost {:.2f}\n",
      report.campaign_id, report.playbook, report.enrolled, report.holdout, report.contacted, report.recovered,
      report.recovery_rate * 100, report.holdout_recovered, report.holdout_recovery_rate * 100, uplift, report.cost,
      report.revenue_recovered, report.benefit_cost_ratio);
}

void print_tasks(std::ostream& out, const std::vector<OwnerTask>& tasks) {
  for (const OwnerTask& task : tasks) {
    out << fmt::format(
        "{:>6}  due {}  {:<5} {:<24} {}{}\n", task.id, utc_date_text(task.due_ms), task.state, task.owner, task.title,
        task.done_ms != 0
            ? fmt::format("\n        done {} by {}: {}", utc_date_text(task.done_ms), task.done_by, task.outcome)
            : std::string());
  }
}

void print_run_summary(std::ostream& out, const RunSummary& summary, const ScoringSettings& settings,
                       bool with_plugin_table) {
  out << fmt::format("run {} on {}: {} plugin(s) loaded, {} refused\n", summary.run_id, summary.database,
                     summary.loaded, summary.refused);
  if (with_plugin_table || summary.refused > 0) {
    print_plugin_table(out, summary.plugins);
  }
  for (const SyncSummary& sync : summary.syncs) {
    out << "sync " << sync_summary_line(sync) << '\n';
  }
  if (const std::optional<ScoringPass>& scoring = summary.scoring) {
    std::string bands;
    for (const BandRule& band : settings.bands) {
      const auto count = scoring->bands.find(band.name);
      bands += fmt::format("{}{} {}", bands.empty() ? "" : ", ", band.name,
                           count == scoring->bands.end() ? 0 : count->second);
    }
    const std::string tiers = count_list(scoring->tiers);
    out << fmt::format("score: {} customers as of {}: {}; tiers: {}; {} changed band\n", scoring->customers,
                       utc_date_text(scoring->as_of_ms), bands, tiers.empty() ? "-" : tiers, scoring->changes.size());
  }
  const AlertCounts& raised = summary.raised;
  const DeliveryCounts& delivered = summary.delivered;
  const std::string levels = count_list(raised.opened_by_level);
  out << fmt::format(
      "alerts: {} new{}, {} reminded, {} resolved, {} escalated; deliveries: {} sent in {} message(s) ({} in "
      "digests), {} partial, {} retrying, {} held (quiet hours, recipient caps), {} paced, {} dead ({} dead in all: "
      "`crmhost alerts outbox --state dead`)\n",
      raised.opened, levels.empty() ? "" : " (" + levels + ")", raised.renotified, raised.resolved, summary.escalated,
      delivered.delivered, delivered.messages, delivered.digested, delivered.partial, delivered.retried, delivered.held,
      delivered.paced, delivered.dead, summary.dead_total);
  if (summary.churn) {
    out << churn_detection_line(*summary.churn) << '\n' << campaign_pass_line(*summary.campaign_pass) << '\n';
  }
}

void print_config_check(std::ostream& out, const ConfigCheck& check) {
  if (check.problems.empty()) {
    out << fmt::format("{}: valid ({} plugin(s) found, {} configured)\n", check.path.string(), check.plugins_found,
                       check.plugins_configured);
    return;
  }
  out << fmt::format("{}: {} problem(s){}\n", check.path.string(), check.problems.size(),
                     check.file_valid ? "" : " (the file itself is invalid)");
  for (const std::string& problem : check.problems) {
    out << "  - " << problem << '\n';
  }
}

}  // namespace crm::host
