#include "core/huge_page_heap.hpp"

#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace crm::host {
namespace {

TEST(HugePageHeap, AsksGlibcForHugePagesOnlyWhereTheKernelWaitsToBeAsked) {
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never\n", nullptr, nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(huge_page_heap_tunables("[always] madvise never\n", nullptr, nullptr), std::nullopt);
  EXPECT_EQ(huge_page_heap_tunables("always madvise [never]\n", nullptr, nullptr), std::nullopt);
  EXPECT_EQ(huge_page_heap_tunables("", nullptr, nullptr), std::nullopt);  // no such file: an old or other kernel
}

TEST(HugePageHeap, KeepsTheOtherTunablesAndLeavesAnExplicitChoiceAlone) {
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", "glibc.malloc.check=3", nullptr),
            "glibc.malloc.check=3:glibc.malloc.hugetlb=1");
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", "", nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", "glibc.malloc.hugetlb=0", nullptr), std::nullopt);
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", "glibc.malloc.check=3:glibc.malloc.hugetlb=1", nullptr),
            std::nullopt);
}

TEST(HugePageHeap, CrmhostHugePagesOffOptsOutAndTheRestartedImageNeverRestartsAgain) {
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", nullptr, "off"), std::nullopt);
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", nullptr, "0"), std::nullopt);
  // Where glibc drops GLIBC_TUNABLES (a secure-execution start), the mark alone ends the restart.
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", nullptr, "restarted"), std::nullopt);
  EXPECT_EQ(huge_page_heap_tunables("always [madvise] never", nullptr, "on"), "glibc.malloc.hugetlb=1");
}

struct ProbeOutput {
  int exit_code = -1;
  std::map<std::string, std::string> values;
  std::vector<std::string> arguments;
};

ProbeOutput run_probe(const std::string& environment) {
  const testing::ShellResult run = testing::run_shell(
      fmt::format("env -u GLIBC_TUNABLES -u CRMHOST_HUGE_PAGES -u CRM_PROBE_STARTS {} '{}' 'one arg' two 2>&1",
                  environment, CRM_HUGE_PAGE_PROBE));
  ProbeOutput result;
  result.exit_code = run.exit_code;
  std::istringstream lines(run.output);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t equals = line.find('=');
    if (equals == std::string::npos) {
      continue;
    }
    const std::string name = line.substr(0, equals);
    const std::string value = line.substr(equals + 1);
    if (name == "argument") {
      result.arguments.push_back(value);
    } else {
      result.values[name] = value;
    }
  }
  return result;
}

std::string this_machines_thp_mode() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#else
    false;
#endif

// The probe restarts as crmhost does. What it must end with depends on this machine's kernel (and
// on the build: a sanitizer's allocator is not glibc's), so the expectation is derived from both.
TEST(HugePageHeap, AProgramStartsAgainOnceWithItsArgumentsAndItsHeapOnHugePages) {
  const bool restarts = !kSanitized && this_machines_thp_mode().find("[madvise]") != std::string::npos;
  const ProbeOutput probe = run_probe("GLIBC_TUNABLES=glibc.malloc.check=0");
  ASSERT_EQ(probe.exit_code, 0);
  EXPECT_EQ(probe.arguments, (std::vector<std::string>{"one arg", "two"}));
  // The program file is started again, not /proc/self/exe: the process keeps its name (ps, pgrep).
  EXPECT_EQ(probe.values.at("name"), "crm_huge_page_h");  // the kernel keeps 15 characters
  EXPECT_EQ(probe.values.at("crmhost_huge_pages"), "(unset)");
  if (restarts) {
    EXPECT_EQ(probe.values.at("starts"), "2");
    EXPECT_EQ(probe.values.at("tunables"), "glibc.malloc.check=0:glibc.malloc.hugetlb=1");
    // 64 MiB: glibc maps it on its own and advises it for huge pages.
    EXPECT_EQ(probe.values.at("advised"), "1");
  } else {
    EXPECT_EQ(probe.values.at("starts"), "1");
    EXPECT_EQ(probe.values.at("tunables"), "glibc.malloc.check=0");
    EXPECT_EQ(probe.values.at("advised"), "0");
  }
}

TEST(HugePageHeap, AnExplicitHugeTlbChoiceIsKeptWithoutARestart) {
  const ProbeOutput probe = run_probe("GLIBC_TUNABLES=glibc.malloc.hugetlb=0");
  ASSERT_EQ(probe.exit_code, 0);
  EXPECT_EQ(probe.values.at("starts"), "1");
  EXPECT_EQ(probe.values.at("tunables"), "glibc.malloc.hugetlb=0");
  EXPECT_EQ(probe.values.at("advised"), "0");
}

TEST(HugePageHeap, CrmhostHugePagesOffKeepsTheProcessAsItStarted) {
  const ProbeOutput probe = run_probe("CRMHOST_HUGE_PAGES=off");
  ASSERT_EQ(probe.exit_code, 0);
  EXPECT_EQ(probe.values.at("starts"), "1");
  EXPECT_EQ(probe.values.at("tunables"), "(unset)");
  EXPECT_EQ(probe.values.at("crmhost_huge_pages"), "off");
  EXPECT_EQ(probe.values.at("advised"), "0");
  EXPECT_EQ(probe.arguments, (std::vector<std::string>{"one arg", "two"}));
}

// Through the dynamic loader, /proc/self/exe names the loader: restarting it would start the loader
// on the program's first argument.
TEST(HugePageHeap, AProgramStartedThroughTheDynamicLoaderGoesOnWithoutARestart) {
  const ProbeOutput probe = run_probe("/lib64/ld-linux-x86-64.so.2");
  ASSERT_EQ(probe.exit_code, 0);
  EXPECT_EQ(probe.values.at("starts"), "1");
  EXPECT_EQ(probe.values.at("tunables"), "(unset)");
  EXPECT_EQ(probe.arguments, (std::vector<std::string>{"one arg", "two"}));
}

}  // namespace
}  // namespace crm::host
