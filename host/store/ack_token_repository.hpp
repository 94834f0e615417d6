#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/database.hpp"

namespace crm::host {

// One acknowledge-link token as stored: what it may acknowledge, for whom,
// until when, and whether it was used. The token text itself is never stored
// (it is this row's id under the host's MAC: app/ack_links.hpp).
struct AckTokenRecord {
  std::int64_t id = 0;
  std::int64_t alert_id = 0;
  std::string recipient;
  std::int64_t expires_ms = 0;
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> used_ms;
};

// The alert an acknowledge link is about, as its page shows it.
struct AckAlertRecord {
  std::int64_t id = 0;
  std::int64_t customer_id = 0;
  std::string customer_name;  // "" when the store has no name (or the alert is about no customer)
  std::string reason;
  std::string level;
  std::string state;  // open, acknowledged, resolved
  std::string title;
  std::int64_t deadline_ms = 0;
  std::string acked_by;
  std::int64_t acked_ms = 0;
};

// The host's secrets (the acknowledge links' HMAC key) and the tokens of
// acknowledge links. Borrows the database, which must outlive it; one thread
// at a time, as the database.
class AckTokenRepository {
 public:
  explicit AckTokenRepository(Database& db) : db_(db) {}

  // The secret `name`: the stored one, else `candidate` stored now. Two
  // processes racing both get the first writer's value.
  std::string host_secret(const std::string& name, const std::string& candidate, std::int64_t now_ms);

  // The token of (alert, recipient): a new row valid until `expires_ms`, or the
  // existing one, its expiry moved to the later of both. Returns its id.
  std::int64_t issue(std::int64_t alert_id, const std::string& recipient, std::int64_t expires_ms, std::int64_t now_ms);
  std::optional<AckTokenRecord> find(std::int64_t token_id);
  // Marks the token used at `now_ms`; false when it had been used already
  // (one UPDATE: of two concurrent confirmations exactly one gets true).
  bool mark_used(std::int64_t token_id, std::int64_t now_ms);

  std::optional<AckAlertRecord> alert(std::int64_t alert_id);

 private:
  Database& db_;
};

}  // namespace crm::host
