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
// Why: a scoring run of 1,000,000 customers touches about a gigabyte of fresh heap, and with 4 KiB
// pages every touch is a page fault; on a virtual machine those faults were a third of the run
// (BENCHMARKS.md, "The heap on huge pages").
//
// Opting out: CRMHOST_HUGE_PAGES=off in the environment (for example under valgrind, which the
// restart would leave).

// The GLIBC_TUNABLES value to start again with, or nothing when the process should go on as it is:
// `thp_mode` is the content of /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never"),
// `tunables` the current GLIBC_TUNABLES (nullptr: unset), `opt_out` CRMHOST_HUGE_PAGES (nullptr: unset).
// The other tunables are kept; a value that already names glibc.malloc.hugetlb is the user's choice
// and is left alone, which also ends the restart after one round.
[[nodiscard]] std::optional<std::string> huge_page_heap_tunables(std::string_view thp_mode, const char* tunables,
                                                                 const char* opt_out);

// Call first in main(), before any thread starts: replaces the process with the same program and
// arguments (execv of /proc/self/exe; the process id, open files and environment stay) when
// huge_page_heap_tunables() says so. Returns when it does not, or when the restart fails (the
// process then goes on with 4 KiB pages). Does nothing in sanitizer builds, whose allocator is not
// glibc's.
void restart_with_huge_page_heap(char** argv);

}  // namespace crm::host
