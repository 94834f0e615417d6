#pragma once

#include <stdexcept>

namespace crm::host {

// The store cannot be used as it is (not a crmhost store, newer than this
// binary, damaged); the message names it and what would fix it.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace crm::host
