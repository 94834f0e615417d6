#include "store/store_copy.hpp"

#include <cmath>
#include <fmt/format.h>
#include <optional>

#include "store/postgresql/connection.hpp"
#include "store/postgresql/schema.hpp"
#include "store/sqlite/schema.hpp"

namespace crm::host {
namespace {

using sqlite::ColumnType;
using sqlite::TableShape;

std::string column_list(const TableShape& table) {
  std::string list;
  for (const auto& column : table.columns) {
    list += fmt::format("{}{}", list.empty() ? "" : ", ", column.name);
  }
  return list;
}

// Text keys compare byte by byte on both sides (SQLite's BINARY, PostgreSQL's
// "C"), whatever collation the PostgreSQL database was created with.
std::string key_order(const Database& db, const TableShape& table) {
  std::vector<std::string> keys;
  for (int position = 1;; ++position) {
    bool found = false;
    for (const auto& column : table.columns) {
      if (column.primary_key_position == position) {
        // BYTEA keys (plugin_state) compare bytewise already and take no collation.
        const bool text = column.type == ColumnType::text && db.kind() == DatabaseKind::postgresql &&
                          !postgresql::is_bytes_column(table.name, column.name);
        keys.push_back(text ? column.name + " COLLATE \"C\"" : column.name);
        found = true;
      }
    }
    if (!found) {
      break;
    }
  }
  if (keys.empty()) {
    return column_list(table);
  }
  std::string order;
  for (const std::string& key : keys) {
    order += fmt::format("{}{}", order.empty() ? "" : ", ", key);
  }
  return order;
}

std::int64_t count_rows(Database& db, const std::string& table) {
  Statement count = db.prepare(fmt::format("SELECT count(*) FROM {}", table));
  return count.step() ? count.column_int64(0) : 0;
}

bool is_bytes(const Database& db, const TableShape& table, const sqlite::TableColumn& column) {
  return column.type == ColumnType::bytes ||
         (db.kind() == DatabaseKind::postgresql && postgresql::is_bytes_column(table.name, column.name));
}

std::int64_t copy_table(Database& source, Database& target, const TableShape& table) {
  Statement read = source.prepare(
      fmt::format("SELECT {} FROM {} ORDER BY {}", column_list(table), table.name, key_order(source, table)));
  std::int64_t rows = 0;
  if (target.kind() == DatabaseKind::postgresql) {
    std::vector<std::string> names;
    for (const auto& column : table.columns) {
      names.push_back(column.name);
    }
    postgresql::CopyIn copy(*target.postgresql_connection(), table.name, names);
    while (read.step()) {
      for (std::size_t i = 0; i < table.columns.size(); ++i) {
        const auto index = static_cast<int>(i);
        const auto& column = table.columns[i];
        if (read.column_is_null(index)) {
          copy.add_null();
        } else if (is_bytes(target, table, column)) {
          copy.add_bytes(read.column_view(index));
        } else if (column.type == ColumnType::integer) {
          copy.add_int64(read.column_int64(index));
        } else if (column.type == ColumnType::real) {
          copy.add_double(read.column_double(index));
        } else {
          copy.add_text(read.column_view(index));
        }
      }
      copy.end_row();
      ++rows;
    }
    copy.finish();
    if (table.has_identity_id && rows > 0) {
      // Ids were copied as they were: new rows continue after the largest.
      target.exec(
          fmt::format("SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT max(id) FROM {0}))", table.name));
    }
    return rows;
  }
  std::string placeholders;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    placeholders += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 1);
  }
  Statement write =
      target.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", table.name, column_list(table), placeholders));
  while (read.step()) {
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const auto index = static_cast<int>(i);
      const auto& column = table.columns[i];
      if (read.column_is_null(index)) {
        write.bind_null(index + 1);
      } else if (column.type == ColumnType::integer) {
        write.bind(index + 1, read.column_int64(index));
      } else if (column.type == ColumnType::real) {
        write.bind(index + 1, read.column_double(index));
      } else {
        write.bind(index + 1, read.column_view(index));
      }
    }
    write.run();
    ++rows;
  }
  return rows;
}

bool same_value(const Statement& a, const Statement& b, int index, ColumnType type) {
  if (a.column_is_null(index) || b.column_is_null(index)) {
    return a.column_is_null(index) == b.column_is_null(index);
  }
  switch (type) {
    case ColumnType::integer:
      return a.column_int64(index) == b.column_int64(index);
    case ColumnType::real: {
      const double x = a.column_double(index);
      const double y = b.column_double(index);
      return x == y || (std::isnan(x) && std::isnan(y));
    }
    default:
      return a.column_view(index) == b.column_view(index);
  }
}

void verify_table(Database& source, Database& target, const TableShape& table) {
  const auto query = [&](Database& db) {
    return db.prepare(
        fmt::format("SELECT {} FROM {} ORDER BY {}", column_list(table), table.name, key_order(db, table)));
  };
  Statement left = query(source);
  Statement right = query(target);
  std::int64_t row = 0;
  while (true) {
    const bool has_left = left.step();
    const bool has_right = right.step();
    if (!has_left && !has_right) {
      return;
    }
    ++row;
    if (has_left != has_right) {
      throw StoreError(fmt::format("copy check failed: {} has {} rows in {} than in {}", table.name,
                                   has_left ? "fewer" : "more", target.path(), source.path()));
    }
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      if (!same_value(left, right, static_cast<int>(i), table.columns[i].type)) {
        throw StoreError(
            fmt::format("copy check failed: {} row {} (in key order), column {}, differs between {} and {}", table.name,
                        row, table.columns[i].name, source.path(), target.path()));
      }
    }
  }
}

}  // namespace

StoreCopyResult copy_store(Store& from, Store& to,
                           const std::function<void(const std::string&, std::int64_t)>& progress) {
  Database& source = from.database();
  Database& target = to.database();
  for (const TableShape& table : sqlite::schema_tables()) {
    if (const std::int64_t rows = count_rows(target, table.name); rows > 0) {
      throw StoreError(fmt::format("{} is not empty ({} holds {} rows): copy into a new, empty store", target.path(),
                                   table.name, rows));
    }
  }
  StoreCopyResult result;
  {
    Transaction transaction(target);
    for (const TableShape& table : sqlite::schema_tables()) {
      const std::int64_t rows = copy_table(source, target, table);
      result.tables.push_back({table.name, rows});
      result.rows += rows;
      if (progress) {
        progress(table.name, rows);
      }
    }
    transaction.commit();
  }
  for (const TableShape& table : sqlite::schema_tables()) {
    verify_table(source, target, table);
  }
  result.verified = true;
  return result;
}

}  // namespace crm::host
