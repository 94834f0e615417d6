#include "app/result_json.hpp"

#include <cmath>
#include <fmt/format.h>

#include "core/dates.hpp"

namespace crm::host {

nlohmann::json json_number(double value) {
  return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(std::round(value * 10000) / 10000);
}

namespace {

nlohmann::json optional_ms(const std::optional<std::int64_t>& ms) {
  return ms ? nlohmann::json(*ms) : nlohmann::json(nullptr);
}

nlohmann::json optional_date(const std::optional<std::int64_t>& ms) {
  return ms ? nlohmann::json(utc_date_text(*ms)) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json plugin_records_json(const std::vector<PluginRecord>& records) {
  nlohmann::json plugins = nlohmann::json::array();
  const std::vector<PluginRuntimeStatus> runtimes = plugin_runtime_statuses();
  for (const PluginRecord& record : records) {
    nlohmann::json entry = {{"id", record.id},
                            {"kind", record.kind},
                            {"version", record.version},
                            {"plugin", record.plugin_id.empty() ? record.id : record.plugin_id},
                            {"abi", record.abi},
                            {"file", record.file.string()},
                            {"state", plugin_state_name(record.state)}};
    entry["reason"] = record.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(record.reason);
    entry["isolation"] = record.isolation.empty() ? nlohmann::json(nullptr) : nlohmann::json(record.isolation);
    entry["runtime"] = nullptr;
    for (const PluginRuntimeStatus& runtime : runtimes) {
      if (runtime.plugin == record.id) {
        entry["runtime"] = {{"running", runtime.running},
                            {"workers_started", runtime.workers_started},
                            {"restarts", runtime.restarts},
                            {"failures", runtime.failures},
                            {"last_failure", runtime.last_failure.empty() ? nlohmann::json(nullptr)
                                                                          : nlohmann::json(runtime.last_failure)},
                            {"disabled_reason", runtime.disabled_reason ? nlohmann::json(*runtime.disabled_reason)
                                                                        : nlohmann::json(nullptr)}};
      }
    }
    plugins.push_back(std::move(entry));
  }
  return {{"host_abi", fmt::format("{}.{}", CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR)}, {"plugins", plugins}};
}

nlohmann::json plugin_validation_json(const PluginValidation& validation) {
  nlohmann::json checks = nlohmann::json::array();
  for (const CheckResult& check : validation.checks) {
    checks.push_back({{"plugin", check.plugin},
                      {"kind", check.kind},
                      {"check", check.check},
                      {"outcome", check_outcome_name(check.outcome)},
                      {"detail", check.detail}});
  }
  return {{"file", validation.file.string()},
          {"passed", validation.passed()},
          {"passes", validation.count(CheckOutcome::pass)},
          {"failures", validation.count(CheckOutcome::fail)},
          {"skips", validation.count(CheckOutcome::skip)},
          {"checks", checks}};
}

nlohmann::json sync_summary_json(const SyncSummary& summary) {
  return {{"connector", summary.connector_id},  {"status", summary.status},
          {"message", summary.message},         {"read", summary.source_records},
          {"fetched", summary.fetched},         {"inserted", summary.counts.inserted},
          {"updated", summary.counts.updated},  {"unchanged", summary.counts.unchanged},
          {"quarantined", summary.quarantined}, {"skipped", summary.skipped()},
          {"cursor", summary.cursor},           {"duration_ms", summary.duration_ms}};
}

nlohmann::json sync_result_json(const SyncResult& result) {
  nlohmann::json report = nlohmann::json::array();
  for (const SyncSummary& summary : result.summaries) {
    report.push_back(sync_summary_json(summary));
  }
  return report;
}

nlohmann::json quarantine_json(const std::vector<QuarantineEntry>& entries) {
  nlohmann::json list = nlohmann::json::array();
  for (const QuarantineEntry& entry : entries) {
    list.push_back({{"id", entry.id},
                    {"connector", entry.plugin_id},
                    {"reason", entry.reason},
                    {"created_ms", entry.created_ms},
                    {"reprocessed_ms", entry.reprocessed_ms ? nlohmann::json(*entry.reprocessed_ms) : nullptr},
                    {"raw_record", entry.raw_record}});
  }
  return list;
}

nlohmann::json quarantine_retry_json(const QuarantineRetryResult& result) {
  nlohmann::json report = nlohmann::json::array();
  for (const QuarantineRetry& retry : result.connectors) {
    report.push_back({{"connector", retry.connector_id},
                      {"released", retry.summary.released},
                      {"still_bad", retry.summary.still_bad},
                      {"unsupported", retry.summary.unsupported},
                      {"not_tried", retry.summary.not_tried},
                      {"fatal_error", retry.summary.fatal_message}});
  }
  return report;
}

nlohmann::json score_result_json(const ScoringPass& pass) {
  nlohmann::json report = {{"run_id", pass.run_id},       {"as_of", utc_date_text(pass.as_of_ms)},
                           {"customers", pass.customers}, {"primary_scorer", pass.primary_scorer},
                           {"bands", pass.bands},         {"tiers", pass.tiers},
                           {"unscored", pass.unscored},   {"skipped", pass.skipped}};
  nlohmann::json changed = nlohmann::json::array();
  for (const BandChange& change : pass.changes) {
    changed.push_back({{"customer_id", change.customer_id},
                       {"from", change.from_band.empty() ? nlohmann::json(nullptr) : nlohmann::json(change.from_band)},
                       {"to", change.to_band},
                       {"score", json_number(change.score)}});
  }
  report["band_changes"] = changed;
  report["churn_horizon_days"] = pass.horizon_days;
  if (pass.calibration_id) {
    report["calibration"] = {{"id", *pass.calibration_id},
                             {"outcome_until", optional_date(pass.calibration_outcome_end_ms)}};
  } else {
    report["calibration"] = nullptr;
    report["calibration_note"] = pass.calibration_note;
  }
  return report;
}

nlohmann::json customer_360_json(const Customer360& view) {
  nlohmann::json report = {{"customer_id", view.customer_id},
                           {"known_as", view.known_as},
                           {"run_id", view.run_id},
                           {"as_of", utc_date_text(view.as_of_ms)},
                           {"score", view.score ? json_number(*view.score) : nlohmann::json(nullptr)},
                           {"band", view.band},
                           {"tier", view.tier},
                           {"stage", view.stage},
                           {"abc_class", view.abc_class},
                           {"scores", view.scores},
                           {"models", view.models},
                           {"primary_scorer", view.primary_scorer}};
  nlohmann::json thresholds = nlohmann::json::array();
  for (const BandRule& rule : view.band_thresholds) {
    thresholds.push_back({{"name", rule.name}, {"min_score", json_number(rule.min_score)}});
  }
  report["band_thresholds"] = std::move(thresholds);
  if (view.band_rule) {
    report["owner"] = view.band_rule->owner;
    report["response_hours"] = view.band_rule->response_hours;
  }
  nlohmann::json reasons = nlohmann::json::array();
  for (const ReasonText& reason : view.reasons) {
    reasons.push_back({{"code", reason.code}, {"text", reason.text}});
  }
  report["reasons"] = reasons;
  nlohmann::json drivers = nlohmann::json::array();
  for (const ScoreDriver& driver : view.top_contributions) {
    drivers.push_back({{"feature", driver.feature}, {"text", driver.text}, {"points", driver.points}});
  }
  report["top_contributions"] = drivers;
  if (view.previous_band) {
    report["previous_band"] = *view.previous_band;
  }
  report["churn_probability"] = view.churn_probability ? json_number(*view.churn_probability) : nullptr;
  report["churn_horizon_days"] = view.churn_horizon_days ? nlohmann::json(*view.churn_horizon_days) : nullptr;
  if (!view.churn_probability) {
    report["churn_probability_note"] = view.churn_probability_note;
  }
  if (view.profile) {
    const CustomerProfile& profile = *view.profile;
    report["profile"] = {
        {"id", profile.id},
        {"source", profile.source},
        {"external_id", profile.external_id},
        {"name", profile.name},
        {"country", profile.country},
        {"industry", profile.industry},
        {"created", profile.created_at_ms ? nlohmann::json(utc_date_text(*profile.created_at_ms)) : nullptr},
        {"placeholder", profile.is_placeholder}};
    nlohmann::json contacts = nlohmann::json::array();
    for (const CustomerContact& contact : view.contacts) {
      contacts.push_back({{"id", contact.id},
                          {"name", contact.name},
                          {"email", contact.email},
                          {"phone", contact.phone},
                          {"role", contact.role},
                          {"owner", contact.owner},
                          {"key_contact", contact.is_key_contact},
                          {"left", contact.left_at_ms ? nlohmann::json(utc_date_text(*contact.left_at_ms)) : nullptr}});
    }
    report["contacts"] = contacts;
  }
  if (view.orders) {
    const OrderSummary& orders = *view.orders;
    report["orders"] = {
        {"count", orders.orders},
        {"first_order", optional_date(orders.first_order_ms)},
        {"last_order", optional_date(orders.last_order_ms)},
        {"revenue_total", json_number(orders.revenue_total)},
        {"revenue_last_12_months", json_number(orders.revenue_last_12_months)},
        {"average_order_value", orders.orders > 0
                                    ? json_number(orders.revenue_total / static_cast<double>(orders.orders))
                                    : nlohmann::json(nullptr)},
        {"currency", orders.currency.empty() ? nlohmann::json(nullptr) : nlohmann::json(orders.currency)},
        {"mixed_currencies", orders.mixed_currencies}};
    nlohmann::json tickets = nlohmann::json::array();
    for (const TicketLine& ticket : view.tickets) {
      tickets.push_back({{"known_as", ticket.source + ":" + ticket.external_id},
                         {"opened_ms", optional_ms(ticket.opened_at_ms)},
                         {"first_response_ms", optional_ms(ticket.first_response_at_ms)},
                         {"resolved_ms", optional_ms(ticket.resolved_at_ms)},
                         {"status", ticket.resolved_at_ms ? "resolved" : "open"},
                         {"category", ticket.category},
                         {"subject", ticket.subject},
                         {"complaint", ticket.is_complaint}});
    }
    report["tickets"] = tickets;
    nlohmann::json surveys = nlohmann::json::array();
    for (const SurveyLine& survey : view.surveys) {
      surveys.push_back({{"known_as", survey.source + ":" + survey.external_id},
                         {"answered_ms", optional_ms(survey.answered_at_ms)},
                         {"kind", survey.kind},
                         {"score", survey.score ? json_number(*survey.score) : nlohmann::json(nullptr)}});
    }
    report["surveys"] = surveys;
    nlohmann::json timeline = nlohmann::json::array();
    for (const HistoryEvent& event : view.timeline) {
      timeline.push_back({{"at_ms", event.at_ms},
                          {"kind", event.kind},
                          {"source", event.source},
                          {"external_id", event.external_id},
                          {"summary", event.summary}});
    }
    report["timeline"] = timeline;
    nlohmann::json history = nlohmann::json::array();
    for (const ScorePoint& point : view.score_history) {
      history.push_back({{"run_id", point.run_id},
                         {"as_of", utc_date_text(point.as_of_ms)},
                         {"score", point.score ? json_number(*point.score) : nlohmann::json(nullptr)},
                         {"band", point.band}});
    }
    report["score_history"] = history;
    nlohmann::json alerts = nlohmann::json::array();
    for (const CustomerAlertLine& alert : view.alerts) {
      alerts.push_back({{"id", alert.id},
                        {"reason", alert.reason},
                        {"level", alert.level},
                        {"state", alert.state},
                        {"title", alert.title},
                        {"opened_ms", alert.opened_ms},
                        {"deadline_ms", optional_ms(alert.deadline_ms)},
                        {"acked_by", alert.acked_by},
                        {"resolved_by", alert.resolved_by}});
    }
    report["alerts"] = alerts;
    const WinBackState& winback = view.winback;
    nlohmann::json enrolments = nlohmann::json::array();
    for (const EnrolmentLine& enrolment : winback.enrolments) {
      enrolments.push_back({{"id", enrolment.id},
                            {"campaign_id", enrolment.campaign_id},
                            {"playbook", enrolment.playbook},
                            {"state", enrolment.state},
                            {"holdout", enrolment.holdout},
                            {"step", enrolment.step_index},
                            {"steps_done", enrolment.steps_done},
                            {"next_step_ms", enrolment.next_step_ms},
                            {"enrolled", utc_date_text(enrolment.enrolled_ms)},
                            {"exit_reason", enrolment.exit_reason}});
    }
    report["winback"] = {
        {"lost", winback.lost.has_value()},
        {"loss", winback.lost ? lost_customer_json(*winback.lost) : nlohmann::json(nullptr)},
        {"enrolments", enrolments},
        {"do_not_contact", winback.do_not_contact
                               ? nlohmann::json{{"reason", winback.do_not_contact->reason},
                                                {"added_by", winback.do_not_contact->added_by},
                                                {"added", utc_date_text(winback.do_not_contact->added_ms)}}
                               : nlohmann::json(nullptr)}};
  }
  return report;
}

nlohmann::json customer_page_json(const CustomerPage& page) {
  nlohmann::json report = customer_list_json(page.customers);
  report["next_cursor"] = page.next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(page.next_cursor);
  return report;
}

namespace {

void append_csv_field(std::string& out, std::string_view field) {
  // Names come from outside systems: one starting like a formula (=, +, -, @,
  // a tab or a carriage return) would run when a manager opens the file in a
  // spreadsheet, so it is made text with a leading apostrophe (OWASP's advice).
  std::string guarded;
  if (!field.empty() && std::string_view("=+-@\t\r").find(field.front()) != std::string_view::npos) {
    guarded = "'" + std::string(field);
    field = guarded;
  }
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (const char c : field) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  out += '"';
}

}  // namespace

std::string customer_list_csv(const std::vector<CustomerListRow>& rows) {
  // A UTF-8 byte order mark first: without it Excel reads the file in the system's code page, and
  // Chinese names come out garbled on Chinese Windows.
  std::string csv =
      "\xEF\xBB\xBF"
      "customer_id,name,known_as,score,band,tier,stage,abc_class\r\n";
  csv.reserve(csv.size() + rows.size() * 80);
  for (const CustomerListRow& row : rows) {
    csv += std::to_string(row.customer_id);
    csv += ',';
    append_csv_field(csv, row.name);
    csv += ',';
    append_csv_field(csv, row.source + ":" + row.external_id);
    csv += ',';
    if (row.score && !std::isnan(*row.score)) {
      csv += json_number(*row.score).dump();
    }
    for (const std::string* text : {&row.band, &row.tier, &row.stage, &row.abc_class}) {
      csv += ',';
      append_csv_field(csv, *text);
    }
    csv += "\r\n";
  }
  return csv;
}

nlohmann::json follow_up_json(const RecordedFollowUp& recorded) {
  return {{"id", recorded.id},
          {"customer_id", recorded.customer_id},
          {"by", recorded.follow_up.by},
          {"at_ms", recorded.follow_up.at_ms},
          {"at", rfc3339_text(recorded.follow_up.at_ms)},
          {"channel", recorded.follow_up.channel},
          {"note", recorded.follow_up.note}};
}

nlohmann::json customer_list_json(const std::vector<CustomerListRow>& rows) {
  nlohmann::json list = nlohmann::json::array();
  for (const CustomerListRow& row : rows) {
    list.push_back({{"customer_id", row.customer_id},
                    {"name", row.name},
                    {"known_as", row.source + ":" + row.external_id},
                    {"score", row.score ? json_number(*row.score) : nlohmann::json(nullptr)},
                    {"band", row.band},
                    {"tier", row.tier},
                    {"stage", row.stage},
                    {"abc_class", row.abc_class}});
  }
  return {{"customers", list}};
}

nlohmann::json train_result_json(const TrainResult& result) {
  nlohmann::json trained = nlohmann::json::array();
  for (const TrainedScorer& scorer : result.scorers) {
    if (scorer.model_id) {
      trained.push_back({{"scorer", scorer.scorer_id}, {"model_id", *scorer.model_id}, {"status", "trained"}});
    } else {
      trained.push_back({{"scorer", scorer.scorer_id}, {"status", "failed"}, {"error", scorer.error}});
    }
  }
  return {{"features_as_of", utc_date_text(result.features_as_of_ms)},
          {"outcome_until", utc_date_text(result.outcome_end_ms)},
          {"horizon_days", result.horizon_days},
          {"customers", result.customers},
          {"churned", result.churned},
          {"scorers", trained},
          {"calibration", result.calibration_id ? nlohmann::json{{"id", *result.calibration_id},
                                                                 {"scorer", result.calibration_scorer},
                                                                 {"customers", result.calibration_customers},
                                                                 {"brier", json_number(result.calibration_brier)}}
                                                : nlohmann::json{{"id", nullptr}, {"note", result.calibration_note}}}};
}

nlohmann::json backtest_json(const BacktestResult& result, const std::string& as_of, int horizon_days) {
  nlohmann::json report = {{"as_of", as_of}, {"horizon_days", horizon_days}};
  nlohmann::json scorers = nlohmann::json::array();
  for (const BacktestRow& row : result.rows) {
    nlohmann::json entry = {
        {"scorer", row.scorer_id},
        {"customers", row.customers},
        {"churned", row.churned},
        {"roc_auc", json_number(row.roc_auc)},
        {"precision_top10", json_number(row.precision_top10)},
        {"recall_top10", json_number(row.recall_top10)},
        {"flagged_churned", row.flagged_churned},
        {"median_lead_time_days", json_number(row.median_lead_time_days)},
        {"median_flag_after_last_purchase_days", json_number(row.median_flag_after_last_purchase_days)}};
    if (!row.note.empty()) {
      entry["note"] = row.note;
    }
    if (!row.band_scorer.empty()) {
      entry["band_scorer"] = row.band_scorer;
      nlohmann::json bands = nlohmann::json::array();
      for (const BandOutcome& band : row.bands) {
        bands.push_back({{"band", band.band},
                         {"customers", band.customers},
                         {"churned", band.churned},
                         {"precision", json_number(band.precision())}});
      }
      entry["bands"] = bands;
      entry["accuracy_at_red"] = json_number(row.accuracy_at_red);
      entry["accuracy_target"] = 0.85;
      nlohmann::json bins = nlohmann::json::array();
      for (const ReliabilityBin& bin : row.calibration.bins) {
        bins.push_back({{"predicted_from", bin.predicted_from},
                        {"predicted_to", bin.predicted_to},
                        {"customers", bin.customers},
                        {"mean_predicted", json_number(bin.mean_predicted)},
                        {"observed", json_number(bin.observed)}});
      }
      entry["churn_probability"] = {{"brier", json_number(row.calibration.brier)},
                                    {"calibrated_on_customers", row.calibration_customers},
                                    {"method", "isotonic"},
                                    {"reliability", bins}};
    }
    if (!row.warnings.empty()) {
      entry["warnings"] = row.warnings;
    }
    scorers.push_back(entry);
  }
  report["scorers"] = scorers;
  return report;
}

nlohmann::json features_json(const std::vector<std::string>& names) {
  return nlohmann::json(names);
}

nlohmann::json alert_json(const AlertRow& row) {
  return {{"id", row.id},
          {"customer_id", row.customer_id},
          {"reason", row.reason},
          {"level", row.level},
          {"state", row.state},
          {"title", row.title},
          {"opened_ms", row.opened_ms},
          {"deadline_ms", row.deadline_ms},
          {"escalation_level", row.escalation_level},
          {"acked_by", row.acked_by},
          {"resolved_by", row.resolved_by},
          {"resolution_note", row.resolution_note},
          {"ack_note", row.ack_note}};
}

nlohmann::json alert_detail_json(const AlertRow& row, const std::vector<AlertNotice>& history) {
  nlohmann::json detail = alert_json(row);
  nlohmann::json notices = nlohmann::json::array();
  for (const AlertNotice& notice : history) {
    notices.push_back({{"outbox_id", notice.outbox_id},
                       {"event", notice.event},
                       {"level", notice.level},
                       {"recipients", notice.recipients},
                       {"channel", notice.channel},
                       {"state", notice.state},
                       {"at", rfc3339_text(notice.created_ms)},
                       {"sent_at", notice.sent_ms ? nlohmann::json(rfc3339_text(*notice.sent_ms)) : nullptr}});
  }
  detail["escalation_history"] = std::move(notices);
  // What people did, with their notes: acknowledged, then resolved.
  nlohmann::json actions = nlohmann::json::array();
  if (!row.acked_by.empty()) {
    actions.push_back(
        {{"action", "acknowledged"}, {"by", row.acked_by}, {"at", rfc3339_text(row.acked_ms)}, {"note", row.ack_note}});
  }
  if (!row.resolved_by.empty()) {
    actions.push_back({{"action", "resolved"},
                       {"by", row.resolved_by},
                       {"at", row.resolved_ms ? nlohmann::json(rfc3339_text(row.resolved_ms)) : nullptr},
                       {"note", row.resolution_note}});
  }
  detail["actions"] = std::move(actions);
  return detail;
}

nlohmann::json alert_list_json(const AlertList& list) {
  nlohmann::json rows = nlohmann::json::array();
  for (const AlertRow& row : list.alerts) {
    rows.push_back(alert_json(row));
  }
  const std::optional<double>& to_ack = list.median_time_to_acknowledge_ms;
  return {
      {"alerts", rows},
      {"median_time_to_acknowledge_minutes", to_ack ? nlohmann::json(*to_ack / 60'000.0) : nlohmann::json(nullptr)}};
}

nlohmann::json outbox_json(const std::vector<OutboxRow>& rows) {
  nlohmann::json list = nlohmann::json::array();
  for (const OutboxRow& row : rows) {
    list.push_back({{"id", row.id},
                    {"alert_id", row.alert_id},
                    {"channel", row.channel_id},
                    {"state", row.state},
                    {"attempts", row.attempts},
                    {"last_error", row.last_error},
                    {"title", row.title}});
  }
  return list;
}

nlohmann::json lost_customer_json(const LostCustomer& lost) {
  return {
      {"customer_id", lost.customer_id},
      {"name", lost.name},
      {"churn_date", utc_date_text(lost.churn_date_ms)},
      {"method", lost.method},
      {"evidence", nlohmann::json::parse(lost.evidence, nullptr, false)},
      {"reason", lost.reason},
      {"reason_source", lost.reason_source},
      {"reason_evidence", lost.reason_evidence},
      {"reason_note", lost.reason_note},
      {"why_chain", lost.why_chain},
      {"expected_value", lost.expected_value},
      {"abc_class", lost.abc_class},
      {"eligible", lost.eligible},
      {"exclusion", lost.exclusion},
      {"recovered", lost.recovered_ms ? nlohmann::json(utc_date_text(*lost.recovered_ms)) : nlohmann::json(nullptr)}};
}

nlohmann::json lost_customers_json(const std::vector<LostCustomer>& rows) {
  nlohmann::json list = nlohmann::json::array();
  for (const LostCustomer& row : rows) {
    list.push_back(lost_customer_json(row));
  }
  return {{"lost_customers", list}};
}

nlohmann::json churn_detection_json(const ChurnDetection& counts) {
  return {{"customers_examined", counts.customers_examined},
          {"newly_lost", counts.newly_lost},
          {"still_lost", counts.still_lost},
          {"recovered", counts.recovered},
          {"eligible", counts.eligible},
          {"by_reason", counts.by_reason},
          {"exclusions", counts.exclusions},
          {"mass_churn_events", counts.mass_churn_events},
          {"strategic_alerts_raised", counts.strategic_alerts_raised}};
}

nlohmann::json root_causes_json(const std::vector<RootCause>& causes) {
  nlohmann::json rows = nlohmann::json::array();
  for (const RootCause& cause : causes) {
    rows.push_back({{"cause", cause.cause},
                    {"customers", cause.customers},
                    {"by_reason", cause.by_reason},
                    {"expected_value", cause.expected_value}});
  }
  return {{"root_causes", rows}};
}

nlohmann::json do_not_contact_json(const std::vector<DoNotContactEntry>& entries) {
  nlohmann::json rows = nlohmann::json::array();
  for (const DoNotContactEntry& entry : entries) {
    rows.push_back({{"customer_id", entry.customer_id},
                    {"reason", entry.reason},
                    {"added_by", entry.added_by},
                    {"added", utc_date_text(entry.added_ms)}});
  }
  return {{"do_not_contact", rows}};
}

nlohmann::json campaign_pass_json(const CampaignPass& pass) {
  return {{"enrolled", pass.enrolled},
          {"holdout", pass.holdout},
          {"excluded", pass.excluded},
          {"steps", pass.steps},
          {"messages", pass.messages},
          {"tasks", pass.tasks},
          {"deferred", pass.deferred},
          {"converted", pass.converted},
          {"completed", pass.completed},
          {"revival_touches", pass.revival_touches},
          {"control_closed", pass.control_closed}};
}

nlohmann::json campaign_run_json(const CampaignRunResult& result) {
  nlohmann::json out = campaign_pass_json(result.pass);
  out["delivered"] = result.delivered.delivered;
  out["retrying"] = result.delivered.retried;
  return out;
}

nlohmann::json campaign_summary_json(const CampaignSummary& summary) {
  const CampaignRow& row = summary.campaign;
  const CampaignReport& results = summary.results;
  return {{"id", row.id},
          {"playbook", row.playbook_id},
          {"version", row.playbook_version},
          {"budget", row.budget},
          {"spent", row.spent},
          {"enrolments", row.enrolments_by_state},
          {"recovery_rate", results.recovery_rate},
          {"benefit_cost_ratio", results.benefit_cost_ratio},
          {"uplift", results.uplift_measured ? nlohmann::json(results.uplift) : nlohmann::json()}};
}

nlohmann::json campaign_list_json(const std::vector<CampaignSummary>& summaries) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CampaignSummary& summary : summaries) {
    rows.push_back(campaign_summary_json(summary));
  }
  return {{"campaigns", rows}};
}

nlohmann::json campaign_report_json(const CampaignReport& report) {
  return {{"campaign_id", report.campaign_id},
          {"playbook", report.playbook},
          {"enrolled", report.enrolled},
          {"holdout", report.holdout},
          {"contacted", report.contacted},
          {"recovered", report.recovered},
          {"holdout_recovered", report.holdout_recovered},
          {"recovery_rate", report.recovery_rate},
          {"holdout_recovery_rate", report.holdout_recovery_rate},
          {"uplift", report.uplift_measured ? nlohmann::json(report.uplift) : nlohmann::json(nullptr)},
          {"uplift_95",
           report.uplift_measured ? nlohmann::json{report.uplift_low, report.uplift_high} : nlohmann::json(nullptr)},
          {"cost", report.cost},
          {"revenue_recovered", report.revenue_recovered},
          {"benefit_cost_ratio", report.benefit_cost_ratio}};
}

nlohmann::json task_json(const OwnerTask& task) {
  nlohmann::json row = {{"id", task.id},
                        {"customer_id", task.customer_id},
                        {"owner", task.owner},
                        {"title", task.title},
                        {"created", utc_date_text(task.created_ms)},
                        {"due", utc_date_text(task.due_ms)},
                        {"state", task.state},
                        {"campaign_id", task.campaign_id}};
  if (task.done_ms != 0) {
    row["done"] = utc_date_text(task.done_ms);
    row["done_by"] = task.done_by;
    row["outcome"] = task.outcome;
  }
  return row;
}

nlohmann::json tasks_json(const std::vector<OwnerTask>& tasks) {
  nlohmann::json rows = nlohmann::json::array();
  for (const OwnerTask& task : tasks) {
    rows.push_back(task_json(task));
  }
  return {{"tasks", rows}};
}

nlohmann::json run_summary_json(const RunSummary& summary) {
  nlohmann::json syncs = nlohmann::json::array();
  for (const SyncSummary& sync : summary.syncs) {
    syncs.push_back(sync_summary_json(sync));
  }
  nlohmann::json report = {
      {"run_id", summary.run_id},     {"sync", syncs},
      {"database", summary.database}, {"loaded", summary.loaded},
      {"refused", summary.refused},   {"plugins", plugin_records_json(summary.plugins)["plugins"]},
  };
  if (const std::optional<ScoringPass>& scoring = summary.scoring) {
    report["scoring"] = {{"run_id", scoring->run_id},       {"as_of", utc_date_text(scoring->as_of_ms)},
                         {"customers", scoring->customers}, {"bands", scoring->bands},
                         {"tiers", scoring->tiers},         {"band_changes", scoring->changes.size()},
                         {"skipped", scoring->skipped}};
  }
  if (summary.churn) {
    report["churn"] = churn_detection_json(*summary.churn);
  }
  if (summary.campaign_pass) {
    report["campaigns"] = campaign_pass_json(*summary.campaign_pass);
  }
  const AlertCounts& raised = summary.raised;
  const DeliveryCounts& delivered = summary.delivered;
  report["alerts"] = {{"opened", raised.opened},        {"opened_by_level", raised.opened_by_level},
                      {"reminded", raised.renotified},  {"resolved", raised.resolved},
                      {"escalated", summary.escalated}, {"delivered", delivered.delivered},
                      {"partial", delivered.partial},   {"retrying", delivered.retried},
                      {"dead", delivered.dead},         {"held", delivered.held},
                      {"paced", delivered.paced},       {"messages", delivered.messages},
                      {"digested", delivered.digested}, {"dead_total", summary.dead_total}};
  report["status"] = summary.status;
  return report;
}

nlohmann::json event_ingest_json(const EventIngestResult& result) {
  nlohmann::json rejected = nlohmann::json::array();
  for (const RejectedEvent& event : result.rejected) {
    rejected.push_back({{"index", event.index}, {"external_id", event.external_id}, {"reason", event.reason}});
  }
  return {
      {"source", result.source},          {"accepted", result.accepted},          {"inserted", result.counts.inserted},
      {"updated", result.counts.updated}, {"unchanged", result.counts.unchanged}, {"rejected", rejected}};
}

nlohmann::json run_row_json(const RunRow& run) {
  nlohmann::json summary =
      run.summary_json.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(run.summary_json, nullptr, false);
  if (summary.is_discarded()) {
    summary = run.summary_json;  // a summary that is not JSON is shown as the text it is
  }
  return {{"id", run.id},
          {"kind", run.kind},
          {"status", run.status},
          {"started_ms", run.started_ms},
          {"finished_ms", optional_ms(run.finished_ms)},
          {"summary", summary}};
}

nlohmann::json runs_json(const std::vector<RunRow>& runs) {
  nlohmann::json rows = nlohmann::json::array();
  for (const RunRow& run : runs) {
    rows.push_back(run_row_json(run));
  }
  return {{"runs", rows}};
}

nlohmann::json score_runs_json(const std::vector<ScoreRunRow>& runs) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ScoreRunRow& run : runs) {
    nlohmann::json scorers =
        run.scorers_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(run.scorers_json, nullptr, false);
    rows.push_back({{"id", run.id},
                    {"as_of", utc_date_text(run.as_of_ms)},
                    {"started_ms", run.started_ms},
                    {"finished_ms", optional_ms(run.finished_ms)},
                    {"primary_scorer", run.primary_scorer},
                    {"scorers", scorers.is_discarded() ? nlohmann::json::object() : scorers},
                    {"customers", run.customer_count},
                    {"bands", run.bands}});
  }
  return {{"score_runs", rows}};
}

nlohmann::json connectors_json(const std::vector<ConnectorStatus>& connectors) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ConnectorStatus& status : connectors) {
    nlohmann::json last = nullptr;
    if (const std::optional<ConnectorRun>& run = status.last_sync) {
      last = {
          {"id", run->id},           {"started_ms", run->started_ms}, {"finished_ms", optional_ms(run->finished_ms)},
          {"status", run->status},   {"fetched", run->fetched},       {"inserted", run->inserted},
          {"updated", run->updated}, {"unchanged", run->unchanged},   {"quarantined", run->quarantined},
          {"message", run->message}};
    }
    rows.push_back(
        {{"id", status.plugin.id},
         {"version", status.plugin.version},
         {"state", plugin_state_name(status.plugin.state)},
         {"reason", status.plugin.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(status.plugin.reason)},
         {"last_sync", last},
         {"has_cursor", status.has_cursor},
         {"quarantine_pending", status.quarantine_pending}});
  }
  return {{"connectors", rows}};
}

nlohmann::json overview_json(const Overview& overview) {
  const auto bands_json = [](const std::map<std::string, std::int64_t>& bands) {
    nlohmann::json counts = nlohmann::json::object();
    for (const auto& [band, count] : bands) {
      counts[band] = count;
    }
    return counts;
  };
  nlohmann::json history = nlohmann::json::array();
  for (const RunBandCounts& run : overview.band_history) {
    history.push_back(
        {{"run_id", run.run_id}, {"as_of", rfc3339_text(run.as_of_ms)}, {"bands", bands_json(run.bands)}});
  }
  const BandChangeSummary& changes = overview.band_changes;
  nlohmann::json transitions = nlohmann::json::array();
  for (const BandTransition& transition : changes.transitions) {
    transitions.push_back(
        {{"from", transition.from_band}, {"to", transition.to_band}, {"count", transition.customer_count}});
  }
  nlohmann::json reasons = nlohmann::json::array();
  for (const ReasonCount& reason : overview.lost_by_reason) {
    reasons.push_back({{"reason", reason.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason.reason)},
                       {"count", reason.customer_count}});
  }
  nlohmann::json mass_churn = nlohmann::json::array();
  for (const MassChurnLine& event : overview.mass_churn) {
    mass_churn.push_back({{"id", event.id},
                          {"reason", event.reason},
                          {"period_start", rfc3339_text(event.period_start_ms)},
                          {"lost_count", event.lost_count},
                          {"rate", event.rate},
                          {"alert_id", event.alert_id ? nlohmann::json(*event.alert_id) : nlohmann::json(nullptr)}});
  }
  nlohmann::json connectors = nlohmann::json::array();
  for (const ConnectorStatus& connector : overview.connectors) {
    std::string status(plugin_state_name(connector.plugin.state));
    nlohmann::json last_sync = nullptr;
    if (const std::optional<ConnectorRun>& run = connector.last_sync) {
      last_sync = rfc3339_text(run->finished_ms.value_or(run->started_ms));
      if (connector.plugin.state == PluginState::loaded) {
        status = run->status;
      }
    } else if (connector.plugin.state == PluginState::loaded) {
      status = "never_synced";
    }
    connectors.push_back({{"id", connector.plugin.id},
                          {"status", status},
                          {"last_sync", last_sync},
                          {"quarantined", connector.quarantine_pending}});
  }
  const WinbackFunnel& winback = overview.winback;
  return {{"as_of", rfc3339_text(overview.as_of_ms)},
          {"bands",
           overview.band_history.empty() ? nlohmann::json::object() : bands_json(overview.band_history.back().bands)},
          {"band_history", history},
          {"band_changes",
           {{"since_run", changes.since_run_id ? nlohmann::json(*changes.since_run_id) : nlohmann::json(nullptr)},
            {"worse", changes.worse},
            {"better", changes.better},
            {"transitions", transitions}}},
          {"alerts",
           {{"open_by_level", bands_json(overview.alerts.open_by_level)},
            {"past_deadline", overview.alerts.past_deadline},
            {"due_within_hour", overview.alerts.due_within_hour}}},
          {"lost",
           {{"period_start", rfc3339_text(overview.lost_period_start_ms)},
            {"by_reason", reasons},
            {"mass_churn", mass_churn}}},
          {"winback",
           {{"enrolled", winback.enrolled},
            {"contacted", winback.contacted},
            {"recovered", winback.recovered},
            {"holdout", winback.holdout},
            {"holdout_recovered", winback.holdout_recovered}}},
          {"connectors", connectors}};
}

nlohmann::json config_check_json(const ConfigCheck& check) {
  return {{"config", check.path.string()},
          {"valid", check.problems.empty()},
          {"problems", check.problems},
          {"plugins", check.plugin_states}};
}

namespace {

nlohmann::json scopes_json(const std::vector<Scope>& scopes) {
  nlohmann::json names = nlohmann::json::array();
  for (const Scope scope : scopes) {
    names.push_back(scope_name(scope));
  }
  return names;
}

}  // namespace

nlohmann::json created_api_token_json(const CreatedApiToken& created) {
  return {{"name", created.name},
          {"token", created.token},
          {"scopes", scopes_json(created.scopes)},
          {"created_ms", created.created_ms}};
}

nlohmann::json api_tokens_json(const std::vector<ApiTokenInfo>& tokens) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ApiTokenInfo& token : tokens) {
    rows.push_back({{"name", token.name},
                    {"scopes", scopes_json(token.scopes)},
                    {"created_ms", token.created_ms},
                    {"last_used_ms", optional_ms(token.last_used_ms)},
                    {"revoked_ms", optional_ms(token.revoked_ms)}});
  }
  return rows;
}

nlohmann::json ack_link_json(const AckLinkView& view) {
  nlohmann::json out = {{"status", ack_link_status_name(view.status)}, {"message", view.message}};
  if (view.status == AckLinkStatus::bad_signature) {
    return out;  // nothing about an alert to someone holding a forged or altered link
  }
  out.update({{"alert_id", view.alert_id},
              {"customer_id", view.customer_id},
              {"customer_name", view.customer_name},
              {"band", view.band},
              {"score", view.score ? json_number(*view.score) : nlohmann::json()},
              {"title", view.title},
              {"deadline_ms", view.deadline_ms},
              {"recipient", view.recipient},
              {"alert_state", view.alert_state},
              {"acked_by", view.acked_by.empty() ? nlohmann::json() : nlohmann::json(view.acked_by)},
              {"acked_ms", view.acked_ms == 0 ? nlohmann::json() : nlohmann::json(view.acked_ms)}});
  return out;
}

nlohmann::json user_json(const UserInfo& user) {
  return {{"name", user.name},
          {"display_name", user.display_name},
          {"role", role_name(user.role)},
          {"language", user.language},
          {"time_zone", user.time_zone},
          {"owner_ids", user.owner_ids},
          {"disabled", user.disabled},
          {"has_password", user.has_password},
          {"locked_until_ms", optional_ms(user.locked_until_ms)},
          {"created_ms", user.created_ms},
          {"updated_ms", user.updated_ms}};
}

nlohmann::json users_json(const std::vector<UserInfo>& users) {
  nlohmann::json rows = nlohmann::json::array();
  for (const UserInfo& user : users) {
    rows.push_back(user_json(user));
  }
  return rows;
}

nlohmann::json signed_in_json(const SignedInUser& signed_in) {
  const UserInfo& user = signed_in.user;
  nlohmann::json permissions = nlohmann::json::array();
  for (const std::string_view permission : role_permissions(user.role)) {
    permissions.push_back(permission);
  }
  return {{"user",
           {{"name", user.name},
            {"display_name", user.display_name},
            {"role", role_name(user.role)},
            {"language", user.language},
            {"time_zone", user.time_zone},
            {"owner_ids", user.owner_ids},
            {"permissions", permissions}}},
          {"csrf_token", signed_in.csrf_token},
          {"expires_ms", signed_in.expires_ms}};
}

nlohmann::json cross_validation_json(const CrossValidationJobResult& result) {
  const CrossValidationResult& cv = result.cross_validation;
  nlohmann::json report = {{"folds", cv.folds},
                           {"label", cv.label},
                           {"customers", cv.customers},
                           {"churned", cv.churned},
                           {"unreadable_labels", cv.unreadable},
                           {"fold_customers", cv.fold_customers},
                           {"fold_churned", cv.fold_churned}};
  nlohmann::json scorers = nlohmann::json::array();
  for (const CrossValidationRow& row : cv.rows) {
    nlohmann::json folds = nlohmann::json::array();
    for (const double auc : row.fold_roc_auc) {
      folds.push_back(json_number(auc));
    }
    nlohmann::json entry = {{"scorer", row.scorer_id},
                            {"scored", row.scored},
                            {"fold_roc_auc", folds},
                            {"mean_roc_auc", json_number(row.mean_roc_auc)},
                            {"pooled_roc_auc", json_number(row.pooled_roc_auc)},
                            {"notes", row.notes}};
    if (!row.band_scorer.empty()) {
      entry["band_scorer"] = row.band_scorer;
    }
    scorers.push_back(std::move(entry));
  }
  report["scorers"] = std::move(scorers);
  return report;
}

}  // namespace crm::host
