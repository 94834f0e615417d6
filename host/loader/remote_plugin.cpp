#include "loader/remote_plugin.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>

#include "loader/host_services.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace crm::host {
namespace {

namespace fs = std::filesystem;
using worker::MessageType;
using worker::Reader;
using worker::Service;
using worker::Writer;

// Variables a worker inherits: what a library needs to load and run (GLIBC_TUNABLES: the heap on
// huge pages, core/huge_page_heap.hpp), never the host's secrets (those it asks for one by one, for
// its own plugin only).
constexpr std::array kInheritedVariables = {
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "GLIBC_TUNABLES",
    // The proxy and CA-bundle variables libcurl and OpenSSL read (README, "Plugin isolation").
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE",
    "SSL_CERT_DIR", "CURL_CA_BUNDLE", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"};

std::string signal_description(int signal_number) {
  const char* abbreviation = ::sigabbrev_np(signal_number);
  return abbreviation != nullptr ? fmt::format("signal {} (SIG{})", signal_number, abbreviation)
                                 : fmt::format("signal {}", signal_number);
}

int above_stdio(int fd) {
  // Keeps the descriptors the child is given clear of 3 and 4, where dup2 puts them.
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  if (moved < 0) {
    throw std::runtime_error(fmt::format("cannot set up a plugin worker's descriptors: {}", std::strerror(errno)));
  }
  return moved;
}

// Calls a buffered host service, growing the buffer as the service asks.
template <class Call>
std::pair<crm_status, std::string> buffered(Call&& call) {
  std::string value(4096, '\0');
  for (int attempt = 0; attempt < 4; ++attempt) {
    crm_buffer out{value.data(), value.size(), 0};
    const crm_status status = call(&out);
    if (status == CRM_STATUS_BUFFER_TOO_SMALL && out.size > value.size()) {
      value.resize(out.size);
      continue;
    }
    value.resize(status == CRM_STATUS_OK ? std::min(out.size, value.size()) : 0);
    return {status, std::move(value)};
  }
  return {CRM_STATUS_FATAL, {}};
}

crm_str as_str(std::string_view value) {
  return crm_str{value.data(), value.size()};
}

// The worker's statuses for a call that threw across the C boundary (plugin_worker.cpp).
constexpr crm_status kThrewException = -1;
constexpr crm_status kThrewUnknown = -2;

std::pair<crm_status, std::string> status_and_error(Reader& reader) {
  const auto status = static_cast<crm_status>(reader.i32());
  std::string message(reader.bytes());
  if (status == kThrewException || status == kThrewUnknown) {
    // As in the host's process: the call failed for good, and the message says the plugin threw.
    return {CRM_STATUS_FATAL, "the plugin threw an exception across the C boundary (" + message + ")"};
  }
  return {status, std::move(message)};
}

// An exception thrown by a plugin that threw one in its worker, so the host's own handling (the
// loader's refusal, naming what was thrown) applies as if it had run in the host's process.
struct ThrownInWorker {};
[[noreturn]] void rethrow_in_host(crm_status status, const std::string& message) {
  if (status == kThrewException) {
    throw std::runtime_error(message);
  }
  throw ThrownInWorker{};
}

// The process-wide record behind plugin_runtime_statuses().
struct RuntimeRegistry {
  std::mutex mutex;
  std::map<std::string, PluginRuntimeStatus, std::less<>> plugins;
  int failures = 0;
};

RuntimeRegistry& registry() {
  static RuntimeRegistry instance;
  return instance;
}

template <class Change>
void record_runtime(const std::string& plugin, Change&& change) {
  RuntimeRegistry& all = registry();
  const std::lock_guard lock(all.mutex);
  PluginRuntimeStatus& status = all.plugins[plugin];
  status.plugin = plugin;
  change(status, all.failures);
}

}  // namespace

std::vector<PluginRuntimeStatus> plugin_runtime_statuses() {
  RuntimeRegistry& all = registry();
  const std::lock_guard lock(all.mutex);
  std::vector<PluginRuntimeStatus> statuses;
  for (const auto& [name, status] : all.plugins) {
    statuses.push_back(status);
  }
  return statuses;
}

int plugin_worker_failures() {
  RuntimeRegistry& all = registry();
  const std::lock_guard lock(all.mutex);
  return all.failures;
}

fs::path default_worker_executable() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path("crmhost-plugin-worker") : self.parent_path() / "crmhost-plugin-worker";
}

WorkerProcess::WorkerProcess(const WorkerSettings& settings, std::string name)
    : name_(std::move(name)),
      cancel_grace_ms_(settings.cancel_grace_ms),
      arena_(worker::SharedArena::create("crm-plugin")) {
  int ends[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw std::runtime_error(fmt::format("cannot make a socket for a plugin worker: {}", std::strerror(errno)));
  }
  socket_ = ends[0];
  int child_socket = -1;
  int child_arena = -1;
  try {
    child_socket = above_stdio(ends[1]);
    child_arena = above_stdio(::fcntl(arena_.fd(), F_DUPFD_CLOEXEC, 10));
  } catch (...) {
    ::close(socket_);
    socket_ = -1;
    if (child_socket >= 0) {
      ::close(child_socket);
    }
    throw;
  }

  const std::string executable =
      settings.worker_executable.empty() ? default_worker_executable().string() : settings.worker_executable.string();
  std::vector<std::string> arguments = {executable,
                                        "--host-pid",
                                        std::to_string(::getpid()),
                                        "--memory-bytes",
                                        std::to_string(settings.memory_limit_mb << 20U),
                                        "--cpu-seconds",
                                        std::to_string(settings.cpu_limit_seconds),
                                        "--open-files",
                                        std::to_string(settings.open_files_limit)};
  std::vector<std::string> variables;
  for (const char* name : kInheritedVariables) {
    if (const char* value = std::getenv(name); value != nullptr) {  // NOLINT(concurrency-mt-unsafe)
      variables.push_back(fmt::format("{}={}", name, value));
    }
  }
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer the address-space limit cannot hold (ASan reserves terabytes), so ASan enforces
  // the memory limit; and a plugin's crash stays a death by its signal, as in a normal build, instead of
  // ASan's report and exit code.
  std::string asan = "ASAN_OPTIONS=";
  for (std::string& variable : variables) {
    if (variable.rfind(asan, 0) == 0) {
      asan = std::move(variable) + ":";
      variable.clear();
    }
  }
  asan += "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0";
  if (settings.memory_limit_mb > 0) {
    asan += fmt::format(":hard_rss_limit_mb={}", settings.memory_limit_mb);
  }
  variables.push_back(std::move(asan));
  variables.erase(std::remove(variables.begin(), variables.end(), std::string()), variables.end());
#endif
  std::vector<char*> argv;
  for (std::string& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& variable : variables) {
    envp.push_back(variable.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, child_socket, 3);
  ::posix_spawn_file_actions_adddup2(&actions, child_arena, 4);
  // No terminal input (its own process group would be stopped reading it), and what a plugin prints
  // goes to stderr: the host's stdout carries its own output, JSON included.
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, 2, 1);
  // A process group of its own: Ctrl-C at a terminal reaches the host, which asks its plugins to stop,
  // instead of killing every worker in the middle of a call.
  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  const int spawned = ::posix_spawn(&pid_, executable.c_str(), &actions, &attributes, argv.data(), envp.data());
  ::posix_spawnattr_destroy(&attributes);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(child_socket);
  ::close(child_arena);
  if (spawned != 0) {
    pid_ = -1;
    ::close(socket_);
    socket_ = -1;
    throw std::runtime_error(
        fmt::format("cannot start the plugin worker {}: {}; reinstall crmhost (the worker is "
                    "installed beside it) or set plugin_runtime.worker",
                    executable, std::strerror(spawned)));
  }
}

WorkerProcess::~WorkerProcess() {
  if (running()) {
    end(true);
  }
}

std::string WorkerProcess::end(bool kill_first) {
  if (socket_ >= 0) {
    ::close(socket_);
    socket_ = -1;
  }
  if (pid_ <= 0) {
    return "the worker had already ended";
  }
  if (kill_first) {
    // The whole process group: whatever the plugin started goes with its worker.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  } else {
    // It closed its socket: it is ending (or its children hold nothing we wait for). Give it a moment.
    for (int waited_ms = 0; waited_ms < 2000; waited_ms += 5) {
      int status = 0;
      const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == pid_) {
        pid_ = -1;
        return ended_how(status);
      }
      if (reaped < 0 && errno != EINTR) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
  int status = 0;
  pid_t reaped = -1;
  while ((reaped = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return reaped < 0 ? "ended (its status could not be read)" : ended_how(status);
}

std::string WorkerProcess::ended_how(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by {}", signal_description(WTERMSIG(status)));
  }
  if (WIFEXITED(status)) {
    return fmt::format("exit code {}", WEXITSTATUS(status));
  }
  return "ended";
}

void WorkerProcess::stop(std::int64_t grace_ms) {
  if (!running()) {
    return;
  }
  // destroy may log: call() answers its service calls (with "unsupported": the plugin's host is gone).
  const Outcome outcome = call(MessageType::destroy, {}, "destroy", grace_ms, nullptr);
  if (!outcome.failure) {
    end(false);
  }
}

WorkerProcess::Outcome WorkerProcess::call(MessageType type, std::string_view payload, const char* call_name,
                                           std::int64_t deadline_ms, const crm_host* services) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  const Clock::time_point deadline = started + std::chrono::milliseconds(deadline_ms);
  std::optional<Clock::time_point> cancelled_at;
  const auto failure = [&](WorkerFailure::Kind kind, std::string message) {
    return Outcome{{}, WorkerFailure{kind, std::move(message)}};
  };
  const auto is_cancelled = [&] { return services != nullptr && services->is_cancelled(services->context); };
  try {
    arena_.set_cancelled(is_cancelled());
    worker::write_frame(socket_, type, payload);
    while (true) {
      // Checked on every pass, not only when the worker is quiet: a plugin calling host services in a
      // tight loop (the clock, the log) must still meet its deadline and see a cancellation.
      if (Clock::now() >= deadline) {
        end(true);
        return failure(WorkerFailure::Kind::deadline,
                       fmt::format("{} did not finish {} within its deadline of {} ms; its worker was stopped", name_,
                                   call_name, deadline_ms));
      }
      if (!cancelled_at && is_cancelled()) {
        cancelled_at = Clock::now();
        arena_.set_cancelled(true);
      }
      if (cancelled_at && Clock::now() - *cancelled_at >= std::chrono::milliseconds(cancel_grace_ms_)) {
        end(true);
        return failure(WorkerFailure::Kind::cancelled,
                       fmt::format("{} did not stop {} within {} ms of the run being cancelled; its worker was stopped",
                                   name_, call_name, cancel_grace_ms_));
      }
      // A worker whose socket another process still holds (a child the plugin started) gives no
      // end-of-file when it dies: its exit is seen here.
      if (int status = 0; ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        const std::string how = ended_how(status);
        end(false);
        return failure(WorkerFailure::Kind::crashed,
                       fmt::format("{} crashed in {}: its worker ended, {}", name_, call_name, how));
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      std::optional<worker::Frame> frame =
          worker::read_frame(socket_, static_cast<int>(std::clamp<std::int64_t>(left, 0, 100)));
      if (!frame) {
        continue;
      }
      if (frame->type == MessageType::service_call) {
        worker::write_frame(socket_, MessageType::service_reply, answer_service(services, frame->payload));
        continue;
      }
      if (frame->type != MessageType::reply) {
        end(true);
        return failure(
            WorkerFailure::Kind::broken,
            fmt::format("{} sent something other than an answer during {}; its worker was stopped", name_, call_name));
      }
      return Outcome{std::move(frame->payload), std::nullopt};
    }
  } catch (const worker::PeerClosed&) {
    const std::string how = end(false);
    return failure(WorkerFailure::Kind::crashed,
                   fmt::format("{} crashed in {}: its worker ended, {}", name_, call_name, how));
  } catch (const worker::ProtocolError& e) {
    end(true);
    return failure(
        WorkerFailure::Kind::broken,
        fmt::format("{} sent a malformed message during {} ({}); its worker was stopped", name_, call_name, e.what()));
  }
}

std::string WorkerProcess::answer_service(const crm_host* services, std::string_view request) {
  Reader reader(request);
  Writer answer;
  if (services == nullptr) {
    return answer.i32(CRM_STATUS_UNSUPPORTED).data();
  }
  crm_host_context* context = services->context;
  const auto service = static_cast<Service>(reader.u32());
  const auto with_bytes = [&](std::pair<crm_status, std::string> result) {
    answer.i32(result.first);
    if (result.first == CRM_STATUS_OK) {
      answer.bytes(result.second);
    }
    return answer.take();
  };
  switch (service) {
    case Service::log: {
      const std::int32_t level = reader.i32();
      services->log(context, level, as_str(reader.bytes()));
      return {};
    }
    case Service::now_ms:
      return answer.i64(services->now_ms(context)).take();
    case Service::config_get: {
      const crm_str pointer = as_str(reader.bytes());
      return with_bytes(buffered([&](crm_buffer* out) { return services->config_get(context, pointer, out); }));
    }
    case Service::secret_get: {
      const crm_str pointer = as_str(reader.bytes());
      return with_bytes(buffered([&](crm_buffer* out) { return services->secret_get(context, pointer, out); }));
    }
    case Service::config_get_string: {
      const crm_str pointer = as_str(reader.bytes());
      return with_bytes(buffered([&](crm_buffer* out) { return services->config_get_string(context, pointer, out); }));
    }
    case Service::checkpoint_read:
      return with_bytes(buffered([&](crm_buffer* out) { return services->checkpoint_read(context, out); }));
    case Service::checkpoint_write:
      return answer.i32(services->checkpoint_write(context, as_str(reader.bytes()))).take();
    case Service::report_bad_record: {
      const crm_str raw = as_str(reader.bytes());
      const crm_str reason = as_str(reader.bytes());
      return answer.i32(services->report_bad_record(context, raw, reason)).take();
    }
    case Service::is_cancelled:
      return answer.boolean(services->is_cancelled(context)).take();
    case Service::config_get_int: {
      std::int64_t value = 0;
      const crm_status status = services->config_get_int(context, as_str(reader.bytes()), &value);
      return answer.i32(status).i64(value).take();
    }
    case Service::config_get_number: {
      double value = 0;
      const crm_status status = services->config_get_number(context, as_str(reader.bytes()), &value);
      return answer.i32(status).f64(value).take();
    }
    case Service::config_get_bool: {
      bool value = false;
      const crm_status status = services->config_get_bool(context, as_str(reader.bytes()), &value);
      return answer.i32(status).boolean(value).take();
    }
    case Service::config_get_array_length: {
      std::size_t value = 0;
      const crm_status status = services->config_get_array_length(context, as_str(reader.bytes()), &value);
      return answer.i32(status).u64(value).take();
    }
    case Service::state_get: {
      const crm_str key = as_str(reader.bytes());
      return with_bytes(buffered([&](crm_buffer* out) { return services->state_get(context, key, out); }));
    }
    case Service::state_put: {
      const crm_str key = as_str(reader.bytes());
      const crm_str value = as_str(reader.bytes());
      return answer.i32(services->state_put(context, key, value)).take();
    }
    case Service::state_delete:
      return answer.i32(services->state_delete(context, as_str(reader.bytes()))).take();
    case Service::state_next: {
      const crm_str after = as_str(reader.bytes());
      return with_bytes(buffered([&](crm_buffer* out) { return services->state_next(context, after, out); }));
    }
  }
  throw worker::ProtocolError(
      fmt::format("the worker asked for an unknown host service {}", static_cast<unsigned>(service)));
}

// ---------------------------------------------------------------- the rebuilt descriptors

namespace {

crm_status remote_create(const crm_host* host, crm_str config, crm_plugin_instance** out, crm_error* error) {
  (void)host;
  (void)config;
  (void)out;
  return crm_error_set(error, CRM_STATUS_FATAL, "a process-isolated plugin is created through its worker");
}
void remote_destroy(crm_plugin_instance* instance) {
  delete &RemotePlugin::of(instance);  // NOLINT(cppcoreguidelines-owning-memory): the instance owns itself
}
crm_status remote_fetch(crm_plugin_instance* instance, const crm_host* host, crm_str cursor, crm_batch* out,
                        crm_error* error) {
  return RemotePlugin::of(instance).fetch(host, cursor, out, error, false);
}
crm_status remote_reprocess(crm_plugin_instance* instance, const crm_host* host, crm_str raw, crm_batch* out,
                            crm_error* error) {
  return RemotePlugin::of(instance).fetch(host, raw, out, error, true);
}
crm_status remote_score(crm_plugin_instance* instance, const crm_host* host, const crm_score_input* input,
                        crm_score_output* output, crm_error* error) {
  return RemotePlugin::of(instance).score(host, input, output, error);
}
crm_status remote_train(crm_plugin_instance* instance, const crm_host* host, const crm_train_input* input,
                        crm_error* error) {
  return RemotePlugin::of(instance).train(host, input, error);
}
crm_status remote_save_model(crm_plugin_instance* instance, const crm_host* host, crm_buffer* out, crm_error* error) {
  return RemotePlugin::of(instance).save_model(host, out, error);
}
crm_status remote_load_model(crm_plugin_instance* instance, const crm_host* host, crm_str model, crm_error* error) {
  return RemotePlugin::of(instance).load_model(host, model, error);
}
crm_status remote_send(crm_plugin_instance* instance, const crm_host* host, const crm_channel_message* message,
                       crm_channel_result* result, crm_error* error) {
  return RemotePlugin::of(instance).send(host, message, result, error);
}

}  // namespace

struct RemoteLibraryImage::Entry {
  crm_plugin_descriptor descriptor{};
  std::string id, version, description, schema;
  crm_scorer_api scorer{};
  crm_connector_api connector{};
  crm_channel_api channel{};
  std::uint32_t unknown_api = 0;  // the kind API of a kind this host does not know: its size only
  std::vector<std::string> required, reasons, outputs;
  std::vector<const char*> required_names, reason_names, output_names;
  std::vector<crm_record_type> record_types;
  const worker::DescribedPlugin* described = nullptr;
};

namespace {

const char* const* name_list(const std::optional<std::vector<std::string>>& names, std::vector<std::string>& storage,
                             std::vector<const char*>& pointers) {
  if (!names) {
    return nullptr;
  }
  storage = *names;
  for (const std::string& name : storage) {
    pointers.push_back(name.c_str());
  }
  pointers.push_back(nullptr);
  return pointers.data();
}

}  // namespace

RemoteLibraryImage::RemoteLibraryImage(fs::path file, worker::LibraryDescription description)
    : file_(std::move(file)), description_(std::move(description)) {
  for (const worker::DescribedPlugin& plugin : description_.plugins) {
    if (!plugin.present) {
      pointers_.push_back(nullptr);
      continue;
    }
    auto entry = std::make_unique<Entry>();
    entry->described = &plugin;
    crm_plugin_descriptor& descriptor = entry->descriptor;
    descriptor.struct_size = plugin.struct_size;
    descriptor.kind = plugin.kind;
    const auto text = [](const std::optional<std::string>& value, std::string& storage) -> const char* {
      if (!value) {
        return nullptr;
      }
      storage = *value;
      return storage.c_str();
    };
    descriptor.id = text(plugin.id, entry->id);
    descriptor.version = text(plugin.version, entry->version);
    descriptor.description = text(plugin.description, entry->description);
    descriptor.config_schema_json = text(plugin.config_schema_json, entry->schema);
    descriptor.capabilities = plugin.capabilities;
    descriptor.create = plugin.has_create ? &remote_create : nullptr;
    descriptor.destroy = plugin.has_destroy ? &remote_destroy : nullptr;
    if (plugin.has_kind_api) {
      if (plugin.kind == CRM_KIND_SCORER) {
        crm_scorer_api& api = entry->scorer;
        api.struct_size = plugin.api_struct_size;
        api.required_features = name_list(plugin.required_features, entry->required, entry->required_names);
        api.score = plugin.has_score ? &remote_score : nullptr;
        api.reason_codes = name_list(plugin.reason_codes, entry->reasons, entry->reason_names);
        api.output_columns = name_list(plugin.output_columns, entry->outputs, entry->output_names);
        api.train = plugin.has_train ? &remote_train : nullptr;
        api.save_model = plugin.has_save_model ? &remote_save_model : nullptr;
        api.load_model = plugin.has_load_model ? &remote_load_model : nullptr;
        descriptor.kind_api = &api;
      } else if (plugin.kind == CRM_KIND_CONNECTOR) {
        crm_connector_api& api = entry->connector;
        api.struct_size = plugin.api_struct_size;
        if (plugin.record_types) {
          entry->record_types = *plugin.record_types;
          api.record_types = entry->record_types.empty() ? nullptr : entry->record_types.data();
          api.record_type_count = std::min<std::size_t>(plugin.record_type_count, entry->record_types.size());
        }
        api.fetch = plugin.has_fetch ? &remote_fetch : nullptr;
        api.reprocess = plugin.has_reprocess ? &remote_reprocess : nullptr;
        descriptor.kind_api = &api;
      } else if (plugin.kind == CRM_KIND_CHANNEL) {
        crm_channel_api& api = entry->channel;
        api.struct_size = plugin.api_struct_size;
        api.max_message_bytes = plugin.max_message_bytes;
        api.messages_per_minute = plugin.messages_per_minute;
        api.send = plugin.has_send ? &remote_send : nullptr;
        api.recipient_messages_per_minute = plugin.recipient_messages_per_minute;
        api.recipient_messages_per_hour = plugin.recipient_messages_per_hour;
        descriptor.kind_api = &api;
      } else {
        entry->unknown_api = plugin.api_struct_size;
        descriptor.kind_api = &entry->unknown_api;
      }
    }
    pointers_.push_back(&descriptor);
    entries_.push_back(std::move(entry));
  }
  library_.struct_size = description_.struct_size;
  library_.abi_version = description_.abi_version;
  library_.plugin_count =
      static_cast<std::size_t>(std::min<std::uint64_t>(description_.plugin_count, pointers_.size()));
  library_.plugins = description_.has_plugins && !pointers_.empty() ? pointers_.data() : nullptr;
}

RemoteLibraryImage::~RemoteLibraryImage() = default;

const worker::DescribedPlugin* RemoteLibraryImage::described(const crm_plugin_descriptor* descriptor) const {
  for (const auto& entry : entries_) {
    if (&entry->descriptor == descriptor) {
      return entry->described;
    }
  }
  return nullptr;
}

OpenedRemoteLibrary open_remote_library(const fs::path& file, const WorkerSettings& settings,
                                        const std::function<std::string(std::uint32_t)>& abi_check) {
  OpenedRemoteLibrary opened;
  std::unique_ptr<WorkerProcess> process;
  const std::string name = fmt::format("library {}", file.filename().string());
  try {
    process = std::make_unique<WorkerProcess>(settings, name);
  } catch (const std::exception& e) {
    opened.refusal = e.what();
    return opened;
  }
  Writer request;
  request.bytes(file.string());
  WorkerProcess::Outcome outcome =
      process->call(MessageType::open_library, request.data(), "loading", settings.deadlines.load_ms, nullptr);
  if (outcome.failure) {
    opened.refusal = outcome.failure->message;
    return opened;
  }
  Reader reader(outcome.reply);
  const std::uint32_t code = reader.u32();
  if (code == 1) {
    opened.refusal = fmt::format("not a loadable shared library ({}); rebuild it as a shared library for this platform",
                                 reader.bytes());
    return opened;
  }
  const auto missing_entry = [](std::string_view symbol) {
    return fmt::format("missing entry point {}(); export it with CRM_DEFINE_LIBRARY (C) or CRM_EXPORT_PLUGINS (C++)",
                       symbol);
  };
  if (code == 2) {
    opened.refusal = missing_entry(reader.bytes());
    return opened;
  }
  opened.abi_version = reader.u32();
  if (std::string problem = abi_check(opened.abi_version); !problem.empty()) {
    opened.refusal = std::move(problem);
    return opened;
  }
  outcome = process->call(MessageType::describe, {}, "crm_on_library", settings.deadlines.load_ms, nullptr);
  if (outcome.failure) {
    opened.refusal = outcome.failure->message;
    return opened;
  }
  Reader description(outcome.reply);
  if (description.u32() != 0) {
    opened.refusal = missing_entry(description.bytes());
    return opened;
  }
  const std::string_view rest = std::string_view(outcome.reply).substr(sizeof(std::uint32_t));
  worker::LibraryDescription contents = worker::decode_description(rest);
  if (contents.plugin_count > worker::kMaxPluginsPerLibrary) {
    opened.refusal = fmt::format("the library declares {} plugins; a library holds at most {}", contents.plugin_count,
                                 worker::kMaxPluginsPerLibrary);
    return opened;
  }
  process->stop(settings.deadlines.destroy_ms);
  opened.image = std::make_unique<RemoteLibraryImage>(file, std::move(contents));
  return opened;
}

// ---------------------------------------------------------------- one instance

RemotePlugin::RemotePlugin(fs::path library, std::string plugin_id, std::string instance_name, WorkerSettings settings,
                           std::size_t output_column_count)
    : library_(std::move(library)),
      plugin_id_(std::move(plugin_id)),
      instance_name_(std::move(instance_name)),
      settings_(std::move(settings)),
      output_column_count_(output_column_count) {}

RemotePlugin::~RemotePlugin() {
  if (worker_) {
    worker_->stop(settings_.deadlines.destroy_ms);
    record_runtime(instance_name_, [](PluginRuntimeStatus& runtime, int& /*failures*/) { runtime.running = false; });
  }
}

RemotePluginStatus RemotePlugin::status() const {
  const std::lock_guard lock(status_mutex_);
  return status_;
}

crm_status RemotePlugin::failed(const WorkerFailure& failure, crm_error* error) {
  worker_.reset();
  const auto now = std::chrono::steady_clock::now();
  crash_times_.push_back(now);
  while (!crash_times_.empty() && now - crash_times_.front() > std::chrono::milliseconds(settings_.crash_window_ms)) {
    crash_times_.pop_front();
  }
  std::string message = failure.message;
  if (failure.kind == WorkerFailure::Kind::crashed && settings_.memory_limit_mb > 0) {
    message += fmt::format(" (its memory limit is {} MB)", settings_.memory_limit_mb);
  }
  const std::lock_guard lock(status_mutex_);
  status_.running = false;
  status_.pid = 0;
  ++status_.crashes;
  status_.last_failure = message;
  const bool disable = static_cast<int>(crash_times_.size()) >= settings_.crash_limit;
  if (disable) {
    status_.disabled_reason =
        fmt::format("disabled for the rest of this run after {} failures within {} s; the last: {}",
                    crash_times_.size(), settings_.crash_window_ms / 1000, message);
  }
  unrecovered_ = true;
  record_runtime(instance_name_, [&](PluginRuntimeStatus& runtime, int& failures) {
    ++failures;
    runtime.running = false;
    runtime.unrecovered = true;
    ++runtime.failures;
    runtime.last_failure = message;
    if (disable) {
      runtime.disabled_reason = status_.disabled_reason;
    }
  });
  if (disable) {
    return crm_error_set(error, CRM_STATUS_FATAL, status_.disabled_reason->c_str());
  }
  if (failure.kind == WorkerFailure::Kind::cancelled) {
    return crm_error_set(error, CRM_STATUS_CANCELLED, message.c_str());
  }
  return crm_error_set(error, CRM_STATUS_RETRIABLE, message.c_str());
}

crm_status RemotePlugin::ensure_worker(const crm_host* host, crm_error* error) {
  {
    const std::lock_guard lock(status_mutex_);
    if (status_.disabled_reason) {
      return crm_error_set(error, CRM_STATUS_FATAL, status_.disabled_reason->c_str());
    }
  }
  if (worker_ && worker_->running()) {
    return CRM_STATUS_OK;
  }
  if (started_once_) {
    // The first restart in a window is at once (a replacement answers fast); later ones back off.
    const std::size_t recent = crash_times_.size();
    std::int64_t wait_ms = 0;
    if (recent >= 2) {
      wait_ms = std::min(settings_.max_restart_backoff_ms,
                         settings_.restart_backoff_ms << std::min<std::size_t>(recent - 2, 20));
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (std::chrono::steady_clock::now() < until) {
      if (host != nullptr && host->is_cancelled(host->context)) {
        return crm_error_set(error, CRM_STATUS_CANCELLED, "cancelled while waiting to restart the plugin's worker");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(wait_ms, 20)));
    }
  }
  const std::string name = fmt::format("plugin '{}'", instance_name_);
  try {
    worker_ = std::make_unique<WorkerProcess>(settings_, name);
  } catch (const std::exception& e) {
    return crm_error_set(error, CRM_STATUS_FATAL, e.what());
  }
  Writer open;
  open.bytes(library_.string());
  WorkerProcess::Outcome outcome =
      worker_->call(MessageType::open_library, open.data(), "loading", settings_.deadlines.load_ms, host);
  if (outcome.failure) {
    return failed(*outcome.failure, error);
  }
  if (Reader opened(outcome.reply); opened.u32() != 0) {
    worker_.reset();
    return crm_error_set(
        error, CRM_STATUS_FATAL,
        fmt::format("{} no longer loads from {} ({}); was the file replaced?", name, library_.string(), opened.bytes())
            .c_str());
  }
  Writer create;
  create.bytes(plugin_id_).bytes(config_);
  outcome = worker_->call(MessageType::create, create.data(), "create", settings_.deadlines.create_ms, host);
  if (outcome.failure) {
    return failed(*outcome.failure, error);
  }
  Reader created(outcome.reply);
  const auto raw_status = static_cast<crm_status>(Reader(outcome.reply).i32());
  if (raw_status == kThrewException || raw_status == kThrewUnknown) {
    worker_->stop(settings_.deadlines.destroy_ms);
    worker_.reset();
    Reader thrown(outcome.reply);
    thrown.i32();
    rethrow_in_host(raw_status, std::string(thrown.bytes()));
  }
  const auto [status, message] = status_and_error(created);
  if (status != CRM_STATUS_OK) {
    worker_->stop(settings_.deadlines.destroy_ms);
    worker_.reset();
    return crm_error_set(error, status, message.c_str());
  }
  if (model_) {
    Writer model;
    model.bytes(*model_);
    outcome = worker_->call(MessageType::load_model, model.data(), "load_model", settings_.deadlines.model_ms, host);
    if (outcome.failure) {
      return failed(*outcome.failure, error);
    }
    Reader loaded(outcome.reply);
    if (const auto [status, message] = status_and_error(loaded); status != CRM_STATUS_OK) {
      worker_->stop(settings_.deadlines.destroy_ms);
      worker_.reset();
      return crm_error_set(error, status,
                           fmt::format("{}'s restarted worker did not take its model back: {}", name, message).c_str());
    }
  }
  const std::lock_guard lock(status_mutex_);
  const bool restart = started_once_;
  if (restart) {
    ++status_.restarts;
  }
  started_once_ = true;
  status_.running = true;
  status_.pid = worker_->pid();
  record_runtime(instance_name_, [&](PluginRuntimeStatus& runtime, int& /*failures*/) {
    runtime.running = true;
    ++runtime.workers_started;
    runtime.restarts += restart ? 1 : 0;
  });
  return CRM_STATUS_OK;
}

crm_status RemotePlugin::create(const crm_host* host, std::string config, crm_error* error) {
  const std::lock_guard lock(mutex_);
  config_ = std::move(config);
  return ensure_worker(host, error);
}

crm_status RemotePlugin::call(MessageType type, std::string_view payload, const char* call_name,
                              std::int64_t deadline_ms, const crm_host* host, crm_error* error, std::string& reply) {
  if (const crm_status ready = ensure_worker(host, error); ready != CRM_STATUS_OK) {
    return ready;
  }
  WorkerProcess::Outcome outcome = worker_->call(type, payload, call_name, deadline_ms, host);
  if (outcome.failure) {
    return failed(*outcome.failure, error);
  }
  reply = std::move(outcome.reply);
  return CRM_STATUS_OK;
}

template <class Body>
crm_status RemotePlugin::exchange(const char* call_name, crm_error* error, Body&& body) {
  crm_status status = CRM_STATUS_FATAL;
  try {
    status = body();
  } catch (const worker::ProtocolError& e) {
    // A reply that does not parse, or a batch out of bounds: the worker cannot be trusted any more.
    worker_.reset();
    return failed(WorkerFailure{WorkerFailure::Kind::broken,
                                fmt::format("plugin '{}' sent a malformed answer to {} ({}); its worker was stopped",
                                            instance_name_, call_name, e.what())},
                  error);
  } catch (const std::system_error& e) {
    return crm_error_set(
        error, CRM_STATUS_RETRIABLE,
        fmt::format("plugin '{}': {} failed in the host ({})", instance_name_, call_name, e.what()).c_str());
  }
  if (status == CRM_STATUS_OK && unrecovered_) {
    unrecovered_ = false;
    record_runtime(instance_name_,
                   [](PluginRuntimeStatus& runtime, int& /*failures*/) { runtime.unrecovered = false; });
  }
  return status;
}

crm_status RemotePlugin::fetch(const crm_host* host, crm_str cursor, crm_batch* out, crm_error* error, bool reprocess) {
  const std::lock_guard lock(mutex_);
  const char* name = reprocess ? "reprocess" : "fetch";
  return exchange(name, error, [&]() -> crm_status {
    Writer request;
    request.bytes(std::string_view(cursor.data == nullptr ? "" : cursor.data, cursor.size));
    std::string reply;
    if (const crm_status sent = call(reprocess ? MessageType::reprocess : MessageType::fetch, request.data(), name,
                                     settings_.deadlines.fetch_ms, host, error, reply);
        sent != CRM_STATUS_OK) {
      return sent;
    }
    Reader reader(reply);
    const auto [status, message] = status_and_error(reader);
    if (status != CRM_STATUS_OK) {
      return crm_error_set(error, status, message.c_str());
    }
    worker_->arena().follow();
    worker::take_batch(worker_->arena(), batch_, *out);
    return CRM_STATUS_OK;
  });
}

crm_status RemotePlugin::score(const crm_host* host, const crm_score_input* input, crm_score_output* output,
                               crm_error* error) {
  const std::lock_guard lock(mutex_);
  return exchange("score", error, [&]() -> crm_status {
    if (const crm_status ready = ensure_worker(host, error); ready != CRM_STATUS_OK) {
      return ready;
    }
    const worker::ScoreLayout layout =
        worker::place_score_call(worker_->arena(), *input, output, output_column_count_, nullptr, 0);
    Writer request;
    worker::encode_score_layout(request, layout);
    request.u64(worker_->arena().size());
    std::string reply;
    if (const crm_status sent =
            call(MessageType::score, request.data(), "score", settings_.deadlines.score_ms, host, error, reply);
        sent != CRM_STATUS_OK) {
      return sent;
    }
    Reader reader(reply);
    const auto [status, message] = status_and_error(reader);
    if (status != CRM_STATUS_OK) {
      return crm_error_set(error, status, message.c_str());
    }
    worker::take_score_output(worker_->arena(), layout, *output);
    return CRM_STATUS_OK;
  });
}

crm_status RemotePlugin::train(const crm_host* host, const crm_train_input* input, crm_error* error) {
  const std::lock_guard lock(mutex_);
  return exchange("train", error, [&]() -> crm_status {
    if (const crm_status ready = ensure_worker(host, error); ready != CRM_STATUS_OK) {
      return ready;
    }
    const worker::ScoreLayout layout =
        worker::place_score_call(worker_->arena(), *input->features, nullptr, 0, input->churned, input->horizon_days);
    Writer request;
    worker::encode_score_layout(request, layout);
    request.u64(worker_->arena().size());
    std::string reply;
    if (const crm_status sent =
            call(MessageType::train, request.data(), "train", settings_.deadlines.train_ms, host, error, reply);
        sent != CRM_STATUS_OK) {
      return sent;
    }
    Reader reader(reply);
    const auto [status, message] = status_and_error(reader);
    if (status == CRM_STATUS_OK) {
      // The trained model lives only in this worker until save_model: a restart before then loses it.
      model_.reset();
      return CRM_STATUS_OK;
    }
    return crm_error_set(error, status, message.c_str());
  });
}

crm_status RemotePlugin::save_model(const crm_host* host, crm_buffer* out, crm_error* error) {
  const std::lock_guard lock(mutex_);
  return exchange("save_model", error, [&]() -> crm_status {
    std::string reply;
    if (const crm_status sent =
            call(MessageType::save_model, {}, "save_model", settings_.deadlines.model_ms, host, error, reply);
        sent != CRM_STATUS_OK) {
      return sent;
    }
    Reader reader(reply);
    const auto [status, message] = status_and_error(reader);
    if (status != CRM_STATUS_OK) {
      return crm_error_set(error, status, message.c_str());
    }
    model_ = std::string(reader.bytes());
    return write_buffer(*model_, out);
  });
}

crm_status RemotePlugin::load_model(const crm_host* host, crm_str model, crm_error* error) {
  const std::lock_guard lock(mutex_);
  return exchange("load_model", error, [&]() -> crm_status {
    Writer request;
    const std::string_view bytes(model.data == nullptr ? "" : model.data, model.size);
    request.bytes(bytes);
    std::string reply;
    if (const crm_status sent = call(MessageType::load_model, request.data(), "load_model",
                                     settings_.deadlines.model_ms, host, error, reply);
        sent != CRM_STATUS_OK) {
      return sent;
    }
    Reader reader(reply);
    const auto [status, message] = status_and_error(reader);
    if (status != CRM_STATUS_OK) {
      return crm_error_set(error, status, message.c_str());
    }
    model_ = std::string(bytes);
    return CRM_STATUS_OK;
  });
}

crm_status RemotePlugin::send(const crm_host* host, const crm_channel_message* message, crm_channel_result* result,
                              crm_error* error) {
  const std::lock_guard lock(mutex_);
  return exchange("send", error, [&]() -> crm_status {
    Writer request;
    worker::encode_message(request, *message);
    std::string reply;
    if (const crm_status sent =
            call(MessageType::send, request.data(), "send", settings_.deadlines.send_ms, host, error, reply);
        sent != CRM_STATUS_OK) {
      return sent;
    }
    Reader reader(reply);
    const auto [status, text] = status_and_error(reader);
    result->retry_after_ms = reader.i64();
    const std::string_view failed_flags = reader.bytes();
    for (std::size_t i = 0; i < message->recipient_count && i < failed_flags.size(); ++i) {
      result->recipient_failed[i] = static_cast<std::uint8_t>(failed_flags[i]);
    }
    return status == CRM_STATUS_OK ? status : crm_error_set(error, status, text.c_str());
  });
}

}  // namespace crm::host
