#include "loader/plugin_call_guard.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace crm::host {
namespace {

// What the current thread is calling. Plain data with constant
// initialisation, so the signal handler can read it without any library call.
struct CallRecord {
  bool active = false;
  const char* call = nullptr;
  char plugin[161] = {};
};
thread_local constinit CallRecord t_current_call{};

std::atomic<int> g_plugin_ended_process_exit_code{1};
std::atomic<PluginCallObserver*> g_plugin_call_observer{nullptr};

constexpr std::array<int, 4> kFatalSignals = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};
// The actions in place before ours, put back when a signal arrives.
std::array<struct sigaction, kFatalSignals.size()> g_previous_actions{};

// A message assembled without allocating or locking: the handlers below may
// run in a signal handler or after the heap is broken.
class Line {
 public:
  Line& add(const char* text) {
    while (text != nullptr && *text != '\0' && length_ < buffer_.size()) {
      buffer_[length_++] = *text++;
    }
    return *this;
  }
  void write_to_stderr() const {
    std::size_t written = 0;
    while (written < length_) {
      const ssize_t result = ::write(STDERR_FILENO, buffer_.data() + written, length_ - written);
      if (result <= 0) {
        return;
      }
      written += static_cast<std::size_t>(result);
    }
  }

 private:
  std::array<char, 1024> buffer_{};
  std::size_t length_ = 0;
};

const char* signal_name(int signal_number) {
  switch (signal_number) {
    case SIGSEGV:
      return "SIGSEGV (invalid memory access)";
    case SIGBUS:
      return "SIGBUS (bus error)";
    case SIGFPE:
      return "SIGFPE (arithmetic error)";
    case SIGABRT:
      return "SIGABRT (abort)";
    default:
      return "a fatal signal";
  }
}

extern "C" void on_exit_inside_plugin() {
  if (!t_current_call.active) {
    return;
  }
  Line()
      .add("crmhost: plugin '")
      .add(t_current_call.plugin)
      .add("' ended the process during its ")
      .add(t_current_call.call)
      .add(" call; the plugin must return a status instead (report this to its vendor, or disable it)\n")
      .write_to_stderr();
  ::_exit(g_plugin_ended_process_exit_code.load());
}

extern "C" void on_fatal_signal(int signal_number, siginfo_t* info, void* /*context*/) {
  if (t_current_call.active) {
    Line()
        .add("crmhost: plugin '")
        .add(t_current_call.plugin)
        .add("' crashed with ")
        .add(signal_name(signal_number))
        .add(" during its ")
        .add(t_current_call.call)
        .add(" call; the host dies with the signal (report this to the plugin's vendor, or disable it)\n")
        .write_to_stderr();
  }
  for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
    if (kFatalSignals[i] == signal_number) {
      ::sigaction(signal_number, &g_previous_actions[i], nullptr);
    }
  }
  // A fault comes back when the faulting instruction runs again, now under
  // the previous action; a signal that was sent (abort, raise, kill) must be
  // sent again. It stays blocked until this handler returns.
  if (info == nullptr || info->si_code <= 0) {
    ::raise(signal_number);
  }
}

// A stack overflow in a plugin leaves no stack for the handler: give the
// thread that installs the handlers one of its own, unless it has one.
void ensure_alternate_stack() {
  stack_t current{};
  if (::sigaltstack(nullptr, &current) != 0 || (current.ss_flags & SS_DISABLE) == 0) {
    return;
  }
  static std::array<char, 64 * 1024> alternate_stack{};
  stack_t stack{};
  stack.ss_sp = alternate_stack.data();
  stack.ss_size = alternate_stack.size();
  ::sigaltstack(&stack, nullptr);
}

// The in-process calls with a deadline, for the watchdog. The entries live in the scopes themselves.
std::mutex g_watched_mutex;
std::atomic<std::int64_t> g_cancel_grace_ms{5000};
std::vector<const void*> g_watched;  // const PluginCallScope::Watched*

}  // namespace

PluginCallScope::PluginCallScope(std::string_view plugin, const char* call, std::int64_t deadline_ms) noexcept {
  saved_.active = t_current_call.active;
  saved_.call = t_current_call.call;
  std::memcpy(saved_.plugin, t_current_call.plugin, sizeof saved_.plugin);
  const std::size_t length = std::min(plugin.size(), kMaxPluginName);
  std::memcpy(t_current_call.plugin, plugin.data(), length);
  t_current_call.plugin[length] = '\0';
  t_current_call.call = call;
  t_current_call.active = true;
  // A duration, not a moment: the monotonic clock, not the host Clock (which tests move and the wall clock jumps).
  observer_ = g_plugin_call_observer.load(std::memory_order_acquire);
  if (observer_ != nullptr) {
    started_ = std::chrono::steady_clock::now();
  }
  if (deadline_ms > 0) {
    watched_.call = call;
    std::memcpy(watched_.plugin, t_current_call.plugin, sizeof watched_.plugin);
    watched_.deadline_ms = deadline_ms;
    watched_.started = std::chrono::steady_clock::now();
    try {
      const std::lock_guard lock(g_watched_mutex);
      g_watched.push_back(&watched_);
      registered_ = true;
    } catch (...) {
      // Out of memory: this call goes unwatched rather than the host failing here.
    }
  }
}

PluginCallScope::~PluginCallScope() {
  if (registered_) {
    const std::lock_guard lock(g_watched_mutex);
    g_watched.erase(std::remove(g_watched.begin(), g_watched.end(), &watched_), g_watched.end());
  }
  if (observer_ != nullptr) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
    observer_->on_plugin_call(t_current_call.plugin, t_current_call.call, took.count());
  }
  t_current_call.active = false;
  std::memcpy(t_current_call.plugin, saved_.plugin, sizeof saved_.plugin);
  t_current_call.call = saved_.call;
  t_current_call.active = saved_.active;
}

PluginCallObserver* set_plugin_call_observer(PluginCallObserver* observer) noexcept {
  return g_plugin_call_observer.exchange(observer, std::memory_order_acq_rel);
}

std::string current_plugin_call() {
  if (!t_current_call.active) {
    return {};
  }
  return std::string("plugin '") + t_current_call.plugin + "' (" + t_current_call.call + ")";
}

void install_plugin_fault_reporting(int plugin_ended_process_exit_code) {
  g_plugin_ended_process_exit_code.store(plugin_ended_process_exit_code);
  static std::once_flag installed;
  std::call_once(installed, [] {
    std::atexit(on_exit_inside_plugin);
    std::at_quick_exit(on_exit_inside_plugin);
    ensure_alternate_stack();
    struct sigaction action {};
    action.sa_sigaction = on_fatal_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
      ::sigaction(kFatalSignals[i], &action, &g_previous_actions[i]);
    }
  });
}

void start_plugin_watchdog(const std::atomic<bool>& cancelled, int deadline_exit_code,
                           std::function<int()> cancelled_exit_code, std::int64_t cancel_grace_ms) {
  g_cancel_grace_ms.store(cancel_grace_ms);
  static std::once_flag started;
  std::call_once(started, [&] {
    std::thread([&cancelled, deadline_exit_code, cancelled_exit_code = std::move(cancelled_exit_code)] {
      std::optional<std::chrono::steady_clock::time_point> cancelled_at;
      while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto now = std::chrono::steady_clock::now();
        if (!cancelled_at && cancelled.load()) {
          cancelled_at = now;
        }
        const std::int64_t cancel_grace_ms = g_cancel_grace_ms.load();
        const std::lock_guard lock(g_watched_mutex);
        for (const void* entry : g_watched) {
          const auto& call = *static_cast<const PluginCallScope::Watched*>(entry);
          const auto ran_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - call.started).count();
          std::string line;
          int code = 0;
          if (ran_ms >= call.deadline_ms) {
            line = std::string("crmhost: plugin '") + call.plugin + "' did not return from its " + call.call +
                   " call within its deadline of " + std::to_string(call.deadline_ms) +
                   " ms; a plugin in the host's process cannot be stopped, so the host ends here (run it with "
                   "\"isolation\": \"process\" to have it stopped and restarted instead)\n";
            code = deadline_exit_code;
          } else if (cancelled_at && now - *cancelled_at >= std::chrono::milliseconds(cancel_grace_ms)) {
            line = std::string("crmhost: plugin '") + call.plugin + "' did not return from its " + call.call +
                   " call within " + std::to_string(cancel_grace_ms) +
                   " ms of the stop request; the host ends without waiting for it\n";
            code = cancelled_exit_code();
          }
          if (code != 0) {
            Line().add(line.c_str()).write_to_stderr();
            ::_exit(code);
          }
        }
      }
    }).detach();
  });
}

void set_plugin_watchdog_cancel_grace_ms(std::int64_t cancel_grace_ms) {
  g_cancel_grace_ms.store(cancel_grace_ms);
}

}  // namespace crm::host
