#include "loader/worker_protocol.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <system_error>
#include <utility>

namespace crm::host::worker {
namespace {

constexpr std::size_t kArenaStepBytes = std::size_t{1} << 20;

using SteadyClock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` or `deadline` (max: for ever) passes. False when the time ran out.
bool wait_ready(int fd, short events, SteadyClock::time_point deadline) {
  while (true) {
    int timeout_ms = -1;
    if (deadline != SteadyClock::time_point::max()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
    }
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready > 0) {
      return true;
    }
    if (ready == 0) {
      if (deadline != SteadyClock::time_point::max() && SteadyClock::now() >= deadline) {
        return false;
      }
      continue;
    }
    if (errno != EINTR) {
      throw ProtocolError(fmt::format("waiting for the other process failed ({})", std::strerror(errno)));
    }
  }
}

void write_all(int fd, const char* data, std::size_t size, SteadyClock::time_point deadline) {
  while (size > 0) {
    if (!wait_ready(fd, POLLOUT, deadline)) {
      throw ProtocolError("the other process stopped reading in the middle of a message");
    }
    // MSG_NOSIGNAL: a dead peer is an error to report, not a SIGPIPE that ends the host.
    const ssize_t written = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      throw PeerClosed(fmt::format("the other process closed the connection ({})", std::strerror(errno)));
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

void read_all(int fd, char* data, std::size_t size, SteadyClock::time_point deadline) {
  while (size > 0) {
    if (!wait_ready(fd, POLLIN, deadline)) {
      throw ProtocolError("the other process stopped in the middle of a message");
    }
    const ssize_t got = ::recv(fd, data, size, MSG_DONTWAIT);
    if (got == 0) {
      throw PeerClosed("the other process closed the connection");
    }
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      throw PeerClosed(fmt::format("the other process closed the connection ({})", std::strerror(errno)));
    }
    data += got;
    size -= static_cast<std::size_t>(got);
  }
}

}  // namespace

std::string_view Reader::bytes() {
  const std::uint64_t size = u64();
  if (data_.size() - position_ < size) {
    throw ProtocolError("a message ended early");
  }
  const std::string_view value = data_.substr(position_, size);
  position_ += size;
  return value;
}

void write_frame(int fd, MessageType type, std::string_view payload) {
  if (payload.size() > kMaxFrameBytes) {
    throw ProtocolError(
        fmt::format("a message of {} bytes is larger than the {} a frame may carry", payload.size(), kMaxFrameBytes));
  }
  std::uint32_t header[2] = {static_cast<std::uint32_t>(payload.size()), static_cast<std::uint32_t>(type)};
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(kFrameCompletionMs);
  // One buffer and one send for small frames keeps a service call to a single write each way.
  if (payload.size() <= 4096) {
    char buffer[sizeof header + 4096];
    std::memcpy(buffer, header, sizeof header);
    if (!payload.empty()) {
      std::memcpy(buffer + sizeof header, payload.data(), payload.size());
    }
    write_all(fd, buffer, sizeof header + payload.size(), deadline);
    return;
  }
  write_all(fd, reinterpret_cast<const char*>(header), sizeof header, deadline);
  write_all(fd, payload.data(), payload.size(), deadline);
}

std::optional<Frame> read_frame(int fd, int timeout_ms) {
  const auto start_deadline =
      timeout_ms < 0 ? SteadyClock::time_point::max() : SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  if (!wait_ready(fd, POLLIN, start_deadline)) {
    return std::nullopt;
  }
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(kFrameCompletionMs);
  std::uint32_t header[2] = {0, 0};
  read_all(fd, reinterpret_cast<char*>(header), sizeof header, deadline);
  const auto type = static_cast<MessageType>(header[1]);
  const bool known = (header[1] >= static_cast<std::uint32_t>(MessageType::open_library) &&
                      header[1] <= static_cast<std::uint32_t>(MessageType::send)) ||
                     (header[1] >= static_cast<std::uint32_t>(MessageType::reply) &&
                      header[1] <= static_cast<std::uint32_t>(MessageType::service_reply));
  if (!known) {
    throw ProtocolError(fmt::format("a message of unknown type {}", header[1]));
  }
  if (header[0] > kMaxFrameBytes) {
    throw ProtocolError(
        fmt::format("a message of {} bytes, more than the {} one may carry", header[0], kMaxFrameBytes));
  }
  Frame frame;
  frame.type = type;
  frame.payload.resize(header[0]);
  read_all(fd, frame.payload.data(), frame.payload.size(), deadline);
  return frame;
}

SharedArena SharedArena::create(const char* name) {
  SharedArena arena;
  arena.fd_ = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (arena.fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "memfd_create for a plugin worker");
  }
  arena.reserve(kControlBytes);
  // Growing stays possible; shrinking, which would make the host's mapping fault, is not.
  if (::fcntl(arena.fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    throw std::system_error(errno, std::generic_category(), "sealing a plugin worker's shared memory");
  }
  return arena;
}

SharedArena SharedArena::adopt(int fd) {
  SharedArena arena;
  arena.fd_ = fd;
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    throw std::system_error(errno, std::generic_category(), "fstat of the shared arena");
  }
  arena.map(static_cast<std::size_t>(status.st_size));
  return arena;
}

SharedArena::SharedArena(SharedArena&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      size_(std::exchange(other.size_, 0)),
      base_(std::exchange(other.base_, nullptr)) {}

SharedArena& SharedArena::operator=(SharedArena&& other) noexcept {
  if (this != &other) {
    this->~SharedArena();
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
    base_ = std::exchange(other.base_, nullptr);
  }
  return *this;
}

SharedArena::~SharedArena() {
  if (base_ != nullptr) {
    ::munmap(base_, size_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void SharedArena::map(std::size_t bytes) {
  if (bytes == size_ && base_ != nullptr) {
    return;
  }
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (mapped == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(), fmt::format("mapping {} bytes of shared memory", bytes));
  }
  if (base_ != nullptr) {
    ::munmap(base_, size_);
  }
  base_ = static_cast<char*>(mapped);
  size_ = bytes;
}

void SharedArena::reserve(std::size_t bytes) {
  if (bytes <= size_) {
    return;
  }
  if (bytes > kMaxBytes) {
    throw ProtocolError(fmt::format("{} bytes of shared memory asked, past the {} allowed", bytes, kMaxBytes));
  }
  const std::size_t rounded = (bytes + kArenaStepBytes - 1) / kArenaStepBytes * kArenaStepBytes;
  if (::ftruncate(fd_, static_cast<off_t>(rounded)) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("growing the shared memory of a plugin worker to {} bytes", rounded));
  }
  map(rounded);
}

void SharedArena::follow() {
  struct stat status {};
  if (::fstat(fd_, &status) != 0) {
    throw std::system_error(errno, std::generic_category(), "fstat of a plugin worker's shared memory");
  }
  const auto file_size = static_cast<std::size_t>(status.st_size);
  if (file_size > kMaxBytes) {
    throw ProtocolError(
        fmt::format("the worker grew its shared memory to {} bytes, past the {} allowed", file_size, kMaxBytes));
  }
  if (file_size > size_) {
    map(file_size);
  }
}

void SharedArena::set_cancelled(bool cancelled) {
  std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(base_)).store(cancelled ? 1U : 0U);
}

bool SharedArena::cancelled() const {
  return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(base_)).load() != 0;
}

}  // namespace crm::host::worker
