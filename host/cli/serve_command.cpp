#include <memory>

#include "cli/command_line.hpp"
#include "service/service_runtime.hpp"

namespace crm::host {

void add_serve_command(CLI::App& app, CommandLine& line, Commands& commands) {
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the service until SIGTERM: the scheduler (sync, scoring, alerts, win-back), the REST API under "
      "/api/v1, /metrics, /healthz and /readyz");
  auto options = std::make_shared<ServeOptions>();
  serve->add_option("--listen", options->listen,
                    "HOST:PORT to listen on (default: the configuration's service.listen, else 127.0.0.1:8080)");
  serve->footer(
      "SIGTERM or Ctrl-C: stop accepting requests, let the running job and the requests in flight finish, exit 0.\n"
      "A second signal exits at once; nothing is lost (cursors and the outbox are transactional).\n"
      "API tokens: crmhost tokens create NAME --scopes read|write|admin");
  commands.add(serve, [&line, options] {
    exit_on_second_stop_signal();
    const std::unique_ptr<Session> session = open_session(line, LogLevel::info);
    return run_service(*session, *options, stop_requested());
  });
}

}  // namespace crm::host
