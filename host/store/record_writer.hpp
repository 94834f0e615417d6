#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crm/connector.h"
#include "store/database.hpp"
#include "store/flat_id_map.hpp"

namespace crm::host {

// A record set the host cannot read (unknown type, struct smaller than ABI 1.0's).
class RecordSetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct WriteCounts {
  std::uint64_t inserted = 0;
  std::uint64_t updated = 0;
  std::uint64_t unchanged = 0;

  WriteCounts& operator+=(const WriteCounts& other) {
    inserted += other.inserted;
    updated += other.updated;
    unchanged += other.unchanged;
    return *this;
  }
  [[nodiscard]] std::uint64_t total() const { return inserted + updated + unchanged; }
};

// A record the writer refused to store (an id it cannot hold), to be
// quarantined by the caller; the rest of its batch is written.
struct RejectedRecord {
  std::string record;  // the record's ids, unprintable bytes escaped as \xHH
  std::string reason;  // names the record, the field and the byte position
};

// Why `id` cannot be an id: "" when it can, otherwise e.g. "a NUL byte at byte 3".
// Ids may not hold NUL, C0 or C1 control characters, DEL or invalid UTF-8:
// they are keys, printed in reports and terminals, and compared byte by byte.
std::string id_fault(std::string_view id);

// Match keys that link customers of different sources into one.
enum class MatchKey { tax_id, email_domain, name };

// Writes connector record sets into the store for one source (connector id):
// insert by (source, external_id), or update when a field changed. The
// caller owns the transaction.
class RecordWriter {
 public:
  RecordWriter(Database& db, std::string source, std::vector<MatchKey> match_keys);
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;
  ~RecordWriter();

  // Throws RecordSetError before writing anything of a set it cannot read.
  // A record with an id id_fault() refuses is not written but appended to `rejected`.
  WriteCounts write(const crm_record_set* sets, std::size_t set_count, std::vector<RejectedRecord>& rejected);

  // Forgets cached customer ids (after a rollback).
  void reset_cache() { customer_ids_.clear(); }

 private:
  struct TableWriter;
  // PostgreSQL: sets at least this large go through COPY and one merge statement.
  static constexpr std::size_t kBulkMinimum = 64;
  // False (nothing written) when the set repeats a record: the caller writes it row by row.
  bool write_bulk(TableWriter& table, const crm_record_set& set, std::vector<RejectedRecord>& rejected,
                  WriteCounts& counts);
  std::int64_t customer_id(std::string_view external_id);
  // PostgreSQL: fills the cache for every id of `external_ids` in two statements.
  void resolve_customers(std::vector<std::string_view> external_ids);
  void link_customer(std::string_view external_id, const crm_customer_record& record);

  Database& db_;
  std::string source_;
  std::vector<MatchKey> match_keys_;
  std::vector<std::unique_ptr<TableWriter>> tables_;
  FlatIdMap customer_ids_;
  Statement find_customer_;
  Statement insert_placeholder_;
  Statement set_unified_id_;
  std::vector<Statement> find_link_;  // one per match key
};

// "tax_id", "email_domain", "name".
std::vector<MatchKey> parse_match_keys(const std::vector<std::string>& names);

}  // namespace crm::host
