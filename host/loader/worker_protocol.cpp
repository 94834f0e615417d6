#include "loader/worker_protocol.hpp"

#include <poll.h>
#include <unistd.h>

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

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    // MSG_NOSIGNAL: a dead peer is an error to report, not a SIGPIPE that ends the host.
    const ssize_t written = ::send(fd, data, size, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw ProtocolError(fmt::format("the other process closed the connection ({})", std::strerror(errno)));
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

// Waits for input until `deadline` (steady clock; max: for ever). False when the time ran out.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    int timeout_ms = -1;
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready > 0) {
      return true;
    }
    if (ready == 0) {
      return false;
    }
    if (errno != EINTR) {
      throw ProtocolError(fmt::format("waiting for the other process failed ({})", std::strerror(errno)));
    }
  }
}

void read_all(int fd, char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t got = ::recv(fd, data, size, 0);
    if (got == 0) {
      throw ProtocolError("the other process closed the connection");
    }
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw ProtocolError(fmt::format("the other process closed the connection ({})", std::strerror(errno)));
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
  // One buffer and one send for small frames keeps a service call to a single write each way.
  if (payload.size() <= 4096) {
    char buffer[sizeof header + 4096];
    std::memcpy(buffer, header, sizeof header);
    std::memcpy(buffer + sizeof header, payload.data(), payload.size());
    write_all(fd, buffer, sizeof header + payload.size());
    return;
  }
  write_all(fd, reinterpret_cast<const char*>(header), sizeof header);
  write_all(fd, payload.data(), payload.size());
}

std::optional<Frame> read_frame(int fd, int timeout_ms) {
  const auto deadline = timeout_ms < 0 ? std::chrono::steady_clock::time_point::max()
                                       : std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!wait_readable(fd, deadline)) {
    return std::nullopt;
  }
  std::uint32_t header[2] = {0, 0};
  read_all(fd, reinterpret_cast<char*>(header), sizeof header);
  if (header[0] > kMaxFrameBytes) {
    throw ProtocolError(fmt::format("the other process announced a message of {} bytes", header[0]));
  }
  Frame frame;
  frame.type = static_cast<MessageType>(header[1]);
  frame.payload.resize(header[0]);
  read_all(fd, frame.payload.data(), frame.payload.size());
  return frame;
}

SharedArena SharedArena::create(const char* name) {
  SharedArena arena;
  arena.fd_ = ::memfd_create(name, MFD_CLOEXEC);
  if (arena.fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "memfd_create for a plugin worker");
  }
  arena.reserve(kControlBytes);
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
  const std::size_t rounded = (bytes + kArenaStepBytes - 1) / kArenaStepBytes * kArenaStepBytes;
  if (::ftruncate(fd_, static_cast<off_t>(rounded)) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("growing the shared memory of a plugin worker to {} bytes", rounded));
  }
  map(rounded);
}

void SharedArena::follow(std::size_t peer_size) {
  if (peer_size > size_) {
    map(peer_size);
  }
}

void SharedArena::set_cancelled(bool cancelled) {
  std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(base_)).store(cancelled ? 1U : 0U);
}

bool SharedArena::cancelled() const {
  return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(base_)).load() != 0;
}

}  // namespace crm::host::worker
