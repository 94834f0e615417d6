// `alerts`: list, acknowledge, resolve, the outbox, resend.
#include <fmt/format.h>
#include <iostream>

#include "app/alert_jobs.hpp"
#include "app/result_json.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "cli/format.hpp"

namespace crm::host {

namespace {

// What `ack`, `resolve` and `resend` print once done.
int print_done(const char* action, std::int64_t id, bool as_json) {
  const std::string_view done = action;
  if (as_json) {
    print_json({{"id", id}, {"done", action}});
  } else {
    std::cout << fmt::format("{} {}: {}\n", done == "resend" ? "notification" : "alert", id,
                             done == "ack"       ? "acknowledged"
                             : done == "resolve" ? "resolved"
                                                 : "queued again");
  }
  return kExitOk;
}

}  // namespace

void add_alert_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  struct Args {
    bool as_json = false;
    std::string state;
    std::string by;
    std::string note;
    std::int64_t id = 0;
  };
  auto args = std::make_shared<Args>();
  args->by = line.user;
  auto* alerts = app.add_subcommand("alerts", "Alerts and their notifications: list, acknowledge, resolve, resend");
  alerts->require_subcommand(1);

  auto* alerts_list = alerts->add_subcommand("list", "Alerts, oldest first, and the median time to acknowledge");
  alerts_list->add_option("--state", args->state, "open, acknowledged or resolved")
      ->check(CLI::IsMember({"open", "acknowledged", "resolved"}));
  alerts_list->add_flag("--json", args->as_json, "Print JSON");
  commands.add(alerts_list, [&line, args] {
    const AlertList list = list_alerts(*open_session(line, LogLevel::warn), args->state);
    if (args->as_json) {
      print_json(alert_list_json(list));
    } else {
      print_alerts(std::cout, list);
    }
    return kExitOk;
  });

  auto* alerts_ack = alerts->add_subcommand("ack", "Acknowledge an alert: it stops escalating");
  alerts_ack->add_option("ID", args->id, "Alert id")->required();
  alerts_ack->add_option("--by", args->by, "Who acknowledges (default: $USER)");
  alerts_ack->add_flag("--json", args->as_json, "Print JSON");
  commands.add(alerts_ack, [&line, args] {
    acknowledge_alert(*open_session(line, LogLevel::warn), args->id, args->by);
    return print_done("ack", args->id, args->as_json);
  });

  auto* alerts_resolve = alerts->add_subcommand("resolve", "Close an alert with a note");
  alerts_resolve->add_option("ID", args->id, "Alert id")->required();
  alerts_resolve->add_option("--note", args->note, "What was done")->required();
  alerts_resolve->add_option("--by", args->by, "Who resolves (default: $USER)");
  alerts_resolve->add_flag("--json", args->as_json, "Print JSON");
  commands.add(alerts_resolve, [&line, args] {
    resolve_alert(*open_session(line, LogLevel::warn), args->id, args->by, args->note);
    return print_done("resolve", args->id, args->as_json);
  });

  auto* alerts_outbox = alerts->add_subcommand("outbox", "Notifications: pending, sent or dead, with their errors");
  alerts_outbox->add_option("--state", args->state, "pending, sent or dead")
      ->check(CLI::IsMember({"pending", "sent", "dead"}));
  alerts_outbox->add_flag("--json", args->as_json, "Print JSON");
  commands.add(alerts_outbox, [&line, args] {
    const std::vector<OutboxRow> rows = list_outbox(*open_session(line, LogLevel::warn), args->state);
    if (args->as_json) {
      print_json(outbox_json(rows));
    } else {
      print_outbox(std::cout, rows);
    }
    return kExitOk;
  });

  auto* alerts_resend = alerts->add_subcommand("resend", "Queue a dead notification again");
  alerts_resend->add_option("ID", args->id, "Notification id (from `alerts outbox`)")->required();
  alerts_resend->add_flag("--json", args->as_json, "Print JSON");
  commands.add(alerts_resend, [&line, args] {
    resend_notification(*open_session(line, LogLevel::warn), args->id);
    return print_done("resend", args->id, args->as_json);
  });
}

}  // namespace crm::host
