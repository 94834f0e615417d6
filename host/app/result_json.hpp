#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/ack_links.hpp"
#include "app/alert_jobs.hpp"
#include "app/api_tokens.hpp"
#include "app/config_check.hpp"
#include "app/customers.hpp"
#include "app/events.hpp"
#include "app/overview.hpp"
#include "app/plugin_validation.hpp"
#include "app/run_job.hpp"
#include "app/runs.hpp"
#include "app/scoring_jobs.hpp"
#include "app/sync_jobs.hpp"
#include "app/users.hpp"
#include "app/winback_jobs.hpp"

namespace crm::host {

// The JSON form of every result of the application core: what `crmhost ...
// --json` prints, what a run stores as its summary, and the bodies a REST
// API serves. One function per result type, so the forms never drift apart.

// A number rounded to 4 decimals; NaN as null.
nlohmann::json json_number(double value);

// {"host_abi": "1.0", "plugins": [{"id" (the instance name), "plugin" (the plugin it runs), "kind", "version",
//  "abi", "file", "state", "reason"}]}
nlohmann::json plugin_records_json(const std::vector<PluginRecord>& records);

// `crmhost plugins validate --json`: {"file", "passed", "passes", "failures", "skips",
// "checks": [{"plugin", "kind", "check", "outcome": "pass"|"fail"|"skip", "detail"}]}
nlohmann::json plugin_validation_json(const PluginValidation& validation);

nlohmann::json sync_summary_json(const SyncSummary& summary);
nlohmann::json sync_result_json(const SyncResult& result);
nlohmann::json quarantine_json(const std::vector<QuarantineEntry>& entries);
nlohmann::json quarantine_retry_json(const QuarantineRetryResult& result);

nlohmann::json score_result_json(const ScoringPass& pass);
nlohmann::json customer_360_json(const Customer360& view);
nlohmann::json customer_list_json(const std::vector<CustomerListRow>& rows);
// {"customers": [...as customer_list_json], "next_cursor": "..." or null}
nlohmann::json customer_page_json(const CustomerPage& page);
// The same rows as CSV (RFC 4180: a header row, CRLF line ends, fields quoted
// when they hold a comma, quote or line break), UTF-8.
std::string customer_list_csv(const std::vector<CustomerListRow>& rows);
nlohmann::json follow_up_json(const RecordedFollowUp& recorded);
nlohmann::json train_result_json(const TrainResult& result);
// `as_of` as the request gave it.
nlohmann::json backtest_json(const BacktestResult& result, const std::string& as_of, int horizon_days);
nlohmann::json cross_validation_json(const CrossValidationJobResult& result);
nlohmann::json features_json(const std::vector<std::string>& names);

// An alert with its notifications (GET /api/v1/alerts/{id}): alert_json plus
// "escalation_history": [{"event","level","recipients","channel","state","at","sent_at"}].
nlohmann::json alert_detail_json(const AlertRow& row, const std::vector<AlertNotice>& history);
nlohmann::json alert_json(const AlertRow& row);
nlohmann::json alert_list_json(const AlertList& list);
nlohmann::json outbox_json(const std::vector<OutboxRow>& rows);

nlohmann::json lost_customer_json(const LostCustomer& lost);
nlohmann::json lost_customers_json(const std::vector<LostCustomer>& rows);
nlohmann::json churn_detection_json(const ChurnDetection& counts);
nlohmann::json root_causes_json(const std::vector<RootCause>& causes);
nlohmann::json do_not_contact_json(const std::vector<DoNotContactEntry>& entries);
nlohmann::json campaign_pass_json(const CampaignPass& pass);
nlohmann::json campaign_run_json(const CampaignRunResult& result);
nlohmann::json campaign_summary_json(const CampaignSummary& summary);
nlohmann::json campaign_list_json(const std::vector<CampaignSummary>& summaries);
nlohmann::json campaign_report_json(const CampaignReport& report);
nlohmann::json task_json(const OwnerTask& task);
nlohmann::json tasks_json(const std::vector<OwnerTask>& tasks);

nlohmann::json run_summary_json(const RunSummary& summary);

// {"source", "accepted", "inserted", "updated", "unchanged", "rejected": [{"index", "external_id", "reason"}]}
nlohmann::json event_ingest_json(const EventIngestResult& result);
// A run with its stored summary as JSON (null while running).
nlohmann::json run_row_json(const RunRow& run);
nlohmann::json runs_json(const std::vector<RunRow>& runs);
nlohmann::json score_runs_json(const std::vector<ScoreRunRow>& runs);
nlohmann::json connectors_json(const std::vector<ConnectorStatus>& connectors);
// GET /api/v1/overview: times RFC 3339 UTC; band_changes.transitions' from/to and the mass-churn
// events as the overview read them.
nlohmann::json overview_json(const Overview& overview);
nlohmann::json config_check_json(const ConfigCheck& check);
// {"status", "message"} and, unless bad_signature, {"alert_id", "customer_id", "customer_name", "band",
// "score", "title", "deadline_ms", "recipient", "alert_state", "acked_by", "acked_ms"}.
nlohmann::json ack_link_json(const AckLinkView& view);

// {"name", "token", "scopes": ["read", ...], "created_ms"}: the only form that holds a token.
nlohmann::json created_api_token_json(const CreatedApiToken& created);
// [{"name", "scopes", "created_ms", "last_used_ms", "revoked_ms"}], never a token nor a hash.
nlohmann::json api_tokens_json(const std::vector<ApiTokenInfo>& tokens);

// {"name", "display_name", "role", "language", "time_zone", "owner_ids", "disabled", "has_password",
// "locked_until_ms", "created_ms", "updated_ms"}: never a password nor its hash.
nlohmann::json user_json(const UserInfo& user);
nlohmann::json users_json(const std::vector<UserInfo>& users);
// {"user": {"name", "display_name", "role", "language", "time_zone", "owner_ids", "permissions"},
//  "csrf_token", "expires_ms"}: the body of /api/v1/session.
nlohmann::json signed_in_json(const SignedInUser& signed_in);

}  // namespace crm::host
