#pragma once

#include <utility>

#include "store/database.hpp"

namespace crm::host {

// A forward-only scan over the rows of one query, read one at a time into a
// plain `Row`: repositories hand these out so that engines stream large tables
// (10^7 orders) without loading them whole and without seeing SQL. The scan
// owns its prepared statement; text fields of `Row` (string_view) are valid
// until the next call of next().
template <typename Row>
class RowScan {
 public:
  using Reader = void (*)(const Statement&, Row&);

  RowScan(Statement statement, Reader reader) : statement_(std::move(statement)), reader_(reader) {}

  // Reads the next row into `row`; false (row untouched) when there is none.
  bool next(Row& row) {
    if (!statement_.step()) {
      return false;
    }
    reader_(statement_, row);
    return true;
  }

 private:
  Statement statement_;
  Reader reader_;
};

}  // namespace crm::host
