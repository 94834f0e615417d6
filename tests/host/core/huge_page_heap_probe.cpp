// Started by huge_page_heap_test.cpp: counts its own starts, restarts as crmhost does, then touches
// 64 MiB of heap and prints what the process ended up with, one "name=value" per line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "core/huge_page_heap.hpp"

namespace {

long anon_huge_pages_kib() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line)) {
    if (line.rfind("AnonHugePages:", 0) == 0) {
      return std::strtol(line.c_str() + std::strlen("AnonHugePages:"), nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  // NOLINTBEGIN(concurrency-mt-unsafe): one thread
  const char* starts_before = std::getenv("CRM_PROBE_STARTS");
  const int starts = (starts_before != nullptr ? std::atoi(starts_before) : 0) + 1;
  ::setenv("CRM_PROBE_STARTS", std::to_string(starts).c_str(), 1);
  crm::host::restart_with_huge_page_heap(argv);
  constexpr std::size_t kBytes = 64U << 20U;
  auto* heap = static_cast<char*>(std::malloc(kBytes));  // NOLINT(cppcoreguidelines-no-malloc): glibc's heap itself
  std::memset(heap, 1, kBytes);
  std::printf("starts=%d\n", starts);
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::printf("tunables=%s\n", tunables != nullptr ? tunables : "(unset)");
  for (int index = 1; index < argc; ++index) {
    std::printf("argument=%s\n", argv[index]);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  }
  std::printf("anon_huge_kib=%ld\n", anon_huge_pages_kib());
  std::printf("touched=%d\n", heap[kBytes - 1]);
  std::free(heap);  // NOLINT(cppcoreguidelines-no-malloc)
  // NOLINTEND(concurrency-mt-unsafe)
  return 0;
}
