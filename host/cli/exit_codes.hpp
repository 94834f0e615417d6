#pragma once

namespace crm::host {

// What crmhost's exit status means; scripts rely on these. Documented in README.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // an unexpected error
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitConfig = 3;       // configuration invalid, or database refused
inline constexpr int kExitPartial = 4;      // the job ran, but some plugins were refused
inline constexpr int kExitSyncFailed = 5;   // a connector failed as a whole (bad records alone never do)
inline constexpr int kExitBusy = 6;         // another run, sync or campaigns run holds the store
inline constexpr int kExitCancelled = 130;  // stopped by Ctrl-C or SIGTERM

}  // namespace crm::host
