#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "app/alert_jobs.hpp"
#include "app/config_check.hpp"
#include "app/customers.hpp"
#include "app/run_job.hpp"
#include "app/scoring_jobs.hpp"
#include "app/sync_jobs.hpp"
#include "app/winback_jobs.hpp"
#include "scoring/settings.hpp"

namespace crm::host {

// The text form of each result of the application core, as `crmhost` prints
// it without --json (the JSON forms are app/result_json.hpp). Scripts and
// tests read these lines: change them only on purpose.

std::string sync_summary_line(const SyncSummary& summary);
void print_sync(std::ostream& out, const SyncResult& result);
void print_quarantine(std::ostream& out, const std::vector<QuarantineEntry>& entries);
void print_quarantine_retry(std::ostream& out, const QuarantineRetryResult& result);

void print_score(std::ostream& out, const ScoringPass& pass, const ScoringSettings& settings);
void print_customer_360(std::ostream& out, const Customer360& view);
void print_train(std::ostream& out, const TrainResult& result);
void print_backtest(std::ostream& out, const BacktestResult& result, const std::string& as_of, int horizon_days);
void print_cross_validation(std::ostream& out, const CrossValidationJobResult& result);

void print_alerts(std::ostream& out, const AlertList& list);
void print_outbox(std::ostream& out, const std::vector<OutboxRow>& rows);

std::string churn_detection_line(const ChurnDetection& counts);
std::string campaign_pass_line(const CampaignPass& pass);
void print_lost_customers(std::ostream& out, const std::vector<LostCustomer>& rows);
void print_lost_customer(std::ostream& out, const LostCustomer& row);
void print_root_causes(std::ostream& out, const std::vector<RootCause>& causes);
void print_do_not_contact(std::ostream& out, const std::vector<DoNotContactEntry>& entries);
void print_campaign_run(std::ostream& out, const CampaignRunResult& result);
void print_campaigns(std::ostream& out, const std::vector<CampaignSummary>& summaries);
void print_campaign_report(std::ostream& out, const CampaignReport& report);
void print_tasks(std::ostream& out, const std::vector<OwnerTask>& tasks);

// The plugin table only when `with_plugin_table` or a plugin was refused: a cron mail shows it when it has
// something to say.
void print_run_summary(std::ostream& out, const RunSummary& summary, const ScoringSettings& settings,
                       bool with_plugin_table);
void print_config_check(std::ostream& out, const ConfigCheck& check);

}  // namespace crm::host
