#pragma once

#include <stdexcept>

namespace crm::host {

// The application core's refusals, by what the caller got wrong. Callers map
// them to their own terms (the CLI to exit codes 2, 8 and 4; a REST API to
// 400, 404 and 409). Besides these the core lets through ConfigError (the
// configuration), StoreError (the database) and JobLockBusy (another job).

// A value in the request that cannot be right: a malformed date or customer id.
class InvalidRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the request names does not exist, or is not in a state for it.
class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The job cannot do anything because plugins it needs were refused.
class PluginsRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace crm::host
