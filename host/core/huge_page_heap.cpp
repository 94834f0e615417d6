#include "core/huge_page_heap.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace crm::host {

namespace {

constexpr std::string_view kHugeTlbTunable = "glibc.malloc.hugetlb";

std::string read_thp_mode() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

}  // namespace

std::optional<std::string> huge_page_heap_tunables(std::string_view thp_mode, const char* tunables,
                                                   const char* opt_out) {
  if (opt_out != nullptr && std::string_view(opt_out) == "off") {
    return std::nullopt;
  }
  // "[always]": every large enough anonymous mapping gets huge pages already; "[never]": none will.
  if (thp_mode.find("[madvise]") == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view current = tunables != nullptr ? tunables : "";
  if (current.find(kHugeTlbTunable) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string value(current);
  if (!value.empty()) {
    value += ':';
  }
  value += kHugeTlbTunable;
  value += "=1";
  return value;
}

void restart_with_huge_page_heap(char** argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)argv;
#else
  // NOLINTBEGIN(concurrency-mt-unsafe): called first in main(), before any thread
  const char* previous = std::getenv("GLIBC_TUNABLES");
  const std::optional<std::string> tunables =
      huge_page_heap_tunables(read_thp_mode(), previous, std::getenv("CRMHOST_HUGE_PAGES"));
  if (!tunables) {
    return;
  }
  const std::optional<std::string> saved = previous != nullptr ? std::optional<std::string>(previous) : std::nullopt;
  if (::setenv("GLIBC_TUNABLES", tunables->c_str(), 1) != 0) {
    return;
  }
  ::execv("/proc/self/exe", argv);
  // The restart failed (no /proc, say): go on as the process started.
  if (saved) {
    ::setenv("GLIBC_TUNABLES", saved->c_str(), 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
  // NOLINTEND(concurrency-mt-unsafe)
#endif
}

}  // namespace crm::host
