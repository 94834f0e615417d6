#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "store/ack_token_repository.hpp"
#include "store/database.hpp"

namespace crm::host {

// Why a token does not acknowledge anything (none: it does).
enum class AckTokenProblem { none, bad_signature, expired, used, alert_closed };

// A token checked against the store: its row and alert when the signature
// holds, and the first problem found.
struct CheckedAckToken {
  AckTokenProblem problem = AckTokenProblem::bad_signature;
  std::optional<AckTokenRecord> token;  // set unless the signature failed
  std::optional<AckAlertRecord> alert;  // set unless the signature failed
};

// The tokens of acknowledge links: base64url of a version byte, the token
// row's id and an HMAC-SHA256 over (id, alert, recipient) under a 32-byte key
// the store keeps (made on first use; never logged, returned or put in an
// error). Nothing but the row id and the MAC is inside a token. Borrows the
// database and clock, which must outlive it; one thread at a time.
// Issuing runs inside the caller's transaction, if any (it opens none).
class AckTokens {
 public:
  AckTokens(Database& db, const Clock& clock) : repository_(db), clock_(clock) {}

  // The token acknowledging `alert_id` as `recipient` until `expires_ms`; the
  // same text for the same (alert, recipient), its validity extended to the
  // later expiry.
  std::string issue(std::int64_t alert_id, const std::string& recipient, std::int64_t expires_ms);
  // Checks the MAC (in constant time), the expiry, the use and the alert's state.
  CheckedAckToken check(const std::string& token);

  AckTokenRepository& repository() { return repository_; }

 private:
  std::string key();
  std::string mac(std::int64_t token_id, std::int64_t alert_id, const std::string& recipient);

  AckTokenRepository repository_;
  const Clock& clock_;
  std::optional<std::string> key_;
};

}  // namespace crm::host
