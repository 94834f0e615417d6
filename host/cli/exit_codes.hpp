#pragma once

#include <array>

namespace crm::host {

// What crmhost's exit status means; scripts rely on these. The one source of
// the codes: `crmhost --help` prints kExitCodes, and README.md's table must
// list the same (a test compares them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // an unexpected error
inline constexpr int kExitUsage = 2;        // bad command line, a bad value included (a date, a customer id's form)
inline constexpr int kExitConfig = 3;       // configuration invalid, or database refused
inline constexpr int kExitPartial = 4;      // the job ran, but plugins it needed were refused
inline constexpr int kExitSyncFailed = 5;   // a connector failed as a whole (bad records alone never do)
inline constexpr int kExitBusy = 6;         // another run, sync or campaigns run holds the store
inline constexpr int kExitPluginEnded = 7;  // a plugin ended the process (exit()) inside a call into it
inline constexpr int kExitNotFound = 8;     // what the command names does not exist, or is not in a state for it
inline constexpr int kExitPluginHung =
    9;  // an in-process plugin call passed its deadline (the line on stderr names it)
inline constexpr int kExitValidationFailed = 10;  // `plugins validate`: a plugin failed a check of its contract
inline constexpr int kExitCancelled = 130;        // stopped by Ctrl-C (SIGINT)
inline constexpr int kExitTerminated = 143;       // stopped by SIGTERM

struct ExitCodeMeaning {
  int code;
  const char* meaning;
};

inline constexpr std::array<ExitCodeMeaning, 13> kExitCodes = {{
    {kExitOk, "done"},
    {kExitFailure, "unexpected failure"},
    {kExitUsage, "bad command line or option value (a date, a number, a customer id's form)"},
    {kExitConfig, "configuration invalid, or database refused"},
    {kExitPartial, "the job ran, but plugins it needed were refused (`crmhost plugins` says why)"},
    {kExitSyncFailed, "a connector failed as a whole"},
    {kExitBusy, "another job holds the store"},
    {kExitPluginEnded, "a plugin ended the process inside a call (the line on stderr names it)"},
    {kExitNotFound, "not found: no such customer, alert, campaign or task, or not in a state for the command"},
    {kExitPluginHung,
     "a plugin in the host's process did not return within its deadline (the line on stderr names it; run it with "
     "\"isolation\": \"process\" to have it stopped and restarted instead)"},
    {kExitValidationFailed, "`plugins validate`: a plugin failed a check of its contract (the FAIL lines say which)"},
    {kExitCancelled, "stopped by Ctrl-C (SIGINT)"},
    {kExitTerminated, "stopped by SIGTERM"},
}};

// A plugin's crash (SIGSEGV, SIGBUS, SIGFPE, SIGABRT) is not an exit code:
// the process dies of the signal (a shell shows 128 + its number), after one
// line on stderr naming the plugin and the call.

}  // namespace crm::host
