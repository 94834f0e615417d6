// crmhost-plugin-worker: runs one plugin library in a process of its own, for
// a host that isolates it ("isolation": "process"). The host starts it with a
// connected socket as fd 3 and the shared memory as fd 4, and is its only
// peer: it loads the library, makes at most one instance, and answers the
// host's calls until the host closes the socket or says destroy. It never
// reads the host's configuration or any other plugin's: what the plugin asks
// of the host (configuration, secrets, checkpoints...) it asks through the
// socket, and the host answers for this plugin only.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <thread>
#include <vector>

#include "crm/crm.h"
#include "loader/worker_codec.hpp"
#include "loader/worker_protocol.hpp"

namespace crm::host::worker {
namespace {

// Every frame this process writes goes out whole under this lock: the main loop's replies and the
// service calls of the plugin's own threads never interleave.
std::mutex g_write_mutex;
// True while a call into the plugin runs: host services are answered only then (crm/host.h), so a
// plugin thread that outlives its call cannot start a conversation the host is not in.
std::atomic<bool> g_in_call{false};

constexpr int kSocketFd = 3;
constexpr int kArenaFd = 4;
constexpr std::size_t kErrorCapacity = 4096;

std::string_view view(crm_str value) {
  return {value.data == nullptr ? "" : value.data, value.size};
}

// The crm_host table of this process: each service is a round trip to the host.
class Services {
 public:
  explicit Services(SharedArena& arena) : arena_(arena) {
    table_.struct_size = sizeof(crm_host);
    table_.abi_version = CRM_ABI_VERSION;
    table_.context = reinterpret_cast<crm_host_context*>(this);
    table_.log = &Services::log;
    table_.now_ms = &Services::now_ms;
    table_.config_get = &Services::config_get;
    table_.secret_get = &Services::secret_get;
    table_.checkpoint_read = &Services::checkpoint_read;
    table_.checkpoint_write = &Services::checkpoint_write;
    table_.report_bad_record = &Services::report_bad_record;
    table_.is_cancelled = &Services::is_cancelled;
    table_.config_get_string = &Services::config_get_string;
    table_.config_get_int = &Services::config_get_int;
    table_.config_get_number = &Services::config_get_number;
    table_.config_get_bool = &Services::config_get_bool;
    table_.config_get_array_length = &Services::config_get_array_length;
    table_.state_get = &Services::state_get;
    table_.state_put = &Services::state_put;
    table_.state_delete = &Services::state_delete;
    table_.state_next = &Services::state_next;
  }
  [[nodiscard]] const crm_host* table() const { return &table_; }

 private:
  static Services& self(crm_host_context* context) { return *reinterpret_cast<Services*>(context); }

  // One request and its answer; plugin threads may call at once, so one at a time. Outside a call
  // the answer is an empty reply, which every service reads as a failure (or nothing, for log).
  std::string call(Service service, const Writer& arguments) {
    Writer request;
    request.u32(static_cast<std::uint32_t>(service));
    const std::string payload = request.data() + arguments.data();
    const std::lock_guard lock(mutex_);
    if (!g_in_call.load()) {
      return Writer().i32(CRM_STATUS_FATAL).i64(0).take();
    }
    try {
      {
        const std::lock_guard write_lock(g_write_mutex);
        write_frame(kSocketFd, MessageType::service_call, payload);
      }
      std::optional<Frame> answer = read_frame(kSocketFd, -1);
      if (!answer || answer->type != MessageType::service_reply) {
        throw ProtocolError("the host answered a service call with something else");
      }
      return std::move(answer->payload);
    } catch (const ProtocolError&) {
      // The host went away in the middle of a call: nothing is left to answer to.
      std::_Exit(1);
    }
  }

  // A service answering {status, bytes} into a caller's crm_buffer.
  static crm_status buffered(crm_host_context* context, Service service, const Writer& arguments, crm_buffer* out) {
    const std::string answer = self(context).call(service, arguments);
    Reader reader(answer);
    const auto status = static_cast<crm_status>(reader.i32());
    if (status != CRM_STATUS_OK) {
      return status;
    }
    const std::string_view value = reader.bytes();
    if (out == nullptr) {
      return CRM_STATUS_INVALID_ARGUMENT;
    }
    out->size = value.size();
    if (value.size() > out->capacity) {
      return CRM_STATUS_BUFFER_TOO_SMALL;
    }
    if (!value.empty()) {
      std::memcpy(out->data, value.data(), value.size());
    }
    return CRM_STATUS_OK;
  }

  static crm_status status_only(crm_host_context* context, Service service, const Writer& arguments) {
    const std::string answer = self(context).call(service, arguments);
    Reader reader(answer);
    return static_cast<crm_status>(reader.i32());
  }

  template <class T, class Read>
  static crm_status typed(crm_host_context* context, Service service, crm_str pointer, T* out, Read&& read) {
    if (out == nullptr) {
      return CRM_STATUS_INVALID_ARGUMENT;
    }
    Writer arguments;
    arguments.bytes(view(pointer));
    const std::string answer = self(context).call(service, arguments);
    Reader reader(answer);
    const auto status = static_cast<crm_status>(reader.i32());
    if (status == CRM_STATUS_OK) {
      *out = read(reader);
    }
    return status;
  }

  static void log(crm_host_context* context, crm_log_level level, crm_str message) {
    Writer arguments;
    arguments.i32(level).bytes(view(message));
    self(context).call(Service::log, arguments);
  }
  static std::int64_t now_ms(crm_host_context* context) {
    const std::string answer = self(context).call(Service::now_ms, Writer());
    Reader reader(answer);
    return reader.i64();
  }
  static crm_status config_get(crm_host_context* context, crm_str pointer, crm_buffer* out) {
    Writer arguments;
    arguments.bytes(view(pointer));
    return buffered(context, Service::config_get, arguments, out);
  }
  static crm_status secret_get(crm_host_context* context, crm_str pointer, crm_buffer* out) {
    Writer arguments;
    arguments.bytes(view(pointer));
    return buffered(context, Service::secret_get, arguments, out);
  }
  static crm_status checkpoint_read(crm_host_context* context, crm_buffer* out) {
    return buffered(context, Service::checkpoint_read, Writer(), out);
  }
  static crm_status checkpoint_write(crm_host_context* context, crm_str cursor) {
    Writer arguments;
    arguments.bytes(view(cursor));
    return status_only(context, Service::checkpoint_write, arguments);
  }
  static crm_status report_bad_record(crm_host_context* context, crm_str raw_record, crm_str reason) {
    Writer arguments;
    arguments.bytes(view(raw_record)).bytes(view(reason));
    return status_only(context, Service::report_bad_record, arguments);
  }
  // Read from shared memory, not asked: plugins poll it in their loops.
  static bool is_cancelled(crm_host_context* context) { return self(context).arena_.cancelled(); }
  static crm_status config_get_string(crm_host_context* context, crm_str pointer, crm_buffer* out) {
    if (out == nullptr) {
      return CRM_STATUS_INVALID_ARGUMENT;
    }
    Writer arguments;
    arguments.bytes(view(pointer));
    return buffered(context, Service::config_get_string, arguments, out);
  }
  static crm_status config_get_int(crm_host_context* context, crm_str pointer, std::int64_t* out) {
    return typed(context, Service::config_get_int, pointer, out, [](Reader& reader) { return reader.i64(); });
  }
  static crm_status config_get_number(crm_host_context* context, crm_str pointer, double* out) {
    return typed(context, Service::config_get_number, pointer, out, [](Reader& reader) { return reader.f64(); });
  }
  static crm_status config_get_bool(crm_host_context* context, crm_str pointer, bool* out) {
    return typed(context, Service::config_get_bool, pointer, out, [](Reader& reader) { return reader.boolean(); });
  }
  static crm_status config_get_array_length(crm_host_context* context, crm_str pointer, std::size_t* out) {
    return typed(context, Service::config_get_array_length, pointer, out,
                 [](Reader& reader) { return static_cast<std::size_t>(reader.u64()); });
  }
  static crm_status state_get(crm_host_context* context, crm_str key, crm_buffer* out) {
    Writer arguments;
    arguments.bytes(view(key));
    return buffered(context, Service::state_get, arguments, out);
  }
  static crm_status state_put(crm_host_context* context, crm_str key, crm_str value) {
    Writer arguments;
    arguments.bytes(view(key)).bytes(view(value));
    return status_only(context, Service::state_put, arguments);
  }
  static crm_status state_delete(crm_host_context* context, crm_str key) {
    Writer arguments;
    arguments.bytes(view(key));
    return status_only(context, Service::state_delete, arguments);
  }
  static crm_status state_next(crm_host_context* context, crm_str after_key, crm_buffer* key_out) {
    Writer arguments;
    arguments.bytes(view(after_key));
    return buffered(context, Service::state_next, arguments, key_out);
  }

  SharedArena& arena_;
  std::mutex mutex_;
  crm_host table_{};
};

// What the worker holds: the library, and the one instance it made.
struct Worker {
  explicit Worker(SharedArena& shared) : arena(shared), services(shared) {}
  SharedArena& arena;
  Services services;
  void* library = nullptr;
  const crm_plugin_descriptor* descriptor = nullptr;
  crm_plugin_descriptor descriptor_copy{};
  crm_plugin_instance* instance = nullptr;
  crm_scorer_api scorer{};
  crm_connector_api connector{};
  crm_channel_api channel{};
};

template <class T>
T read_prefix(const void* source) {
  std::uint32_t declared = 0;
  std::memcpy(&declared, source, sizeof declared);
  T copy{};
  std::memcpy(static_cast<void*>(&copy), source, std::min<std::size_t>(declared, sizeof(T)));
  return copy;
}

struct ErrorText {
  std::array<char, kErrorCapacity> buffer{};
  crm_error error{buffer.data(), buffer.size()};
  [[nodiscard]] std::string_view text() const { return buffer.data(); }
};

void reply(std::string_view payload) {
  g_in_call.store(false);
  const std::lock_guard lock(g_write_mutex);
  write_frame(kSocketFd, MessageType::reply, payload);
}

// Statuses a reply carries instead of the plugin's when its call threw across the C boundary
// (a C++ plugin written without the SDK's layer): the host reports them as it does in-process.
constexpr crm_status kThrewException = -1;
constexpr crm_status kThrewUnknown = -2;

// Runs a call into plugin code; an exception stops here and becomes one of the statuses above.
template <class Call>
crm_status guarded(ErrorText& error, Call&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    crm_error_set(&error.error, kThrewException, e.what());
    return kThrewException;
  } catch (...) {
    crm_error_set(&error.error, kThrewUnknown, "unknown");
    return kThrewUnknown;
  }
}

void reply_status(crm_status status, const ErrorText& error, const Writer& extra = Writer()) {
  Writer writer;
  writer.i32(status).bytes(status == CRM_STATUS_OK ? std::string_view() : error.text());
  reply(writer.data() + extra.data());
}

// open_library: [path] -> [u32 0, u32 abi] | [u32 1, text why not loadable] | [u32 2, missing symbol]
void open_library(Worker& worker, Reader& request) {
  const std::string path(request.bytes());
  Writer answer;
  worker.library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (worker.library == nullptr) {
    const char* why = ::dlerror();
    reply(answer.u32(1).bytes(why != nullptr ? why : "unknown error").data());
    return;
  }
  void* symbol = ::dlsym(worker.library, CRM_ABI_VERSION_SYMBOL);
  if (symbol == nullptr) {
    reply(answer.u32(2).bytes(CRM_ABI_VERSION_SYMBOL).data());
    return;
  }
  const auto abi_version = reinterpret_cast<crm_on_abi_version_fn>(symbol);
  reply(answer.u32(0).u32(abi_version()).data());
}

const crm_library* library_contents(Worker& worker) {
  void* symbol = worker.library == nullptr ? nullptr : ::dlsym(worker.library, CRM_LIBRARY_SYMBOL);
  return symbol == nullptr ? nullptr : reinterpret_cast<crm_on_library_fn>(symbol)();
}

// describe: -> [u32 0, description] | [u32 2, missing symbol]
void describe(Worker& worker) {
  Writer answer;
  if (worker.library == nullptr || ::dlsym(worker.library, CRM_LIBRARY_SYMBOL) == nullptr) {
    reply(answer.u32(2).bytes(CRM_LIBRARY_SYMBOL).data());
    return;
  }
  const std::string description = encode_description(describe_library(library_contents(worker)));
  reply(answer.u32(0).data() + description);
}

// create: [plugin id, config text] -> status, error
void create(Worker& worker, Reader& request) {
  const std::string id(request.bytes());
  const std::string config(request.bytes());
  ErrorText error;
  const crm_library* library = library_contents(worker);
  const auto contents = read_prefix<crm_library>(library);
  for (std::size_t i = 0; contents.plugins != nullptr && i < contents.plugin_count; ++i) {
    const crm_plugin_descriptor* raw = contents.plugins[i];
    const auto descriptor = raw == nullptr ? crm_plugin_descriptor{} : read_prefix<crm_plugin_descriptor>(raw);
    if (descriptor.id != nullptr && id == descriptor.id) {
      worker.descriptor = raw;
      worker.descriptor_copy = descriptor;
      break;
    }
  }
  if (worker.descriptor == nullptr || worker.descriptor_copy.create == nullptr) {
    crm_error_set(&error.error, CRM_STATUS_FATAL, "the library does not hold this plugin");
    reply_status(CRM_STATUS_FATAL, error);
    return;
  }
  const crm_plugin_descriptor& descriptor = worker.descriptor_copy;
  if (descriptor.kind == CRM_KIND_SCORER) {
    worker.scorer = read_prefix<crm_scorer_api>(descriptor.kind_api);
  } else if (descriptor.kind == CRM_KIND_CONNECTOR) {
    worker.connector = read_prefix<crm_connector_api>(descriptor.kind_api);
  } else if (descriptor.kind == CRM_KIND_CHANNEL) {
    worker.channel = read_prefix<crm_channel_api>(descriptor.kind_api);
  }
  crm_plugin_instance* instance = nullptr;
  const crm_status status = guarded(error, [&] {
    return descriptor.create(worker.services.table(), crm_str{config.data(), config.size()}, &instance, &error.error);
  });
  if (status == CRM_STATUS_OK) {
    worker.instance = instance;
  } else if (instance != nullptr) {
    descriptor.destroy(instance);
  }
  reply_status(status, error);
}

// fetch and reprocess: [cursor or raw record] -> status, error, u64 arena size (the batch is in the arena)
void fetch(Worker& worker, Reader& request, bool reprocess) {
  const std::string_view argument = request.bytes();
  crm_batch batch{};
  batch.struct_size = sizeof(crm_batch);
  ErrorText error;
  const crm_str text{argument.data(), argument.size()};
  crm_status status = guarded(error, [&] {
    return reprocess ? worker.connector.reprocess(worker.instance, worker.services.table(), text, &batch, &error.error)
                     : worker.connector.fetch(worker.instance, worker.services.table(), text, &batch, &error.error);
  });
  if (status == CRM_STATUS_OK) {
    if (const std::string lie = place_batch(worker.arena, batch); !lie.empty()) {
      status = crm_error_set(&error.error, CRM_STATUS_FATAL, lie.c_str());
    }
  }
  Writer extra;
  extra.u64(worker.arena.size());
  reply_status(status, error, extra);
}

// score and train: [score layout, u64 arena size] -> status, error (outputs are in the arena)
void score(Worker& worker, Reader& request, bool train) {
  const ScoreLayout layout = decode_score_layout(request);
  request.u64();  // the host's size of the arena: the file's own size is what counts
  worker.arena.follow();
  ScoreCallView view;
  view_score_call(worker.arena, layout, view);
  ErrorText error;
  crm_status status = CRM_STATUS_FATAL;
  if (train) {
    crm_train_input input{};
    input.struct_size = sizeof(crm_train_input);
    input.features = &view.input;
    input.churned = reinterpret_cast<const double*>(worker.arena.base() + layout.labels);
    input.horizon_days = layout.horizon_days;
    status = guarded(
        error, [&] { return worker.scorer.train(worker.instance, worker.services.table(), &input, &error.error); });
  } else {
    status = guarded(error, [&] {
      return worker.scorer.score(worker.instance, worker.services.table(), &view.input, &view.output, &error.error);
    });
  }
  reply_status(status, error);
}

// save_model: -> status, error, model bytes
void save_model(Worker& worker) {
  ErrorText error;
  std::string model(std::size_t{64} << 10, '\0');
  crm_status status = CRM_STATUS_FATAL;
  for (int attempt = 0; attempt < 4; ++attempt) {
    crm_buffer out{model.data(), model.size(), 0};
    status = guarded(
        error, [&] { return worker.scorer.save_model(worker.instance, worker.services.table(), &out, &error.error); });
    if (status == CRM_STATUS_BUFFER_TOO_SMALL && out.size > model.size()) {
      model.resize(out.size);
      continue;
    }
    model.resize(status == CRM_STATUS_OK ? std::min(out.size, model.size()) : 0);
    break;
  }
  Writer extra;
  extra.bytes(model);
  reply_status(status, error, extra);
}

// load_model: [model bytes] -> status, error
void load_model(Worker& worker, Reader& request) {
  const std::string_view model = request.bytes();
  ErrorText error;
  const crm_status status = guarded(error, [&] {
    return worker.scorer.load_model(worker.instance, worker.services.table(), crm_str{model.data(), model.size()},
                                    &error.error);
  });
  reply_status(status, error);
}

// send: [message] -> status, error, i64 retry_after_ms, failed flags
void send(Worker& worker, Reader& request) {
  MessageView message;
  decode_message(request, message);
  std::vector<std::uint8_t> failed(message.message.recipient_count, 0);
  crm_channel_result result{};
  result.struct_size = sizeof(crm_channel_result);
  result.recipient_failed = failed.data();
  ErrorText error;
  const crm_status status = guarded(error, [&] {
    return worker.channel.send(worker.instance, worker.services.table(), &message.message, &result, &error.error);
  });
  Writer extra;
  extra.i64(result.retry_after_ms).bytes(std::string_view(reinterpret_cast<const char*>(failed.data()), failed.size()));
  reply_status(status, error, extra);
}

void apply_limit(int resource, const char* value) {
  const rlim_t limit = std::strtoull(value, nullptr, 10);
  if (limit == 0) {
    return;
  }
  const rlimit bounds{limit, limit};
  if (::setrlimit(resource, &bounds) != 0) {
    std::fprintf(stderr, "crmhost-plugin-worker: cannot set resource limit %d to %s: %s\n", resource, value,
                 std::strerror(errno));
  }
}

int serve(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view option = argv[i];
    if (option == "--memory-bytes") {
#if !defined(__SANITIZE_ADDRESS__)
      // AddressSanitizer reserves terabytes of address space; under it the host asks ASan to cap the memory.
      apply_limit(RLIMIT_AS, argv[i + 1]);
#endif
    } else if (option == "--cpu-seconds") {
      apply_limit(RLIMIT_CPU, argv[i + 1]);
    } else if (option == "--open-files") {
      apply_limit(RLIMIT_NOFILE, argv[i + 1]);
    }
  }
  SharedArena arena = SharedArena::adopt(kArenaFd);
  Worker worker(arena);
  while (true) {
    std::optional<Frame> frame;
    try {
      frame = read_frame(kSocketFd, -1);
    } catch (const ProtocolError&) {
      return 0;  // the host closed the socket: nothing more to do
    }
    Reader request(frame->payload);
    g_in_call.store(true);
    switch (frame->type) {
      case MessageType::open_library:
        open_library(worker, request);
        break;
      case MessageType::describe:
        describe(worker);
        break;
      case MessageType::create:
        create(worker, request);
        break;
      case MessageType::destroy:
        if (worker.instance != nullptr) {
          worker.descriptor_copy.destroy(worker.instance);
          worker.instance = nullptr;
        }
        reply({});
        return 0;
      case MessageType::fetch:
        fetch(worker, request, false);
        break;
      case MessageType::reprocess:
        fetch(worker, request, true);
        break;
      case MessageType::score:
        score(worker, request, false);
        break;
      case MessageType::train:
        score(worker, request, true);
        break;
      case MessageType::save_model:
        save_model(worker);
        break;
      case MessageType::load_model:
        load_model(worker, request);
        break;
      case MessageType::send:
        send(worker, request);
        break;
      default:
        std::fprintf(stderr, "crmhost-plugin-worker: unexpected message %u from the host\n",
                     static_cast<unsigned>(frame->type));
        return 1;
    }
  }
}

}  // namespace
}  // namespace crm::host::worker

int main(int argc, char** argv) {
  if (::fcntl(3, F_GETFD) < 0 || ::fcntl(4, F_GETFD) < 0) {
    std::fprintf(stderr,
                 "crmhost-plugin-worker is started by crmhost for plugins it runs in a process of their own; it is "
                 "not meant to be run by hand\n");
    return 2;
  }
  // What the plugin starts (popen, a helper) must not hold the host's socket or memory.
  ::fcntl(3, F_SETFD, FD_CLOEXEC);
  ::fcntl(4, F_SETFD, FD_CLOEXEC);
  ::close_range(5, ~0U, 0);
  ::signal(SIGPIPE, SIG_IGN);
  // Dies with the host: a thread waits on the host's pidfd (readable once it has exited), which holds
  // however this process was started (a wrapper in between included) and even while the plugin hangs.
  long host_pid = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string_view(argv[i]) == "--host-pid") {
      host_pid = std::strtol(argv[i + 1], nullptr, 10);
    }
  }
  const int host = host_pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, host_pid, 0)) : -1;
  if (host_pid > 0 && host < 0) {
    return 1;  // the host is gone already
  }
  if (host >= 0) {
    std::thread([host] {
      pollfd entry{host, POLLIN, 0};
      while (::poll(&entry, 1, -1) < 0 && errno == EINTR) {
      }
      std::_Exit(0);
    }).detach();
  }
  try {
    return crm::host::worker::serve(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crmhost-plugin-worker: %s\n", e.what());
    return 1;
  }
}
