#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/session.hpp"
#include "store/record_writer.hpp"
#include "store/store.hpp"

namespace crm::host {

// A record of an event batch that was not stored, and why. It is
// quarantined under the batch's source as a connector's bad record is.
struct RejectedEvent {
  std::size_t index = 0;    // its position in "records"
  std::string external_id;  // as sent ("" when it had none)
  std::string reason;       // names the field and the rule broken, never the value
};

struct EventIngestResult {
  std::string source;
  std::size_t accepted = 0;  // stored: inserted, updated or unchanged
  WriteCounts counts;
  std::vector<RejectedEvent> rejected;
};

// The record types of an event batch, as the SDK's record types name them.
inline constexpr const char* kEventRecordTypes[] = {"customer", "contact",  "order",       "payment",  "ticket",
                                                    "survey",   "activity", "interaction", "attribute"};

// The JSON schema of one record type ("order"...) of an event batch: the
// fields of the SDK's record struct (crm/connector.h) under the same names,
// times as integer milliseconds since the epoch, plus "type". Throws
// InvalidRequest for an unknown type.
const nlohmann::json& event_record_schema(const std::string& type);

// Stores a batch {"source": "...", "records": [{"type": "order", ...}, ...]}
// from any system, through the record writer connectors use: a record is
// keyed by (source, type, external_id), so a record sent again updates,
// never duplicates (attributes by customer and name). Every record that
// breaks its type's schema or carries an id the store cannot hold is left
// out, quarantined under `source` with the reason, and listed in the result;
// the others are stored, all in one transaction. Throws InvalidRequest when
// the body itself is malformed (not an object, no source, no records array).
//
// Takes no job lock: a batch must be accepted while a long job runs. On
// SQLite the batch waits for the store's write lock (which a job holds only
// for one batch of its own at a time) through the connection's busy timeout;
// on PostgreSQL rows lock one by one. A batch is one transaction either way,
// so a job never sees half a batch.
EventIngestResult ingest_events(Session& session, const nlohmann::json& body);
// The same on a store the caller keeps open (not shared with another thread meanwhile).
EventIngestResult ingest_events(Session& session, Store& store, const nlohmann::json& body);

}  // namespace crm::host
