#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "crm/channel.h"
#include "crm/connector.h"
#include "crm/plugin.h"
#include "crm/scorer.h"
#include "loader/worker_codec.hpp"
#include "loader/worker_protocol.hpp"

// Plugins in a process of their own ("isolation": "process"). The host never
// maps such a library: a crmhost-plugin-worker does, and the host talks to it
// through a RemotePlugin, which looks to the rest of the host exactly like an
// in-process plugin (a crm_plugin_descriptor whose functions forward each call
// to the worker). So the sync engine, scoring and channels drive both kinds of
// plugin through one code path; only what a worker adds is new: a deadline on
// every call, and a worker that crashes, hangs or runs out of memory ends as
// a failed call naming the plugin, is restarted with backoff, and after too
// many crashes in a window is disabled for the rest of the process.
namespace crm::host {

// How long each kind of call into a plugin may take before it is stopped.
struct CallDeadlines {
  std::int64_t load_ms = 30'000;      // open the library and read its descriptors (a worker per library)
  std::int64_t create_ms = 30'000;    // create, which validates the configuration
  std::int64_t fetch_ms = 300'000;    // one connector batch (fetch or reprocess)
  std::int64_t score_ms = 600'000;    // one scoring batch
  std::int64_t train_ms = 3'600'000;  // training a model
  std::int64_t model_ms = 60'000;     // save_model and load_model
  std::int64_t send_ms = 60'000;      // one notification
  std::int64_t destroy_ms = 5'000;    // destroy at shutdown
};

// What a deployment sets for plugin workers (plugin_runtime and plugins.<id> in the host configuration).
struct WorkerSettings {
  std::filesystem::path worker_executable;  // crmhost-plugin-worker
  CallDeadlines deadlines;
  int crash_limit = 3;  // crashes within crash_window_ms that disable the plugin
  std::int64_t crash_window_ms = 600'000;
  std::int64_t restart_backoff_ms = 200;  // wait before the second restart in a window; doubles, the first is at once
  std::int64_t max_restart_backoff_ms = 10'000;
  std::int64_t cancel_grace_ms = 5'000;   // after Ctrl-C or SIGTERM, how long a call may take to return CANCELLED
  std::uint64_t memory_limit_mb = 4096;   // 0: none (RLIMIT_AS)
  std::uint64_t cpu_limit_seconds = 0;    // 0: none (RLIMIT_CPU, over the worker's whole life)
  std::uint64_t open_files_limit = 1024;  // 0: inherit (RLIMIT_NOFILE)
};

// The default path of crmhost-plugin-worker: beside the running executable.
std::filesystem::path default_worker_executable();

// A call that did not return normally: the worker crashed, passed its deadline, or ignored cancellation.
struct WorkerFailure {
  enum class Kind { crashed, deadline, cancelled, broken };
  Kind kind = Kind::crashed;
  std::string message;  // names the plugin, the call and the signal, exit code or time
};

// One crmhost-plugin-worker process and its socket and shared memory.
// Not thread-safe: its owner makes one call at a time.
class WorkerProcess {
 public:
  // Starts a worker (which loads nothing until asked); throws std::runtime_error when it cannot be
  // started. `name` is what failures call the plugin ("plugin 'erp_csv'", or its file while ids are unknown).
  WorkerProcess(const WorkerSettings& settings, std::string name);
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  // Kills the worker if it still runs, and reaps it.
  ~WorkerProcess();

  // Sends one request and answers the worker's service calls through `services` (nullptr: none
  // expected) until the reply, which it returns. A worker that dies, passes `deadline_ms` or does not
  // stop within the cancellation grace once `services` reports cancellation is killed, and the call
  // ends as the returned failure instead.
  struct Outcome {
    std::string reply;
    std::optional<WorkerFailure> failure;
  };
  Outcome call(worker::MessageType type, std::string_view payload, const char* call_name, std::int64_t deadline_ms,
               const crm_host* services);

  // Asks the worker to destroy its instance and exit; kills it when it does not within `grace_ms`.
  void stop(std::int64_t grace_ms);

  [[nodiscard]] worker::SharedArena& arena() { return arena_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  // Reaps the worker (killing it and its process group first when `kill_first`, or when it does not end
  // by itself soon); returns how it ended ("killed by signal 11 (SIGSEGV)", "exit code 3").
  std::string end(bool kill_first);
  static std::string ended_how(int wait_status);
  std::string answer_service(const crm_host* services, std::string_view request);

  std::string name_;
  std::int64_t cancel_grace_ms_;
  pid_t pid_ = -1;
  int socket_ = -1;
  worker::SharedArena arena_;
};

// What `crmhost plugins`, the API and the metrics show of a process-isolated plugin.
struct RemotePluginStatus {
  bool running = false;                        // a worker is up now
  pid_t pid = 0;                               // its process id, 0 when none
  int restarts = 0;                            // workers started after the first
  int crashes = 0;                             // calls that ended the worker (crash, deadline, ignored cancellation)
  std::string last_failure;                    // the last of them, "" when none
  std::optional<std::string> disabled_reason;  // set once the plugin is disabled for this process
};

// What this process has seen of one process-isolated plugin (by instance name), across every
// PluginHost it made: `crmhost plugins`, the service's API and its metrics show it.
struct PluginRuntimeStatus {
  std::string plugin;
  bool running = false;  // a worker of it is up now
  int workers_started = 0;
  int restarts = 0;                            // workers started again after a failure
  int failures = 0;                            // calls that ended a worker: crash, deadline, ignored cancellation
  std::string last_failure;                    // the last of them, "" when none
  bool unrecovered = false;                    // the last call failed with its worker and no call succeeded since
  std::optional<std::string> disabled_reason;  // the last disabling, nullopt when never disabled
};
std::vector<PluginRuntimeStatus> plugin_runtime_statuses();
// Counts of the failures and disablings since the process started (for exit codes).
int plugin_worker_failures();

// The descriptors of a library as its worker described them, rebuilt in
// host memory (strings owned here) with every function forwarding to a
// worker. The in-process checks run on them unchanged.
class RemoteLibraryImage {
 public:
  RemoteLibraryImage(std::filesystem::path file, worker::LibraryDescription description);
  RemoteLibraryImage(const RemoteLibraryImage&) = delete;
  RemoteLibraryImage& operator=(const RemoteLibraryImage&) = delete;
  ~RemoteLibraryImage();

  [[nodiscard]] const std::filesystem::path& file() const { return file_; }
  // What crm_on_library() returned, as the host reads it.
  [[nodiscard]] const crm_library* library() const { return &library_; }
  // The description of the plugin whose (rebuilt) descriptor this is, or nullptr.
  [[nodiscard]] const worker::DescribedPlugin* described(const crm_plugin_descriptor* descriptor) const;

 private:
  struct Entry;
  std::filesystem::path file_;
  worker::LibraryDescription description_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<const crm_plugin_descriptor*> pointers_;
  crm_library library_{};
};

// Starts a worker for `file` and reads the library's descriptors: the process-isolated counterpart
// of dlopen + crm_on_abi_version + crm_on_library. Returns the image, or a refusal reason naming what
// went wrong (the library does not load, an entry point is missing, the worker crashed reading it).
// `abi_check` judges the version the library reports before its descriptors are read, as in-process.
struct OpenedRemoteLibrary {
  std::unique_ptr<RemoteLibraryImage> image;
  std::uint32_t abi_version = 0;
  std::string refusal;
};
OpenedRemoteLibrary open_remote_library(const std::filesystem::path& file, const WorkerSettings& settings,
                                        const std::function<std::string(std::uint32_t)>& abi_check);

// One process-isolated plugin instance: what the host's crm_plugin_instance pointer points at.
class RemotePlugin {
 public:
  RemotePlugin(std::filesystem::path library, std::string plugin_id, std::string instance_name, WorkerSettings settings,
               std::size_t output_column_count);
  RemotePlugin(const RemotePlugin&) = delete;
  RemotePlugin& operator=(const RemotePlugin&) = delete;
  ~RemotePlugin();

  // Starts the worker and creates the instance with `config` (kept for restarts).
  crm_status create(const crm_host* host, std::string config, crm_error* error);

  crm_status fetch(const crm_host* host, crm_str cursor, crm_batch* out, crm_error* error, bool reprocess);
  crm_status score(const crm_host* host, const crm_score_input* input, crm_score_output* output, crm_error* error);
  crm_status train(const crm_host* host, const crm_train_input* input, crm_error* error);
  crm_status save_model(const crm_host* host, crm_buffer* out, crm_error* error);
  crm_status load_model(const crm_host* host, crm_str model, crm_error* error);
  crm_status send(const crm_host* host, const crm_channel_message* message, crm_channel_result* result,
                  crm_error* error);

  [[nodiscard]] RemotePluginStatus status() const;

  // Functions of a rebuilt descriptor: each casts the instance back to its RemotePlugin.
  static RemotePlugin& of(crm_plugin_instance* instance) { return *reinterpret_cast<RemotePlugin*>(instance); }
  crm_plugin_instance* as_instance() { return reinterpret_cast<crm_plugin_instance*>(this); }

 private:
  // A worker with a live instance, started again after a crash (with backoff), or a status saying why not.
  crm_status ensure_worker(const crm_host* host, crm_error* error);
  // Sends one call; a failure counts as a crash and becomes RETRIABLE (FATAL once the plugin is disabled).
  crm_status call(worker::MessageType type, std::string_view payload, const char* call_name, std::int64_t deadline_ms,
                  const crm_host* host, crm_error* error, std::string& reply);
  crm_status failed(const WorkerFailure& failure, crm_error* error);
  // Runs one call's exchange; a malformed answer stops the worker and fails the call.
  template <class Body>
  crm_status exchange(const char* call_name, crm_error* error, Body&& body);

  std::filesystem::path library_;
  std::string plugin_id_;
  std::string instance_name_;
  WorkerSettings settings_;
  std::size_t output_column_count_;
  std::string config_;
  std::optional<std::string> model_;  // the model to load again into a restarted worker
  std::unique_ptr<WorkerProcess> worker_;
  std::deque<std::chrono::steady_clock::time_point> crash_times_;
  worker::HostBatch batch_;          // the last batch, valid until the next call
  bool unrecovered_ = false;         // the last call failed with its worker and none succeeded since
  std::mutex mutex_;                 // one call at a time into one worker
  mutable std::mutex status_mutex_;  // status_ is read while a call runs
  RemotePluginStatus status_;
  bool started_once_ = false;
};

}  // namespace crm::host
