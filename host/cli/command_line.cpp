#include "cli/command_line.hpp"

#include <unistd.h>

#include <csignal>
#include <fmt/format.h>
#include <iostream>

#include "app/request_dates.hpp"
#include "cli/exit_codes.hpp"
#include "cli/progress.hpp"

namespace crm::host {

namespace {

std::atomic<bool> g_cancelled{false};
std::atomic<int> g_stop_signal{0};
std::atomic<int> g_stop_signals_received{0};
std::atomic<bool> g_exit_on_second_signal{false};

extern "C" void on_stop_signal(int signal_number) {
  g_stop_signal.store(signal_number);
  g_cancelled.store(true);
  if (g_stop_signals_received.fetch_add(1) >= 1 && g_exit_on_second_signal.load()) {
    // Whatever is mid-way is inside a transaction or the outbox: ending here loses nothing.
    _exit(128 + signal_number);
  }
}

}  // namespace

std::atomic<bool>& stop_requested() {
  return g_cancelled;
}

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

void exit_on_second_stop_signal() {
  g_exit_on_second_signal.store(true);
}

int cancelled_exit_code() {
  return g_stop_signal.load() == SIGTERM ? kExitTerminated : kExitCancelled;
}

std::unique_ptr<Session> open_session(const CommandLine& line, LogLevel default_level) {
  auto progress = std::make_shared<ProgressLine>();
  JobObserver observer;
  observer.progress = [progress](const std::string& status) { progress->update(status); };
  observer.progress_done = [progress] { progress->clear(); };
  // The command carries on without the plugin, and exits 4 (kExitPartial) when it ends.
  observer.plugin_refused = [](const PluginRecord& record) {
    std::cerr << fmt::format("crmhost: plugin '{}' refused: {}\n",
                             record.id.empty() ? record.file.filename().string() : record.id, record.reason);
  };
  return std::make_unique<Session>(line.session, default_level, g_cancelled, std::move(observer));
}

std::optional<std::int64_t> optional_date(const std::string& text, const char* option) {
  return text.empty() ? std::nullopt : std::optional<std::int64_t>(parse_date_ms(text, option));
}

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2) << '\n';
}

}  // namespace crm::host
