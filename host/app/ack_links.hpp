#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "app/session.hpp"
#include "core/clock.hpp"
#include "store/store.hpp"

namespace crm::host {

// What an acknowledge link is, or did.
enum class AckLinkStatus {
  valid,          // inspect: confirming it will acknowledge the alert
  acknowledged,   // confirm: the alert is acknowledged now, as the recipient
  bad_signature,  // not a token this store issued, or altered (nothing else is said about it)
  expired,        // past the alert's response deadline as it was when the link was sent
  used,           // the link acknowledged the alert already (a second submit lands here)
  alert_closed,   // someone acknowledged or resolved the alert another way
};

// "valid", "acknowledged", "bad_signature", "expired", "used", "alert_closed".
const char* ack_link_status_name(AckLinkStatus status);

// What a person opening an acknowledge link sees: what will be (or was)
// acknowledged, or why nothing will. With bad_signature only `status` and
// `message` are set. Never carries the token or the key.
struct AckLinkView {
  AckLinkStatus status = AckLinkStatus::bad_signature;
  std::string message;  // one sentence in plain words for the page
  std::int64_t alert_id = 0;
  std::int64_t customer_id = 0;  // 0: an alert about no one customer
  std::string customer_name;
  std::string band;             // the alert's level
  std::optional<double> score;  // the customer's latest health score, when scored
  std::string title;
  std::int64_t deadline_ms = 0;  // the alert's current response deadline
  std::string recipient;         // whom the link was sent to: who acknowledges
  std::string alert_state;       // open, acknowledged, resolved
  std::string acked_by;          // when acknowledged: by whom and when
  std::int64_t acked_ms = 0;
};

// A token for the link acknowledging `alert_id` as `recipient` until
// `expires_ms` (the alert's response deadline): base64url, about 55
// characters, the same for the same (alert, recipient). Makes the store's
// HMAC key on first use. Runs in the caller's transaction, if any.
std::string make_ack_token(Store& store, const Clock& clock, std::int64_t alert_id, const std::string& recipient,
                           std::int64_t expires_ms);
std::string make_ack_token(Session& session, std::int64_t alert_id, const std::string& recipient,
                           std::int64_t expires_ms);

// What confirming `token` would acknowledge (status valid), or why it will not.
// Changes nothing. Never throws for a bad token.
AckLinkView inspect_ack_link(Store& store, const Clock& clock, const std::string& token);
AckLinkView inspect_ack_link(Session& session, const std::string& token);

// Acknowledges the alert as the link's recipient, records who and when, and
// marks the token used, in one transaction: of two submits of the same link
// one gets `acknowledged`, the other `used`. Never throws for a bad token.
AckLinkView confirm_ack_link(Store& store, const Clock& clock, const std::string& token);
AckLinkView confirm_ack_link(Session& session, const std::string& token);

}  // namespace crm::host
