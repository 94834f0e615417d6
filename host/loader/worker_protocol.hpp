#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// What the host and a plugin worker process (crmhost-plugin-worker) say to
// each other. Both ends are built from this one file, in one build, so the
// protocol has no versions of its own: a worker only ever talks to the host
// it was installed with.
//
// Transport: one connected AF_UNIX stream socket per worker; each message is
// a frame [u32 payload bytes][u32 MessageType][payload]. Bulk data (scoring
// columns, connector batches) does not go through the socket: it crosses in a
// SharedArena both processes map (a memfd), and frames carry offsets into it.
//
// Conversation: the host sends a request and reads frames until the reply.
// While a plugin call runs, the worker may send service_call frames (the
// plugin used a host service: log, config, secrets, checkpoint, quarantine,
// state); the host answers each with service_reply before the reply comes.
namespace crm::host::worker {

enum class MessageType : std::uint32_t {
  // host -> worker
  open_library = 1,  // -> reply: u32 abi version, or failure text
  describe = 2,      // -> reply: the library's descriptors (encode_description)
  create = 3,        // plugin id, config text -> reply: status, error
  destroy = 4,       // -> reply (then the worker exits)
  fetch = 5,         // cursor -> reply: status, error, batch in the arena
  reprocess = 6,     // raw record -> reply as fetch
  score = 7,         // arena layout of input and output -> reply: status, error
  train = 8,         // arena layout -> reply: status, error
  save_model = 9,    // -> reply: status, error, model bytes
  load_model = 10,   // model bytes -> reply: status, error
  send = 11,         // the message, inline -> reply: status, error, failed flags, retry_after_ms
  // worker -> host
  reply = 20,
  service_call = 21,
  // host -> worker, during a call
  service_reply = 22,
};

// Host services a worker forwards, one per crm_host function that needs the host.
enum class Service : std::uint32_t {
  log = 1,
  now_ms = 2,
  config_get = 3,
  secret_get = 4,
  checkpoint_read = 5,
  checkpoint_write = 6,
  report_bad_record = 7,
  is_cancelled = 8,
  config_get_string = 9,
  config_get_int = 10,
  config_get_number = 11,
  config_get_bool = 12,
  config_get_array_length = 13,
  state_get = 14,
  state_put = 15,
  state_delete = 16,
  state_next = 17,
};

// The peer sent something malformed, or stopped in the middle of a message.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The peer closed the socket: it exited or died.
class PeerClosed : public ProtocolError {
 public:
  using ProtocolError::ProtocolError;
};

// Appends little-endian values to a byte string.
class Writer {
 public:
  Writer& u32(std::uint32_t value) { return raw(&value, sizeof value); }
  Writer& u64(std::uint64_t value) { return raw(&value, sizeof value); }
  Writer& i32(std::int32_t value) { return raw(&value, sizeof value); }
  Writer& i64(std::int64_t value) { return raw(&value, sizeof value); }
  Writer& f64(double value) { return raw(&value, sizeof value); }
  Writer& boolean(bool value) { return u32(value ? 1U : 0U); }
  Writer& bytes(std::string_view value) {
    u64(value.size());
    return raw(value.data(), value.size());
  }
  [[nodiscard]] const std::string& data() const { return data_; }
  std::string take() { return std::move(data_); }

 private:
  Writer& raw(const void* source, std::size_t size) {
    data_.append(static_cast<const char*>(source), size);
    return *this;
  }
  std::string data_;
};

// Reads what a Writer wrote; every read is bounds-checked (ProtocolError).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::uint32_t u32() { return read<std::uint32_t>(); }
  std::uint64_t u64() { return read<std::uint64_t>(); }
  std::int32_t i32() { return read<std::int32_t>(); }
  std::int64_t i64() { return read<std::int64_t>(); }
  double f64() { return read<double>(); }
  bool boolean() { return u32() != 0; }
  std::string_view bytes();
  [[nodiscard]] bool at_end() const { return position_ == data_.size(); }

 private:
  template <class T>
  T read() {
    if (data_.size() - position_ < sizeof(T)) {
      throw ProtocolError("a message ended early");
    }
    T value{};
    std::memcpy(&value, data_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }
  std::string_view data_;
  std::size_t position_ = 0;
};

struct Frame {
  MessageType type = MessageType::reply;
  std::string payload;
};

// Frame I/O on a connected stream socket. Not thread-safe: callers serialise
// (one call at a time per worker). Once a frame has begun, its rest must move
// within kFrameCompletionMs, so a peer that stops mid-message cannot block the
// other side for ever (ProtocolError).
void write_frame(int fd, MessageType type, std::string_view payload);
// Waits at most `timeout_ms` (negative: for ever) for a frame to begin; nullopt
// when the time ran out before its first byte. Throws PeerClosed when the peer
// closed the socket, ProtocolError for a frame of an unknown type or larger
// than kMaxFrameBytes, or one left unfinished.
std::optional<Frame> read_frame(int fd, int timeout_ms);

inline constexpr std::uint32_t kMaxFrameBytes = 64U << 20;
inline constexpr int kFrameCompletionMs = 10'000;

// A memfd both processes map, resized by whichever side needs more room; the
// other side remaps when a frame tells it the new size. The first kControlBytes
// hold shared flags (the cancellation flag the worker's is_cancelled reads);
// bulk data starts after them.
class SharedArena {
 public:
  static constexpr std::size_t kControlBytes = 4096;
  // The most the arena may grow to (batches and scoring columns are well below).
  static constexpr std::size_t kMaxBytes = std::size_t{16} << 30;

  // Creates a new memfd (host side).
  static SharedArena create(const char* name);
  // Adopts an inherited memfd (worker side).
  static SharedArena adopt(int fd);

  SharedArena() = default;
  SharedArena(SharedArena&& other) noexcept;
  SharedArena& operator=(SharedArena&& other) noexcept;
  SharedArena(const SharedArena&) = delete;
  SharedArena& operator=(const SharedArena&) = delete;
  ~SharedArena();

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] char* base() const { return base_; }
  // Grows the file (and this mapping) to hold at least `bytes`, in whole MiB steps.
  void reserve(std::size_t bytes);
  // Maps the file as the peer grew it (a no-op when this mapping is as large). The size is the
  // file's own, never a number the peer claims, and the file cannot shrink (sealed), so no page of
  // the mapping can vanish under the host.
  void follow();
  // The shared cancellation flag (0 or 1), read and written without a lock.
  void set_cancelled(bool cancelled);
  [[nodiscard]] bool cancelled() const;

 private:
  void map(std::size_t bytes);
  int fd_ = -1;
  std::size_t size_ = 0;
  char* base_ = nullptr;
};

// Rounds `offset` up to a multiple of 16, the alignment of every block placed in the arena.
constexpr std::size_t align16(std::size_t offset) {
  return (offset + 15U) & ~static_cast<std::size_t>(15U);
}

}  // namespace crm::host::worker
