#include "app/ack_links.hpp"

#include <fmt/format.h>

#include "alerts/ack_tokens.hpp"
#include "store/alert_repository.hpp"
#include "store/customer_read_repository.hpp"

namespace crm::host {
namespace {

AckLinkView view_of(CheckedAckToken& checked, Database& db) {
  AckLinkView view;
  if (!checked.token || !checked.alert) {
    view.status = AckLinkStatus::bad_signature;
    view.message = "This link is not valid: it was changed, or not issued by this server.";
    return view;
  }
  const AckAlertRecord& alert = *checked.alert;
  view.alert_id = alert.id;
  view.customer_id = alert.customer_id;
  view.customer_name = alert.customer_name;
  view.band = alert.level;
  view.title = alert.title;
  view.deadline_ms = alert.deadline_ms;
  view.recipient = checked.token->recipient;
  view.alert_state = alert.state;
  view.acked_by = alert.acked_by;
  view.acked_ms = alert.acked_ms;
  if (alert.customer_id != 0) {
    const std::vector<CustomerScoreLine> lines = CustomerReadRepository(db).latest_scores(alert.customer_id, 1);
    if (!lines.empty()) {
      view.score = lines.front().score;
    }
  }
  switch (checked.problem) {
    case AckTokenProblem::none:
      view.status = AckLinkStatus::valid;
      view.message = fmt::format("Confirm to acknowledge alert {} as {}.", alert.id, view.recipient);
      break;
    case AckTokenProblem::used:
      view.status = AckLinkStatus::used;
      view.message = fmt::format("This link was already used: alert {} is {}.", alert.id, alert.state);
      break;
    case AckTokenProblem::alert_closed:
      view.status = AckLinkStatus::alert_closed;
      view.message = alert.state == "resolved"
                         ? fmt::format("Alert {} is already resolved; nothing to acknowledge.", alert.id)
                         : fmt::format("Alert {} was already acknowledged by {}.", alert.id, alert.acked_by);
      break;
    case AckTokenProblem::expired:
      view.status = AckLinkStatus::expired;
      view.message = fmt::format(
          "This link expired at the alert's response deadline; acknowledge alert {} in the application instead.",
          alert.id);
      break;
    case AckTokenProblem::bad_signature:
      view.status = AckLinkStatus::bad_signature;
      break;
  }
  return view;
}

}  // namespace

const char* ack_link_status_name(AckLinkStatus status) {
  switch (status) {
    case AckLinkStatus::valid:
      return "valid";
    case AckLinkStatus::acknowledged:
      return "acknowledged";
    case AckLinkStatus::bad_signature:
      return "bad_signature";
    case AckLinkStatus::expired:
      return "expired";
    case AckLinkStatus::used:
      return "used";
    case AckLinkStatus::alert_closed:
      return "alert_closed";
  }
  return "bad_signature";
}

std::string make_ack_token(Store& store, const Clock& clock, std::int64_t alert_id, const std::string& recipient,
                           std::int64_t expires_ms) {
  return AckTokens(store.database(), clock).issue(alert_id, recipient, expires_ms);
}

std::string make_ack_token(Session& session, std::int64_t alert_id, const std::string& recipient,
                           std::int64_t expires_ms) {
  const StoreHandle store = session.open_store();
  return make_ack_token(*store, session.clock(), alert_id, recipient, expires_ms);
}

AckLinkView inspect_ack_link(Store& store, const Clock& clock, const std::string& token) {
  AckTokens tokens(store.database(), clock);
  CheckedAckToken checked = tokens.check(token);
  return view_of(checked, store.database());
}

AckLinkView inspect_ack_link(Session& session, const std::string& token) {
  const StoreHandle store = session.open_store();
  return inspect_ack_link(*store, session.clock(), token);
}

AckLinkView confirm_ack_link(Store& store, const Clock& clock, const std::string& token) {
  Database& db = store.database();
  Transaction transaction(db);
  AckTokens tokens(db, clock);
  CheckedAckToken checked = tokens.check(token);
  if (checked.problem != AckTokenProblem::none) {
    return view_of(checked, db);
  }
  const std::int64_t now = clock.now_ms();
  // The conditional UPDATE is the gate: a concurrent submit that passed the
  // check above waits on the row here and then finds it used.
  if (!tokens.repository().mark_used(checked.token->id, now)) {
    checked.problem = AckTokenProblem::used;
    return view_of(checked, db);
  }
  if (!AlertRepository(db).acknowledge(checked.alert->id, checked.token->recipient, now)) {
    checked.problem = AckTokenProblem::alert_closed;
    checked.alert = tokens.repository().alert(checked.alert->id);
    return view_of(checked, db);  // rolled back: the token stays unused
  }
  transaction.commit();
  checked.alert = tokens.repository().alert(checked.alert->id);
  AckLinkView view = view_of(checked, db);
  view.status = AckLinkStatus::acknowledged;
  view.message = fmt::format("Alert {} is acknowledged by {}.", view.alert_id, view.recipient);
  return view;
}

AckLinkView confirm_ack_link(Session& session, const std::string& token) {
  const StoreHandle store = session.open_store();
  return confirm_ack_link(*store, session.clock(), token);
}

}  // namespace crm::host
