// `store copy`: moving a store to another backend (a SQLite file to PostgreSQL).
#include <cstdlib>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "app/errors.hpp"
#include "app/store_jobs.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"

namespace crm::host {

void add_store_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  auto* store = app.add_subcommand("store", "Work on the customer store itself");
  store->require_subcommand(1);
  struct CopyArgs {
    std::string to;
    std::string to_password_env;
    bool as_json = false;
  };
  auto args = std::make_shared<CopyArgs>();
  auto* copy = store->add_subcommand(
      "copy",
      "Copy every row of the store (--db) into a new, empty one, e.g. a PostgreSQL database, and compare "
      "them all after the copy");
  copy->add_option("--to", args->to, "the new store: postgresql://user@host:port/db, or a SQLite file")->required();
  copy->add_option("--to-password-env", args->to_password_env,
                   "environment variable holding the new store's password (else PGPASSWORD or ~/.pgpass)");
  copy->add_flag("--json", args->as_json, "Print JSON");
  commands.add(copy, [&line, args] {
    const std::unique_ptr<Session> session = open_session(line, LogLevel::info);
    DatabaseLocator target = DatabaseLocator::parse(args->to);
    if (!args->to_password_env.empty()) {
      const char* password = std::getenv(args->to_password_env.c_str());  // NOLINT(concurrency-mt-unsafe)
      if (password == nullptr) {
        throw InvalidRequest(
            fmt::format("--to-password-env names {}, which is not set in the environment", args->to_password_env));
      }
      target.password = password;
    }
    const StoreCopyJob job = copy_store_to(*session, target, [](const std::string& table, std::int64_t rows) {
      std::cerr << fmt::format("store copy: {} {} row{}\n", table, rows, rows == 1 ? "" : "s");
    });
    if (args->as_json) {
      nlohmann::json tables = nlohmann::json::array();
      for (const TableCopy& table : job.copy.tables) {
        tables.push_back({{"table", table.table}, {"rows", table.rows}});
      }
      print_json({{"from", job.from},
                  {"to", job.to},
                  {"rows", job.copy.rows},
                  {"tables", tables},
                  {"verified", job.copy.verified}});
    } else {
      std::cout << fmt::format("copied {} rows of {} tables from {} to {}; read back and compared: every row equal\n",
                               job.copy.rows, job.copy.tables.size(), job.from, job.to);
    }
    return kExitOk;
  });
}

}  // namespace crm::host
