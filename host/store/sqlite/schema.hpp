#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

// The SQLite store's schema: migrations from version 0 (a new file) to
// Store::kSchemaVersion, versioned with PRAGMA user_version and marked with
// PRAGMA application_id, and the checks that refuse a file crmhost must not touch.
namespace crm::host::sqlite {

inline constexpr int kSchemaVersion = 18;

// Throws StoreError for a file that is not a crmhost store, is newer than this
// binary or lacks part of the schema; runs before anything is written.
void refuse_unusable(Database& db);
[[nodiscard]] int schema_version(Database& db);
// From the version refuse_unusable accepted up to kSchemaVersion, in one transaction.
void migrate(Database& db);
// Every table, column and named index the migrations make ("table runs",
// "column runs.status", "index alerts_active") with the table it belongs to.
const std::map<std::string, std::string>& expected_schema_objects();
// Throws StoreError naming what of expected_schema_objects() `present` lacks
// (either backend's objects, named alike); `kind_of_store` is "file" or "database".
void require_schema_objects(const Database& db, const std::map<std::string, std::string>& present,
                            std::string_view kind_of_store);

// Indexes a first import may drop and build once at its end (BulkLoadIndexes in
// store/store.hpp): a file that lacks one (an import killed before its end) is
// still a whole store, and gets it back when a Store next opens it.
inline constexpr std::string_view kBulkLoadIndexes[] = {"orders_by_customer"};
// Builds every index of kBulkLoadIndexes the file lacks, as the migrations make it.
void restore_bulk_load_indexes(Database& db);

enum class ColumnType { integer, real, text, bytes };

struct TableColumn {
  std::string name;
  ColumnType type = ColumnType::text;
  int primary_key_position = 0;  // 1-based within the primary key; 0 when not part of it
};

struct TableShape {
  std::string name;
  std::vector<TableColumn> columns;
  bool has_identity_id = false;  // an "id INTEGER PRIMARY KEY" the database assigns
};

// Every table of the schema, in the order the migrations create them (a
// table's foreign keys point to tables before it), with its columns.
const std::vector<TableShape>& schema_tables();

}  // namespace crm::host::sqlite
