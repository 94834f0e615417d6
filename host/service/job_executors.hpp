#pragma once

#include "app/session.hpp"
#include "service/scheduler.hpp"

namespace crm::host {

// The jobs of crmhost serve over the application core, each run under the
// job lock the scheduler holds and recorded in `runs` (command = the job id,
// summary = its counts), as `crmhost run` records its own:
// - sync:<id>: that connector's sync; a connector that fails as a whole raises its alert.
// - score: every customer as of today, then the alerts of the new scores (raised at once).
// - alerts: escalation of alerts past their deadline, then delivery of the outbox.
// - winback: churn detection, the campaigns' due steps, and delivery of their messages.
// A job the session cancels mid-way stops between steps and is recorded "cancelled".
// `session` must outlive the executors; they run on the scheduler's thread.
JobExecutors make_job_executors(Session& session);

}  // namespace crm::host
