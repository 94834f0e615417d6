#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace crm::host {

struct TableCopy {
  std::string table;
  std::int64_t rows = 0;
};

struct StoreCopyResult {
  std::vector<TableCopy> tables;  // in schema order
  std::int64_t rows = 0;
  bool verified = false;  // every row read back from the target equals its source row
};

// Copies every row of `from` into `to` (an empty store of the same schema
// version, e.g. a new PostgreSQL database), keeping ids, in one transaction
// on the target; then reads both back in primary-key order and compares them
// value by value. Throws StoreError naming the table (and the row) on any
// difference, or when `to` already holds rows. `progress(table, rows)` after each table.
StoreCopyResult copy_store(Store& from, Store& to,
                           const std::function<void(const std::string&, std::int64_t)>& progress = {});

}  // namespace crm::host
