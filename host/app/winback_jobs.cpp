#include "app/winback_jobs.hpp"

#include <fmt/format.h>

#include "app/customers.hpp"
#include "app/errors.hpp"
#include "app/request_dates.hpp"

namespace crm::host {

namespace {

// The lost-customer engine over the session's store, raising its alerts through an
// alert engine whose plugins are not loaded (they are delivered by `run`).
struct LostContext {
  explicit LostContext(Session& session)
      : store(session.open_store()),
        host(session.plugins(*store, false)),
        alerts(*store, *host, session.logger(), session.clock(), session.config().alerts, session.config().scoring),
        lost(*store, &alerts, session.logger(), session.clock(), session.config().winback) {}

  StoreHandle store;
  std::unique_ptr<PluginHost> host;
  AlertEngine alerts;
  LostCustomers lost;
};

// The campaign engine over the session's store, on today's clock.
struct CampaignContext {
  explicit CampaignContext(Session& session)
      : store(session.open_store()), campaigns(*store, session.logger(), session.clock(), session.config().winback) {}

  StoreHandle store;
  CampaignEngine campaigns;
};

LostCustomer lost_or_not_found(LostCustomers& lost, std::int64_t customer) {
  std::optional<LostCustomer> row = lost.find(customer);
  if (!row) {
    throw NotFound(fmt::format("customer {} is not a lost customer", customer));
  }
  return std::move(*row);
}

}  // namespace

ChurnDetection detect_churn(Session& session, std::optional<std::int64_t> as_of_ms) {
  return LostContext(session).lost.detect(as_of_or_today(as_of_ms, session.clock()));
}

std::vector<LostCustomer> list_lost_customers(Session& session, bool eligible_only) {
  return LostContext(session).lost.list(eligible_only);
}

std::vector<RootCause> list_root_causes(Session& session) {
  return LostContext(session).lost.root_causes();
}

LostCustomer show_lost_customer(Session& session, const std::string& customer) {
  LostContext context(session);
  return lost_or_not_found(context.lost, find_customer(*context.store, customer));
}

LostCustomer mark_lost(Session& session, const std::string& customer, std::optional<std::int64_t> churn_date_ms,
                       const std::string& note, const std::string& by) {
  LostContext context(session);
  const std::int64_t id = find_customer(*context.store, customer);
  context.lost.mark(id, churn_date_ms ? *churn_date_ms : session.clock().now_ms(), note, by);
  return lost_or_not_found(context.lost, id);
}

LostCustomer set_churn_reason(Session& session, const std::string& customer, const std::string& reason,
                              const std::string& note, const std::string& by) {
  LostContext context(session);
  const std::int64_t id = find_customer(*context.store, customer);
  if (!context.lost.set_reason(id, reason, note, by)) {
    throw NotFound(fmt::format("customer {} is not a lost customer (run `crmhost churn detect`)", id));
  }
  return lost_or_not_found(context.lost, id);
}

LostCustomer add_churn_why(Session& session, const std::string& customer, const std::string& why) {
  LostContext context(session);
  const std::int64_t id = find_customer(*context.store, customer);
  if (!context.lost.add_why(id, why)) {
    throw NotFound(fmt::format("customer {} is not a lost customer", id));
  }
  return lost_or_not_found(context.lost, id);
}

std::vector<DoNotContactEntry> list_do_not_contact(Session& session) {
  const StoreHandle store = session.open_store();
  return WinbackReadRepository(store->database()).do_not_contact();
}

std::int64_t add_do_not_contact(Session& session, const std::string& customer, const std::string& reason,
                                const std::string& by) {
  CampaignContext context(session);
  const std::int64_t id = find_customer(*context.store, customer);
  context.campaigns.add_do_not_contact(id, reason, by);
  return id;
}

std::int64_t remove_do_not_contact(Session& session, const std::string& customer) {
  CampaignContext context(session);
  const std::int64_t id = find_customer(*context.store, customer);
  if (!context.campaigns.remove_do_not_contact(id)) {
    throw NotFound(fmt::format("customer {} is not on the do-not-contact list", id));
  }
  return id;
}

CampaignRunResult run_campaigns(Session& session, std::optional<std::int64_t> as_of_ms) {
  const std::unique_ptr<JobLock> one_job_at_a_time = session.lock_jobs("campaigns run");
  const StoreHandle store = session.open_store();
  session.close_interrupted_runs(*store, *one_job_at_a_time);
  const CampaignClock campaign_clock(session.clock(), as_of_ms);
  CampaignEngine campaigns(*store, session.logger(), campaign_clock.clock(), session.config().winback);
  const std::unique_ptr<PluginHost> host = session.plugins(*store);
  CampaignRunResult result;
  result.refused = session.report_refusals(*host, {"channel"});
  result.pass = campaigns.run();
  AlertEngine delivery(*store, *host, session.logger(), session.clock(), session.config().alerts,
                       session.config().scoring);
  result.delivered = delivery.deliver();
  return result;
}

std::vector<CampaignSummary> list_campaigns(Session& session) {
  CampaignContext context(session);
  std::vector<CampaignSummary> summaries;
  for (CampaignRow& row : context.campaigns.list()) {
    // Each version's results beside the others', kept for the next campaign (domain.md 6.5).
    CampaignReport results = context.campaigns.report(row.id).value();
    summaries.push_back({std::move(row), std::move(results)});
  }
  return summaries;
}

CampaignSummary campaign_status(Session& session, std::int64_t campaign_id) {
  for (CampaignSummary& summary : list_campaigns(session)) {
    if (summary.campaign.id == campaign_id) {
      return std::move(summary);
    }
  }
  throw NotFound(fmt::format("no campaign {} (see `crmhost campaigns list`)", campaign_id));
}

CampaignReport campaign_report(Session& session, std::int64_t campaign_id) {
  std::optional<CampaignReport> report = CampaignContext(session).campaigns.report(campaign_id);
  if (!report) {
    throw NotFound(fmt::format("no campaign {} (see `crmhost campaigns list`)", campaign_id));
  }
  return std::move(*report);
}

std::vector<OwnerTask> list_tasks(Session& session, const std::string& state) {
  const StoreHandle store = session.open_store();
  return WinbackReadRepository(store->database()).tasks(state);
}

void complete_task(Session& session, std::int64_t task_id, const std::string& outcome, const std::string& by) {
  if (!CampaignContext(session).campaigns.complete_task(task_id, outcome, by)) {
    throw NotFound(fmt::format("no task {} (see `crmhost campaigns tasks`)", task_id));
  }
}

}  // namespace crm::host
