#pragma once

#include "store/database.hpp"

namespace crm::host {

// Connection settings that a large operation on a SQLite store changes for its length and
// restores when the guard ends (the defaults are set where Database opens the file). Not
// thread-safe: a guard belongs to the thread that uses the connection. No effect on PostgreSQL.

// For a transaction that writes far more pages than the page cache holds (a score run's rows):
// memory-mapped reads are off while the guard lives. With them on, SQLite looks every read-only
// page fetch up in the WAL's index before its page cache (the foreign-key check of each inserted
// row makes such fetches), and that lookup walks the index of every frame written since the last
// checkpoint, so its cost grows with the transaction: storing a run of 2,000,000 customers spent
// 17 % of its time there, 2 % without (BENCHMARKS.md). Reads go through the page cache instead,
// which grows from 64 to 256 MiB while the guard lives, so that the pages the transaction keeps
// changing are not written to the WAL and read back from it before the commit.
class LargeWrites {
 public:
  explicit LargeWrites(Database& db);
  LargeWrites(const LargeWrites&) = delete;
  LargeWrites& operator=(const LargeWrites&) = delete;
  ~LargeWrites();

 private:
  Database& db_;
};

// For CREATE INDEX over a large table. With the connection's temp_store=MEMORY, SQLite sorts all
// the entries as one list in memory, and the merge sort over it misses the CPU cache at every
// step. The guard has it sort runs of 4 MiB (the page cache's size) in temporary files, by worker
// threads (one per core, PRAGMA threads), then merge them: the by-customer index of 1,000,000
// orders in 1.1 s instead of 2.3-2.7 s (BENCHMARKS.md). Temporary objects of the connection are
// dropped when temp_store changes; the store keeps none on SQLite. Created inside a transaction,
// where SQLite refuses to change temp_store, the guard changes nothing.
class FastIndexBuilds {
 public:
  explicit FastIndexBuilds(Database& db);
  FastIndexBuilds(const FastIndexBuilds&) = delete;
  FastIndexBuilds& operator=(const FastIndexBuilds&) = delete;
  ~FastIndexBuilds();

 private:
  Database& db_;
  bool active_ = false;
};

}  // namespace crm::host
