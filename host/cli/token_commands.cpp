// `tokens`: create, list and revoke the API tokens of `crmhost serve`.
#include <fmt/format.h>
#include <iostream>

#include "app/api_tokens.hpp"
#include "app/result_json.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "core/dates.hpp"

namespace crm::host {

namespace {

// "2025-03-01 14:05 UTC": minutes are enough to tell when a token was used.
std::string utc_minute_text(std::int64_t ms) {
  constexpr std::int64_t kDayMs = 86'400'000;
  const std::int64_t in_day_ms = ((ms % kDayMs) + kDayMs) % kDayMs;
  return fmt::format("{} {:02}:{:02} UTC", utc_date_text(ms), in_day_ms / 3'600'000, in_day_ms / 60'000 % 60);
}

std::string scopes_text(const std::vector<Scope>& scopes) {
  std::string text;
  for (const Scope scope : scopes) {
    text += text.empty() ? "" : ",";
    text += scope_name(scope);
  }
  return text;
}

void print_tokens(const std::vector<ApiTokenInfo>& tokens) {
  if (tokens.empty()) {
    std::cout << "no API tokens (`crmhost tokens create NAME --scopes read` makes one)\n";
    return;
  }
  std::cout << fmt::format("{:<24} {:<16} {:<22} {:<22} {}\n", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED");
  for (const ApiTokenInfo& token : tokens) {
    std::cout << fmt::format("{:<24} {:<16} {:<22} {:<22} {}\n", token.name, scopes_text(token.scopes),
                             utc_minute_text(token.created_ms),
                             token.last_used_ms ? utc_minute_text(*token.last_used_ms) : "never",
                             token.revoked_ms ? utc_minute_text(*token.revoked_ms) : "-");
  }
}

}  // namespace

void add_token_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  struct Args {
    bool as_json = false;
    std::string name;
    std::string scopes;
  };
  auto args = std::make_shared<Args>();
  auto* tokens = app.add_subcommand("tokens", "API tokens of `crmhost serve`: create, list, revoke");
  tokens->require_subcommand(1);

  auto* create = tokens->add_subcommand(
      "create", "Make an API token; it is printed once and only its hash is kept, so store it now");
  create->add_option("NAME", args->name, "Token name (1 to 64 of A-Z a-z 0-9 . _ -), unique among live tokens")
      ->required();
  create->add_option("--scopes", args->scopes, "read, write or admin, comma-separated (write implies read, admin both)")
      ->required();
  create->add_flag("--json", args->as_json, "Print JSON");
  commands.add(create, [&line, args] {
    const std::vector<Scope> scopes = parse_scopes(args->scopes);
    const CreatedApiToken created = create_api_token(*open_session(line, LogLevel::warn), args->name, scopes);
    if (args->as_json) {
      print_json(created_api_token_json(created));
    } else {
      std::cout << created.token << '\n';
      std::cerr << fmt::format(
          "token '{}' ({}) created. Store it now: it is shown only this once and cannot be recovered; "
          "send it as `Authorization: Bearer TOKEN`.\n",
          created.name, scopes_text(created.scopes));
    }
    return kExitOk;
  });

  auto* list = tokens->add_subcommand("list", "API tokens with their scopes and last use (never the tokens)");
  list->add_flag("--json", args->as_json, "Print JSON");
  commands.add(list, [&line, args] {
    const std::vector<ApiTokenInfo> all = list_api_tokens(*open_session(line, LogLevel::warn));
    if (args->as_json) {
      print_json(api_tokens_json(all));
    } else {
      print_tokens(all);
    }
    return kExitOk;
  });

  auto* revoke = tokens->add_subcommand("revoke", "Revoke an API token: a running service refuses it within 5 seconds");
  revoke->add_option("NAME", args->name, "Token name (from `tokens list`)")->required();
  revoke->add_flag("--json", args->as_json, "Print JSON");
  commands.add(revoke, [&line, args] {
    revoke_api_token(*open_session(line, LogLevel::warn), args->name);
    if (args->as_json) {
      print_json({{"name", args->name}, {"done", "revoke"}});
    } else {
      std::cout << fmt::format("token '{}': revoked\n", args->name);
    }
    return kExitOk;
  });
}

}  // namespace crm::host
