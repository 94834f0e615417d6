#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/session.hpp"

namespace crm::host {

// What the commands of `crmhost` share: the global options, who acts when
// --by is not given, and the date check of every date option.
struct CommandLine {
  SessionOptions session;
  bool verbose = false;
  std::string user;  // $USER, else "crmhost"
  CLI::Validator calendar_date;
};

// The action of each leaf command: parse, call the application core, print,
// return the exit code. Set while the command tree is built, run after parsing.
class Commands {
 public:
  void add(CLI::App* command, std::function<int()> action) { actions_.emplace_back(command, std::move(action)); }
  // The action of the command the line chose, if any.
  [[nodiscard]] std::optional<int> run_parsed() const {
    for (const auto& [command, action] : actions_) {
      // A parent that has actions of its own (`plugins`) gives way to the subcommand chosen (`plugins install`).
      if (command->parsed() && command->get_subcommands().empty()) {
        return action();
      }
    }
    return std::nullopt;
  }

 private:
  std::vector<std::pair<CLI::App*, std::function<int()>>> actions_;
};

// Set by SIGINT and SIGTERM; every session of the process watches it.
std::atomic<bool>& stop_requested();
void install_stop_handlers();
// From now on a second SIGINT or SIGTERM ends the process at once (a service
// draining its requests when the operator insists).
void exit_on_second_stop_signal();
// 128 + the signal, as a shell reports a process the signal killed: cron and
// systemd tell Ctrl-C (130) from a SIGTERM (143).
int cancelled_exit_code();

// A session for one command: progress on stderr's status line (when it is a
// terminal), each refused plugin the job needed as a line on stderr.
std::unique_ptr<Session> open_session(const CommandLine& line, LogLevel default_level);

// A date option's value, or nullopt when it was not given.
std::optional<std::int64_t> optional_date(const std::string& text, const char* option);

// JSON for scripts: indented by 2, one value, one newline.
void print_json(const nlohmann::json& value);

// The commands, registered in the order `crmhost --help` lists them.
void add_plugins_command(CLI::App& app, CommandLine& line, Commands& commands);
void add_run_command(CLI::App& app, CommandLine& line, Commands& commands);
void add_sync_commands(CLI::App& app, CommandLine& line, Commands& commands);     // sync, quarantine
void add_scoring_commands(CLI::App& app, CommandLine& line, Commands& commands);  // score, explain, train, backtest
void add_alert_commands(CLI::App& app, CommandLine& line, Commands& commands);
void add_winback_commands(CLI::App& app, CommandLine& line, Commands& commands);  // churn, dnc, campaigns
void add_features_command(CLI::App& app, CommandLine& line, Commands& commands);
void add_store_commands(CLI::App& app, CommandLine& line, Commands& commands);  // store copy
void add_tool_commands(CLI::App& app, CommandLine& line, Commands& commands);   // version, config, completion
void add_token_commands(CLI::App& app, CommandLine& line, Commands& commands);  // tokens create, list, revoke
void add_serve_command(CLI::App& app, CommandLine& line, Commands& commands);   // serve
void add_user_commands(CLI::App& app, CommandLine& line, Commands& commands);   // users add, list, set, remove
void add_pack_commands(CLI::App& app, CommandLine& line, Commands& commands);   // pack keygen, build; plugins install,
                                                                                // rollback (after add_plugins_command)

}  // namespace crm::host
