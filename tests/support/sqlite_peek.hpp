#pragma once

#include <cstdint>
#include <filesystem>
#include <sqlite3.h>
#include <string>

#include "store/database.hpp"

namespace crm::host::testing {

// Reads one number while a crmhost job runs, as a bystander: read-only,
// without creating the file or changing its journal mode, so the poll never
// takes a lock the job needs to set its store up. -1 when the file does not
// exist yet, cannot be read, or the query gives no row.
inline std::int64_t peek(const std::filesystem::path& db, const char* sql) {
  if (!std::filesystem::exists(db)) {
    return -1;
  }
  sqlite3* connection = nullptr;
  std::int64_t value = -1;
  if (sqlite3_open_v2(db.c_str(), &connection, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(connection, sql, -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      value = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(connection);
  return value;
}

// The same for a store given by locator: a SQLite path as above, or a
// PostgreSQL URL (a connection of its own, which takes no lock a job needs).
inline std::int64_t peek(const std::string& locator, const char* sql) {
  if (DatabaseLocator::parse(locator).kind == DatabaseKind::sqlite) {
    return peek(std::filesystem::path(locator), sql);
  }
  try {
    Database database(locator);
    Statement statement = database.prepare(sql);
    return statement.step() ? statement.column_int64(0) : -1;
  } catch (const DatabaseError&) {
    return -1;
  }
}

}  // namespace crm::host::testing
