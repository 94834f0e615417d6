// `score`, `explain`, `train`, `backtest` and `features`: scoring and what it says about a customer.
#include <fmt/format.h>
#include <fstream>
#include <iostream>

#include "app/customers.hpp"
#include "app/errors.hpp"
#include "app/request_dates.hpp"
#include "app/result_json.hpp"
#include "app/scoring_jobs.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "cli/format.hpp"

namespace crm::host {

void add_scoring_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  struct Args {
    bool score_json = false;
    std::string score_as_of;
    bool explain_json = false;
    std::string explain_customer;
    bool train_json = false;
    std::string train_as_of;
    int train_horizon_days = 90;
    bool backtest_json = false;
    std::string backtest_as_of;
    int backtest_horizon_days = 90;
    int backtest_lead_step_days = 7;
    int backtest_folds = 0;
    std::string backtest_label = "churned";
    std::string backtest_folds_out;
  };
  auto args = std::make_shared<Args>();

  auto* score = app.add_subcommand("score", "Score every customer through the scorer plugins and store the run");
  score->add_option("--as-of", args->score_as_of, "Compute features as of this date, YYYY-MM-DD (default: today)")
      ->check(line.calendar_date);
  score->add_flag("--json", args->score_json, "Print the band distribution and band changes as JSON");
  commands.add(score, [&line, args] {
    const std::unique_ptr<Session> session = open_session(line, LogLevel::warn);
    const ScoreJobResult result = crm::host::score(*session, optional_date(args->score_as_of, "--as-of"));
    if (args->score_json) {
      print_json(score_result_json(result.pass));
    } else {
      print_score(std::cout, result.pass, session->config().scoring);
    }
    return result.refused > 0 ? kExitPartial : kExitOk;
  });

  auto* explain = app.add_subcommand("explain", "Why a customer has their score: band, tier, stage, reasons");
  explain
      ->add_option("CUSTOMER_ID", args->explain_customer,
                   "The store's customer id (as `score` prints it), or SOURCE:EXTERNAL_ID (erp_csv:17850)")
      ->required();
  explain->add_flag("--json", args->explain_json, "Print JSON");
  commands.add(explain, [&line, args] {
    const Customer360 view = customer_360(*open_session(line, LogLevel::warn), args->explain_customer);
    if (args->explain_json) {
      print_json(customer_360_json(view));
    } else {
      print_customer_360(std::cout, view);
    }
    return kExitOk;
  });

  auto* train = app.add_subcommand(
      "train", "Fit the learning scorers on history: features a horizon before the date, outcome up to it");
  train->add_option("--as-of", args->train_as_of, "End of the known outcome, YYYY-MM-DD (default: today)")
      ->check(line.calendar_date);
  CLI::Option* train_horizon =
      train
          ->add_option("--horizon", args->train_horizon_days,
                       "Days without a purchase that count as churn (default: scoring.horizon_days, 90)")
          ->check(CLI::Range(1, 3650));
  train->add_flag("--json", args->train_json, "Print JSON");
  commands.add(train, [&line, args, train_horizon] {
    const std::unique_ptr<Session> session = open_session(line, LogLevel::warn);
    // The configured horizon unless one is asked for: the one the churn probability of every run is for.
    const int horizon_days =
        train_horizon->count() > 0 ? args->train_horizon_days : session->config().scoring.horizon_days;
    const TrainResult result = crm::host::train(*session, optional_date(args->train_as_of, "--as-of"), horizon_days);
    if (args->train_json) {
      print_json(train_result_json(result));
    } else {
      print_train(std::cout, result);
    }
    if (result.failed()) {
      return kExitFailure;
    }
    return result.refused > 0 ? kExitPartial : kExitOk;
  });

  auto* backtest =
      app.add_subcommand("backtest",
                         "Measure every scorer on the real outcome after a past date: ROC-AUC, top-10 % precision and "
                         "recall, lead time");
  backtest
      ->add_option("--as-of", args->backtest_as_of,
                   "The date to predict from, YYYY-MM-DD (required; with --folds, the date of the history "
                   "features, default today)")
      ->check(line.calendar_date);
  backtest->add_option("--horizon", args->backtest_horizon_days, "Days without a purchase that count as churn")
      ->check(CLI::Range(1, 3650));
  backtest
      ->add_option("--lead-step", args->backtest_lead_step_days,
                   "Days between the snapshots that measure lead time (0: skip lead time)")
      ->check(CLI::Range(0, 365));
  backtest
      ->add_option("--folds", args->backtest_folds,
                   "Instead of a date: k-fold stratified cross-validation on the customers whose --label "
                   "attribute is yes or no (each fold scored by models trained on the others)")
      ->check(CLI::Range(2, 100));
  backtest->add_option("--label", args->backtest_label, "With --folds: the attribute holding the outcome (yes/no)");
  backtest->add_option("--folds-out", args->backtest_folds_out,
                       "With --folds: write each customer's fold as CSV (external_id,churned,fold) to this file");
  backtest->add_flag("--json", args->backtest_json, "Print JSON");
  commands.add(backtest, [&line, args] {
    if (args->backtest_folds > 0) {
      const std::unique_ptr<Session> session = open_session(line, LogLevel::warn);
      CrossValidationOptions options;
      options.folds = args->backtest_folds;
      options.label = args->backtest_label;
      options.as_of_ms =
          args->backtest_as_of.empty() ? session->clock().now_ms() : parse_date_ms(args->backtest_as_of, "--as-of");
      const CrossValidationJobResult result = cross_validate(*session, options);
      if (!args->backtest_folds_out.empty()) {
        std::ofstream out(args->backtest_folds_out, std::ios::binary);
        out << folds_csv(result.cross_validation);
        if (!out.flush()) {
          throw InvalidRequest(fmt::format("--folds-out {}: cannot write the file", args->backtest_folds_out));
        }
      }
      if (args->backtest_json) {
        print_json(cross_validation_json(result));
      } else {
        print_cross_validation(std::cout, result);
      }
      return result.refused > 0 ? kExitPartial : kExitOk;
    }
    if (args->backtest_as_of.empty()) {
      throw InvalidRequest("--as-of is required (or --folds for a cross-validation)");
    }
    if (!args->backtest_folds_out.empty()) {
      throw InvalidRequest("--folds-out goes with --folds");
    }
    const std::unique_ptr<Session> session = open_session(line, LogLevel::warn);
    BacktestOptions options;
    options.as_of_ms = parse_date_ms(args->backtest_as_of, "--as-of");
    options.horizon_days = args->backtest_horizon_days;
    options.lead_step_days = args->backtest_lead_step_days;
    const BacktestResult result = crm::host::backtest(*session, options);
    if (args->backtest_json) {
      print_json(backtest_json(result, args->backtest_as_of, args->backtest_horizon_days));
    } else {
      print_backtest(std::cout, result, args->backtest_as_of, args->backtest_horizon_days);
    }
    return result.refused > 0 ? kExitPartial : kExitOk;
  });
}

void add_features_command(CLI::App& app, CommandLine& line, Commands& commands) {
  auto as_json = std::make_shared<bool>(false);
  auto* features = app.add_subcommand("features", "List the customer features this host computes for scorers");
  features->add_flag("--json", *as_json, "Print JSON");
  commands.add(features, [&line, as_json] {
    const std::vector<std::string> names = list_features(*open_session(line, LogLevel::warn));
    if (*as_json) {
      print_json(features_json(names));
    } else {
      for (const std::string& name : names) {
        std::cout << name << '\n';
      }
    }
    return kExitOk;
  });
}

}  // namespace crm::host
