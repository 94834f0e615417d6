#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace crm::host {

// Told how long each call into plugin code took (metrics: the service's
// collector implements it). Called on the thread that made the call, right
// after it returned, possibly from several threads at once; must not throw.
class PluginCallObserver {
 public:
  PluginCallObserver() = default;
  PluginCallObserver(const PluginCallObserver&) = delete;
  PluginCallObserver& operator=(const PluginCallObserver&) = delete;
  virtual ~PluginCallObserver() = default;
  // `plugin` as PluginCallScope got it; `call` e.g. "fetch", "score", "send".
  virtual void on_plugin_call(std::string_view plugin, const char* call, double seconds) noexcept = 0;
};

// Makes `observer` (nullptr: none, the default) the process's observer of
// plugin calls, and returns the one it replaces. Calls already under way when
// it changes may still report to the previous one: remove an observer only
// once no plugin call runs (the service does at shutdown, after its workers stop).
PluginCallObserver* set_plugin_call_observer(PluginCallObserver* observer) noexcept;

// Plugins run inside the host's process (until they get processes of their
// own), so a plugin that calls exit() or crashes ends the host. These make
// that visible: every call into plugin code is wrapped in a PluginCallScope,
// and the handlers installed by install_plugin_fault_reporting() name the
// plugin and the call when the process ends inside one.

// Marks the calling thread as running plugin code for its lifetime. Scopes
// nest (a library's load, then one plugin's create): the innermost names the
// call. Cheap (a bounded copy into a thread-local record, and two reads of
// the monotonic clock when an observer is installed), never throws.
class PluginCallScope {
 public:
  // `plugin`: the plugin's id, or its file when the library has not told its
  // ids yet (longer names are cut). `call`: a string literal, e.g. "create".
  // `deadline_ms` > 0: the call runs plugin code in this process, and the
  // watchdog (start_plugin_watchdog) ends the process if it takes longer.
  PluginCallScope(std::string_view plugin, const char* call, std::int64_t deadline_ms = 0) noexcept;
  PluginCallScope(const PluginCallScope&) = delete;
  PluginCallScope& operator=(const PluginCallScope&) = delete;
  ~PluginCallScope();

  static constexpr std::size_t kMaxPluginName = 160;
  // What the watchdog reads of a call with a deadline.
  struct Watched {
    const char* call = nullptr;
    char plugin[kMaxPluginName + 1] = {};
    std::int64_t deadline_ms = 0;
    std::chrono::steady_clock::time_point started{};
  };

 private:
  struct Saved {
    bool active = false;
    const char* call = nullptr;
    char plugin[kMaxPluginName + 1] = {};
  };
  Saved saved_;
  Watched watched_;
  bool registered_ = false;
  PluginCallObserver* observer_ = nullptr;  // set when an observer was installed as the call began
  std::chrono::steady_clock::time_point started_{};
};

// "plugin 'ID' (CALL)" when this thread is inside a plugin call, "" otherwise.
std::string current_plugin_call();

// Installs, once per process:
// - an atexit and an at_quick_exit handler that, when exit()/quick_exit()
//   happens inside a plugin call, print one line on stderr naming the plugin
//   and the call and end the process with `plugin_ended_process_exit_code`
//   instead of the status the plugin chose (a plugin's exit(0) is no success);
// - handlers for SIGSEGV, SIGBUS, SIGFPE and SIGABRT that, inside a plugin
//   call, write (write(2) only) which plugin and call, then put back the
//   previous action and let the signal end the process as it would have.
// A plugin calling _exit() directly cannot be seen; a thread a plugin started
// on its own is not inside a call.
void install_plugin_fault_reporting(int plugin_ended_process_exit_code);

// Starts, once per process, a thread that watches the in-process plugin calls
// made with a deadline (PluginCallScope's deadline_ms). Nothing can stop a
// thread stuck in plugin code, and it may hold the store's lock, so instead
// of hanging for ever the host ends: when a call passes its deadline (with
// `deadline_exit_code`), or when `cancelled` has been true for
// `cancel_grace_ms` while a call still runs (with `cancelled_exit_code()`),
// after one line on stderr naming the plugin, the call and the time. Plugins
// in a worker process are stopped and restarted instead (remote_plugin.hpp).
void start_plugin_watchdog(const std::atomic<bool>& cancelled, int deadline_exit_code,
                           std::function<int()> cancelled_exit_code, std::int64_t cancel_grace_ms);
// Changes the watchdog's cancellation grace (the configuration's plugin_runtime.cancel_grace_ms). Any thread.
void set_plugin_watchdog_cancel_grace_ms(std::int64_t cancel_grace_ms);

}  // namespace crm::host
