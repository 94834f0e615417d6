#pragma once

#include <string_view>

#include "store/database.hpp"

// The PostgreSQL store's schema: the same tables, columns and index names as
// the SQLite store's (so `crmhost store copy` moves rows one to one), with
// PostgreSQL's types, versioned in a table crm_schema of the connection's
// current schema (search_path).
namespace crm::host::postgresql {

// Throws StoreError for a database (schema) that holds another application's
// tables, is newer than this binary or lacks part of the schema.
void refuse_unusable(Database& db);
[[nodiscard]] int schema_version(Database& db);
// Up to Store::kSchemaVersion in one transaction, under an advisory lock so
// two hosts opening a new database at once migrate it once.
void migrate(Database& db);

// Columns that are BYTEA here and TEXT or BLOB on SQLite: bytes that need not be UTF-8 text.
bool is_bytes_column(std::string_view table, std::string_view column);

}  // namespace crm::host::postgresql
