// `churn`, `dnc` and `campaigns`: lost customers worked through win-back playbooks.
#include <fmt/format.h>
#include <iostream>

#include "app/result_json.hpp"
#include "app/winback_jobs.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "cli/format.hpp"

namespace crm::host {

namespace {

// Arguments of the win-back commands; each command reads the ones it declares.
struct WinbackArgs {
  std::string customer;
  std::string reason;
  std::string note;
  std::string text;
  std::string date;
  std::string by;
  std::string state;
  std::int64_t id = 0;  // a campaign's, or a task's for `campaigns done`
  bool eligible_only = false;
  bool as_json = false;
};

int print_lost(const LostCustomer& row, bool as_json) {
  if (as_json) {
    print_json(lost_customer_json(row));
  } else {
    print_lost_customer(std::cout, row);
  }
  return kExitOk;
}

void add_churn_commands(CLI::App& app, CommandLine& line, Commands& commands, const std::shared_ptr<WinbackArgs>& args,
                        std::vector<CLI::App*>& all) {
  auto* churn = app.add_subcommand("churn", "Lost customers: detect, list, show, mark, confirm the reason, 5 Why");
  churn->require_subcommand(1);
  auto* churn_detect = churn->add_subcommand("detect", "Find lost customers, propose reasons, value and eligibility");
  churn_detect->add_option("--as-of", args->date, "Detect as of this date, YYYY-MM-DD (default: today)")
      ->check(line.calendar_date);
  auto* churn_list = churn->add_subcommand("list", "Lost customers with reason, value and eligibility");
  churn_list->add_flag("--eligible", args->eligible_only, "Only those to be worked through playbooks");
  auto* churn_show = churn->add_subcommand("show", "One lost customer: evidence, reason, value, 5 Why chain");
  auto* churn_mark = churn->add_subcommand("mark", "Mark a customer lost (they told us, or the contract ended)");
  churn_mark->add_option("--date", args->date, "Churn date, YYYY-MM-DD (default: today)")->check(line.calendar_date);
  churn_mark->add_option("--note", args->note, "Why");
  auto* churn_reason = churn->add_subcommand("reason", "Confirm or change a lost customer's reason");
  auto* churn_why = churn->add_subcommand("why", "Add one \"why\" to the customer's 5 Why root-cause chain");
  auto* churn_causes =
      churn->add_subcommand("causes", "Root causes: the last answers of the 5 Why chains, the most customers first");
  // The customer comes first on the command line: `churn reason 2 attracted_away`.
  for (CLI::App* command : {churn_show, churn_mark, churn_reason, churn_why}) {
    command->add_option("CUSTOMER_ID", args->customer, "The store's customer id, or SOURCE:EXTERNAL_ID")->required();
  }
  churn_reason
      ->add_option("REASON", args->reason,
                   "abandoned_by_us, forced_to_leave, bought_off, attracted_away, left_dissatisfied or other")
      ->required()
      ->check(CLI::IsMember(churn_reason_codes()));
  churn_reason->add_option("--note", args->note, "What the person found")->required();
  churn_why->add_option("TEXT", args->text, "The answer to the next \"why?\"")->required();
  for (CLI::App* command : {churn_mark, churn_reason}) {
    command->add_option("--by", args->by, "Who (default: $USER)");
  }
  all.insert(all.end(), {churn_detect, churn_list, churn_show, churn_mark, churn_reason, churn_why, churn_causes});

  commands.add(churn_detect, [&line, args] {
    const ChurnDetection counts =
        detect_churn(*open_session(line, LogLevel::warn), optional_date(args->date, "--as-of"));
    std::cout << (args->as_json ? churn_detection_json(counts).dump(2) : churn_detection_line(counts)) << '\n';
    return kExitOk;
  });
  commands.add(churn_list, [&line, args] {
    const std::vector<LostCustomer> rows =
        list_lost_customers(*open_session(line, LogLevel::warn), args->eligible_only);
    if (args->as_json) {
      print_json(lost_customers_json(rows));
    } else {
      print_lost_customers(std::cout, rows);
    }
    return kExitOk;
  });
  commands.add(churn_causes, [&line, args] {
    const std::vector<RootCause> causes = list_root_causes(*open_session(line, LogLevel::warn));
    if (args->as_json) {
      print_json(root_causes_json(causes));
    } else {
      print_root_causes(std::cout, causes);
    }
    return kExitOk;
  });
  commands.add(churn_show, [&line, args] {
    return print_lost(show_lost_customer(*open_session(line, LogLevel::warn), args->customer), args->as_json);
  });
  commands.add(churn_mark, [&line, args] {
    return print_lost(mark_lost(*open_session(line, LogLevel::warn), args->customer,
                                optional_date(args->date, "--date"), args->note, args->by),
                      args->as_json);
  });
  commands.add(churn_reason, [&line, args] {
    return print_lost(
        set_churn_reason(*open_session(line, LogLevel::warn), args->customer, args->reason, args->note, args->by),
        args->as_json);
  });
  commands.add(churn_why, [&line, args] {
    return print_lost(add_churn_why(*open_session(line, LogLevel::warn), args->customer, args->text), args->as_json);
  });
}

void add_dnc_commands(CLI::App& app, CommandLine& line, Commands& commands, const std::shared_ptr<WinbackArgs>& args,
                      std::vector<CLI::App*>& all) {
  auto* dnc = app.add_subcommand("dnc", "The do-not-contact list: no campaign or revival touch reaches these");
  dnc->require_subcommand(1);
  auto* dnc_add = dnc->add_subcommand("add", "Add a customer, with the reason");
  dnc_add->add_option("CUSTOMER_ID", args->customer, "The store's customer id, or SOURCE:EXTERNAL_ID")->required();
  dnc_add->add_option("--reason", args->reason, "Why (a request, a legal hold...)")->required();
  dnc_add->add_option("--by", args->by, "Who (default: $USER)");
  auto* dnc_remove = dnc->add_subcommand("remove", "Remove a customer");
  dnc_remove->add_option("CUSTOMER_ID", args->customer, "The store's customer id, or SOURCE:EXTERNAL_ID")->required();
  auto* dnc_list = dnc->add_subcommand("list", "Everyone on the list and why");
  all.insert(all.end(), {dnc_add, dnc_remove, dnc_list});

  commands.add(dnc_list, [&line, args] {
    const std::vector<DoNotContactEntry> entries = list_do_not_contact(*open_session(line, LogLevel::warn));
    if (args->as_json) {
      print_json(do_not_contact_json(entries));
    } else {
      print_do_not_contact(std::cout, entries);
    }
    return kExitOk;
  });
  const auto print_changed = [](std::int64_t customer, bool added, bool as_json) {
    if (as_json) {
      print_json({{"customer_id", customer}, {"done", added ? "add" : "remove"}});
    } else {
      std::cout << fmt::format("customer {} {} the do-not-contact list\n", customer,
                               added ? "added to" : "removed from");
    }
    return kExitOk;
  };
  commands.add(dnc_add, [&line, args, print_changed] {
    return print_changed(
        add_do_not_contact(*open_session(line, LogLevel::warn), args->customer, args->reason, args->by), true,
        args->as_json);
  });
  commands.add(dnc_remove, [&line, args, print_changed] {
    return print_changed(remove_do_not_contact(*open_session(line, LogLevel::warn), args->customer), false,
                         args->as_json);
  });
}

void add_campaign_commands(CLI::App& app, CommandLine& line, Commands& commands,
                           const std::shared_ptr<WinbackArgs>& args, std::vector<CLI::App*>& all) {
  auto* campaign_cmd =
      app.add_subcommand("campaigns", "Win-back campaigns: list, run (enrol and advance), status, report with uplift");
  campaign_cmd->require_subcommand(1);
  auto* campaigns_list = campaign_cmd->add_subcommand("list", "Campaigns and their enrolments by state");
  auto* campaigns_run =
      campaign_cmd->add_subcommand("run", "Enrol eligible lost customers, advance due steps, deliver the messages");
  campaigns_run
      ->add_option("--as-of", args->date,
                   "Run the campaigns as if it were this date, YYYY-MM-DD (replaying history; default: now)")
      ->check(line.calendar_date);
  auto* campaigns_status = campaign_cmd->add_subcommand("status", "One campaign's budget and enrolments");
  auto* campaigns_report = campaign_cmd->add_subcommand(
      "report", "Enrolled, contacted, recovered, cost, revenue, benefit/cost, uplift vs holdout with a 95 % interval");
  auto* campaigns_tasks = campaign_cmd->add_subcommand("tasks", "The owners' tasks the playbooks created");
  campaigns_tasks->add_option("--state", args->state, "open or done")->check(CLI::IsMember({"open", "done"}));
  auto* campaigns_done = campaign_cmd->add_subcommand(
      "done", "Close a task with what came of it (a playbook's task_done branch reads it)");
  campaigns_done->add_option("TASK_ID", args->id, "Task id (from `campaigns tasks`)")->required();
  campaigns_done->add_option("--outcome", args->note, "What came of it")->required();
  campaigns_done->add_option("--by", args->by, "Who (default: $USER)");
  for (CLI::App* command : {campaigns_status, campaigns_report}) {
    command->add_option("ID", args->id, "Campaign id (from `campaigns list`)")->required();
  }
  all.insert(all.end(),
             {campaigns_list, campaigns_run, campaigns_status, campaigns_report, campaigns_tasks, campaigns_done});

  commands.add(campaigns_run, [&line, args] {
    const CampaignRunResult result =
        run_campaigns(*open_session(line, LogLevel::warn), optional_date(args->date, "--as-of"));
    if (args->as_json) {
      print_json(campaign_run_json(result));
    } else {
      print_campaign_run(std::cout, result);
    }
    return result.refused > 0 ? kExitPartial : kExitOk;
  });
  commands.add(campaigns_tasks, [&line, args] {
    // The owners' tasks the playbooks created (the senior person's dialogue, the competitor analysis).
    const std::vector<OwnerTask> tasks = list_tasks(*open_session(line, LogLevel::warn), args->state);
    if (args->as_json) {
      print_json(tasks_json(tasks));
    } else {
      print_tasks(std::cout, tasks);
    }
    return kExitOk;
  });
  commands.add(campaigns_done, [&line, args] {
    complete_task(*open_session(line, LogLevel::warn), args->id, args->note, args->by);
    if (args->as_json) {
      print_json({{"task_id", args->id}, {"state", "done"}});
    } else {
      std::cout << fmt::format("task {} done\n", args->id);
    }
    return kExitOk;
  });
  commands.add(campaigns_list, [&line, args] {
    const std::vector<CampaignSummary> summaries = list_campaigns(*open_session(line, LogLevel::warn));
    if (args->as_json) {
      print_json(campaign_list_json(summaries));
    } else {
      print_campaigns(std::cout, summaries);
    }
    return kExitOk;
  });
  commands.add(campaigns_status, [&line, args] {
    const CampaignSummary summary = campaign_status(*open_session(line, LogLevel::warn), args->id);
    if (args->as_json) {
      print_json(campaign_summary_json(summary));
    } else {
      print_campaigns(std::cout, {summary});
    }
    return kExitOk;
  });
  commands.add(campaigns_report, [&line, args] {
    const CampaignReport report = campaign_report(*open_session(line, LogLevel::warn), args->id);
    if (args->as_json) {
      print_json(campaign_report_json(report));
    } else {
      print_campaign_report(std::cout, report);
    }
    return kExitOk;
  });
}

}  // namespace

void add_winback_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  auto args = std::make_shared<WinbackArgs>();
  args->by = line.user;
  std::vector<CLI::App*> all;
  add_churn_commands(app, line, commands, args, all);
  add_dnc_commands(app, line, commands, args, all);
  add_campaign_commands(app, line, commands, args, all);
  for (CLI::App* command : all) {
    command->add_flag("--json", args->as_json, "Print JSON");
  }
}

}  // namespace crm::host
