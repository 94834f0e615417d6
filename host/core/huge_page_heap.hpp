#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crm::host {

// Where the kernel gives transparent huge pages only to memory that asks for them (the
// transparent_hugepage mode "madvise", Debian's default), glibc's malloc asks for them when the
// tunable glibc.malloc.hugetlb=1 is set. Glibc reads its tunables from GLIBC_TUNABLES once, when the
// process starts, so a program that wants them starts itself again with the variable set.
//
// Opting out: CRMHOST_HUGE_PAGES=off (or 0) in the environment.

// The GLIBC_TUNABLES value to start again with, or nothing when the process should go on as it is:
// `thp_mode` is the content of /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never"),
// `tunables` the current GLIBC_TUNABLES (nullptr: unset), `opt_out` CRMHOST_HUGE_PAGES (nullptr: unset;
// "off" or "0" opt out, "restarted" marks the image the restart started). The other tunables are
// kept; a value that already names glibc.malloc.hugetlb is the user's choice and is left alone.
[[nodiscard]] std::optional<std::string> huge_page_heap_tunables(std::string_view thp_mode, const char* tunables,
                                                                 const char* opt_out);

// Call first in main(), before any thread starts. When huge_page_heap_tunables() says so, replaces
// the process with the same program file (the target of /proc/self/exe, so the process keeps its
// name) and the same arguments; the process id, open files, signal dispositions and the rest of the
// environment stay. The new image finds CRMHOST_HUGE_PAGES=restarted, removes it and goes on: one
// restart at most, even where glibc drops GLIBC_TUNABLES.
//
// Returns without restarting:
// - in sanitizer builds, whose allocator is not glibc's;
// - for a secure-execution start (setuid, file capabilities), where glibc ignores the tunable;
// - when the program was started through the dynamic loader (ld.so ./crmhost), which the restart
//   could not repeat;
// - under valgrind, which the new image would leave;
// - when the restart fails (no /proc): the process goes on with 4 KiB pages.
void restart_with_huge_page_heap(char** argv);

}  // namespace crm::host
