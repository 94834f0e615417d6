// Started by huge_page_heap_test.cpp: counts its own starts, restarts as crmhost does, then maps
// 64 MiB of heap and prints what the process ended up with, one "name=value" per line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "core/huge_page_heap.hpp"

namespace {

// Whether the mapping holding `address` is advised for huge pages ("hg" among its VmFlags): what
// glibc's madvise sets, whether or not the kernel had 2 MiB pages free at that moment.
bool advised_for_huge_pages(const void* address) {
  const auto wanted = reinterpret_cast<std::uintptr_t>(address);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = wanted >= begin && wanted < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return (line + " ").find(" hg ") != std::string::npos;
    }
  }
  return false;
}

std::string process_name() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  // NOLINTBEGIN(concurrency-mt-unsafe): one thread
  const char* starts_before = std::getenv("CRM_PROBE_STARTS");
  const int starts = (starts_before != nullptr ? std::atoi(starts_before) : 0) + 1;
  ::setenv("CRM_PROBE_STARTS", std::to_string(starts).c_str(), 1);
  crm::host::restart_with_huge_page_heap(argv);
  constexpr std::size_t kBytes = std::size_t{64} << 20U;
  auto* heap = static_cast<char*>(std::malloc(kBytes));
  if (heap == nullptr) {
    return 1;
  }
  std::memset(heap, 1, kBytes);
  std::printf("starts=%d\n", starts);
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::printf("tunables=%s\n", tunables != nullptr ? tunables : "(unset)");
  const char* mark = std::getenv("CRMHOST_HUGE_PAGES");
  std::printf("crmhost_huge_pages=%s\n", mark != nullptr ? mark : "(unset)");
  std::printf("name=%s\n", process_name().c_str());
  for (int index = 1; index < argc; ++index) {
    std::printf("argument=%s\n", argv[index]);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  }
  std::printf("advised=%d\n", advised_for_huge_pages(heap) ? 1 : 0);
  std::printf("touched=%d\n", heap[kBytes - 1]);
  std::free(heap);
  // NOLINTEND(concurrency-mt-unsafe)
  return 0;
}
