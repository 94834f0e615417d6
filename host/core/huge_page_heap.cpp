#include "core/huge_page_heap.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sys/auxv.h>

namespace crm::host {

// A scoring run of 1,000,000 customers touches about a gigabyte of fresh heap; with 4 KiB pages every
// first touch is a page fault, and on a virtual machine those faults were a third of the run
// (BENCHMARKS.md, "The heap on huge pages").

namespace {

constexpr std::string_view kHugeTlbTunable = "glibc.malloc.hugetlb";
constexpr const char* kOptOutVariable = "CRMHOST_HUGE_PAGES";
constexpr std::string_view kRestartedMark = "restarted";

// A sanitizer's allocator is not glibc's, so the tunable would buy nothing but a second start.
constexpr bool kSanitizedBuild =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#else
    false;
#endif

std::string read_thp_mode() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The program file itself rather than /proc/self/exe: the kernel names a process after the last part
// of the path it was started from, and `ps`, `pgrep` and the journal would show "exe". Not argv[0],
// which may need a PATH search or name another file by now.
std::string program_file() {
  std::array<char, 4096> path{};
  const ssize_t length = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (length <= 0) {
    return "/proc/self/exe";
  }
  std::string file(path.data(), static_cast<std::size_t>(length));
  // Replaced or removed since it started (an upgrade): only /proc/self/exe still reaches it.
  constexpr std::string_view kDeleted = " (deleted)";
  if (file.size() >= kDeleted.size() && file.compare(file.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    return "/proc/self/exe";
  }
  return file;
}

bool under_valgrind() {
  const char* preload = std::getenv("LD_PRELOAD");  // NOLINT(concurrency-mt-unsafe): before any thread
  return preload != nullptr && std::string_view(preload).find("vgpreload") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> huge_page_heap_tunables(std::string_view thp_mode, const char* tunables,
                                                   const char* opt_out) {
  const std::string_view choice = opt_out != nullptr ? opt_out : "";
  if (choice == "off" || choice == "0" || choice == kRestartedMark) {
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
  if constexpr (kSanitizedBuild) {
    return;
  }
  // NOLINTBEGIN(concurrency-mt-unsafe): called first in main(), before any thread
  const char* mark = std::getenv(kOptOutVariable);
  if (mark != nullptr && std::string_view(mark) == kRestartedMark) {
    ::unsetenv(kOptOutVariable);  // this is the restarted image; its children start afresh
    return;
  }
  // AT_SECURE: glibc ignores (and may remove) the tunable. AT_BASE 0: the loader itself is the
  // program, and /proc/self/exe names it, not the program it loaded.
  if (::getauxval(AT_SECURE) != 0 || ::getauxval(AT_BASE) == 0 || under_valgrind()) {
    return;
  }
  const char* previous = std::getenv("GLIBC_TUNABLES");
  const std::optional<std::string> tunables = huge_page_heap_tunables(read_thp_mode(), previous, mark);
  if (!tunables) {
    return;
  }
  const std::optional<std::string> saved = previous != nullptr ? std::optional<std::string>(previous) : std::nullopt;
  if (::setenv("GLIBC_TUNABLES", tunables->c_str(), 1) == 0 &&
      ::setenv(kOptOutVariable, std::string(kRestartedMark).c_str(), 1) == 0) {
    ::execv(program_file().c_str(), argv);
  }
  // The restart failed: go on as the process started.
  ::unsetenv(kOptOutVariable);
  if (saved) {
    ::setenv("GLIBC_TUNABLES", saved->c_str(), 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
  // NOLINTEND(concurrency-mt-unsafe)
}

}  // namespace crm::host
