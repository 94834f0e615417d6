// `users`: add, list, change and remove the people of the web app.
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <iostream>
#include <string>

#include "app/errors.hpp"
#include "app/result_json.hpp"
#include "app/users.hpp"
#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"

namespace crm::host {

namespace {

std::string strip_line_end(std::string line) {
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

// The first line of stdin (without its line end): a password piped in by a script.
std::string password_from_stdin() {
  std::string line;
  if (!std::getline(std::cin, line)) {
    throw InvalidRequest("--password-stdin: stdin is empty; pipe the password in (one line)");
  }
  return strip_line_end(std::move(line));
}

// Echo off while the password is typed, back on whatever happens.
std::string read_hidden(const char* prompt) {
  std::cerr << prompt << std::flush;
  termios saved{};
  const bool is_terminal = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (is_terminal) {
    termios hidden = saved;
    hidden.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &hidden);
  }
  std::string line;
  const bool read = static_cast<bool>(std::getline(std::cin, line));
  if (is_terminal) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  }
  std::cerr << '\n';
  if (!read) {
    throw InvalidRequest("no password was typed");
  }
  return strip_line_end(std::move(line));
}

// Typed twice on a terminal; a script must say --password-stdin.
std::string password_from_terminal() {
  if (::isatty(STDIN_FILENO) == 0) {
    throw InvalidRequest(
        "stdin is not a terminal: pipe the password in with --password-stdin (it is never taken as an argument)");
  }
  const std::string first = read_hidden("Password: ");
  const std::string second = read_hidden("Password again: ");
  if (first != second) {
    throw InvalidRequest("the two passwords differ; nothing was changed");
  }
  return first;
}

Role role_option(const std::string& text) {
  const std::optional<Role> role = parse_role(text);
  if (!role) {
    throw InvalidRequest(
        fmt::format("--role: '{}' is not a role (account_manager, csm, cs_director, coo or admin)", text));
  }
  return *role;
}

std::string owners_text(const std::vector<std::string>& owners) {
  std::string text;
  for (const std::string& owner : owners) {
    text += text.empty() ? "" : ",";
    text += owner;
  }
  return text.empty() ? "-" : text;
}

void print_users(const std::vector<UserInfo>& users) {
  if (users.empty()) {
    std::cout << "no users (`crmhost users add NAME --role admin` makes one)\n";
    return;
  }
  std::cout << fmt::format("{:<24} {:<16} {:<6} {:<20} {:<9} {}\n", "NAME", "ROLE", "LANG", "TIME ZONE", "STATE",
                           "OWNER IDS");
  for (const UserInfo& user : users) {
    const char* state = user.disabled          ? "disabled"
                        : user.locked_until_ms ? "locked"
                        : !user.has_password   ? "no-pass"
                                               : "active";
    std::cout << fmt::format("{:<24} {:<16} {:<6} {:<20} {:<9} {}\n", user.name, role_name(user.role), user.language,
                             user.time_zone, state, owners_text(user.owner_ids));
  }
}

// The last admin is a state the command cannot be carried out in: exit 8, as for anything not in a state for it.
template <typename Action>
auto guarding_last_admin(Action action) {
  try {
    return action();
  } catch (const LastAdminError& e) {
    throw NotFound(e.what());
  }
}

}  // namespace

void add_user_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  struct Args {
    bool as_json = false;
    std::string name;
    std::string role;
    std::string display_name;
    std::string language;
    std::string time_zone;
    std::vector<std::string> owners;
    bool clear_owners = false;
    bool password_stdin = false;
    bool password_prompt = false;
    bool disable = false;
    bool enable = false;
    bool unlock = false;
  };
  auto args = std::make_shared<Args>();
  auto* users = app.add_subcommand("users", "People of the web app: add, list, set, remove");
  users->require_subcommand(1);

  auto* add_command = users->add_subcommand(
      "add", "Add a person who signs in to the web app; the password is asked twice on a terminal, or read from stdin");
  add_command->add_option("NAME", args->name, "Sign-in name (1 to 64 of A-Z a-z 0-9 . _ - @), unique")->required();
  add_command->add_option("--role", args->role, "account_manager, csm, cs_director, coo or admin")->required();
  add_command->add_option("--display-name", args->display_name, "Name shown in the app (default: NAME)");
  add_command->add_option("--language", args->language, "en or zh-CN (default en)");
  add_command->add_option("--time-zone", args->time_zone, "IANA time zone for dates and deadlines (default UTC)");
  add_command->add_option("--owner", args->owners,
                          "An owner id this person is known by in the data (the customers' owner); repeatable");
  add_command->add_flag("--password-stdin", args->password_stdin, "Read the password from the first line of stdin");
  add_command->add_flag("--json", args->as_json, "Print JSON");
  commands.add(add_command, [&line, args] {
    NewUser user;
    user.name = args->name;
    user.role = role_option(args->role);
    user.display_name = args->display_name;
    if (!args->language.empty()) {
      user.language = args->language;
    }
    if (!args->time_zone.empty()) {
      user.time_zone = args->time_zone;
    }
    user.owner_ids = args->owners;
    user.password = args->password_stdin ? password_from_stdin() : password_from_terminal();
    const UserInfo added = add_user(*open_session(line, LogLevel::warn), user);
    if (args->as_json) {
      print_json(user_json(added));
    } else {
      std::cout << fmt::format("user '{}' ({}) added\n", added.name, role_name(added.role));
    }
    return kExitOk;
  });

  auto* list_command = users->add_subcommand("list", "People of the web app with their roles (never their passwords)");
  list_command->add_flag("--json", args->as_json, "Print JSON");
  commands.add(list_command, [&line, args] {
    const std::vector<UserInfo> all = list_users(*open_session(line, LogLevel::warn));
    if (args->as_json) {
      print_json(users_json(all));
    } else {
      print_users(all);
    }
    return kExitOk;
  });

  auto* set_command =
      users->add_subcommand("set", "Change a person: role, language, time zone, owners, password, disabled, locked");
  set_command->add_option("NAME", args->name, "Sign-in name (from `users list`)")->required();
  auto* set_role = set_command->add_option("--role", args->role, "account_manager, csm, cs_director, coo or admin");
  auto* set_display = set_command->add_option("--display-name", args->display_name, "Name shown in the app");
  auto* set_language = set_command->add_option("--language", args->language, "en or zh-CN");
  auto* set_zone = set_command->add_option("--time-zone", args->time_zone, "IANA time zone");
  auto* set_owners = set_command->add_option("--owner", args->owners, "Replaces the owner ids with these; repeatable")
                         ->excludes(set_command->add_flag("--clear-owners", args->clear_owners, "No owner ids"));
  auto* disable = set_command->add_flag("--disable", args->disable, "Refuse their sign-ins and end their sessions");
  set_command->add_flag("--enable", args->enable, "Allow their sign-ins again")->excludes(disable);
  set_command->add_flag("--unlock", args->unlock,
                        "End a lockout after failed sign-ins now (a new password ends it too)");
  auto* from_stdin = set_command->add_flag("--password-stdin", args->password_stdin,
                                           "Set a new password read from the first line of stdin");
  set_command->add_flag("--password", args->password_prompt, "Set a new password, asked twice on the terminal")
      ->excludes(from_stdin);
  set_command->add_flag("--json", args->as_json, "Print JSON");
  commands.add(set_command, [&line, args, set_role, set_display, set_language, set_zone, set_owners] {
    UserChanges changes;
    if (set_role->count() > 0) {
      changes.role = role_option(args->role);
    }
    if (set_display->count() > 0) {
      changes.display_name = args->display_name;
    }
    if (set_language->count() > 0) {
      changes.language = args->language;
    }
    if (set_zone->count() > 0) {
      changes.time_zone = args->time_zone;
    }
    if (set_owners->count() > 0 || args->clear_owners) {
      changes.owner_ids = args->clear_owners ? std::vector<std::string>() : args->owners;
    }
    if (args->disable || args->enable) {
      changes.disabled = args->disable;
    }
    changes.unlock = args->unlock;
    if (args->password_stdin) {
      changes.password = password_from_stdin();
    } else if (args->password_prompt) {
      changes.password = password_from_terminal();
    }
    const UserInfo changed =
        guarding_last_admin([&] { return change_user(*open_session(line, LogLevel::warn), args->name, changes); });
    if (args->as_json) {
      print_json(user_json(changed));
    } else {
      std::cout << fmt::format("user '{}': changed\n", changed.name);
    }
    return kExitOk;
  });

  auto* remove_command = users->add_subcommand("remove", "Remove a person; their sessions end at once");
  remove_command->add_option("NAME", args->name, "Sign-in name (from `users list`)")->required();
  remove_command->add_flag("--json", args->as_json, "Print JSON");
  commands.add(remove_command, [&line, args] {
    guarding_last_admin([&] {
      remove_user(*open_session(line, LogLevel::warn), args->name);
      return 0;
    });
    if (args->as_json) {
      print_json({{"name", args->name}, {"done", "remove"}});
    } else {
      std::cout << fmt::format("user '{}': removed\n", args->name);
    }
    return kExitOk;
  });
}

}  // namespace crm::host
