#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "app/host_config.hpp"
#include "app/session.hpp"

namespace crm::host {

// The WeCom callback endpoint of `crmhost serve` (../shared/wecom-api.md section 4), from
//   "service": {"wecom_callback": {"path": "/wecom/callback", "corp_id": "ww...",
//               "token": {"env": "VAR"}, "encoding_aes_key": {"env": "VAR"},
//               "source": "im_wecom", "max_clock_skew_s": 300}}
// `token` and `encoding_aes_key` are the secrets resolved from the environment: they are never
// logged, echoed or put in an error message.
struct WecomCallbackSettings {
  std::string path = "/wecom/callback";
  std::string corp_id;
  std::string token;
  std::string encoding_aes_key;
  std::string source;  // the im_wecom connector's id: the source whose contacts the events name
  std::int64_t max_clock_skew_s = 300;
};

// Looks an environment variable up (std::getenv unless a test gives another).
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& variable)>;

// service.wecom_callback of the configuration, nullopt when the section is absent (no route).
// Throws ConfigError naming the field (service.wecom_callback.token, ...) and the rule: a secret
// given inline, a variable not set, an EncodingAESKey that is not 43 characters of base64, a
// path the REST API already uses.
std::optional<WecomCallbackSettings> wecom_callback_settings(const HostConfig& config,
                                                             const EnvironmentLookup& environment = {});

// A callback's XML that is not the small flat shape WeCom sends.
class WecomMessageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The children of the root <xml> of a WeCom message: <Tag><![CDATA[text]]></Tag> or <Tag>text</Tag>,
// by tag. Anything else (attributes, nesting, entities, a tag twice, text after the root) throws
// WecomMessageError saying what and where.
std::map<std::string, std::string, std::less<>> parse_wecom_xml(std::string_view xml);

// One change_external_contact event, decrypted and authenticated.
struct WecomChangeEvent {
  std::string change_type;  // add_external_contact, del_follow_user, ...
  std::string user_id;      // the member (account manager)
  std::string external_user_id;
  std::int64_t create_time_s = 0;
  std::string fail_reason;  // transfer_fail only
};

// The event of a decrypted message, nullopt when it is another event (WeCom sends every event of
// the app to the same URL: those are acknowledged and left). Throws WecomMessageError when a
// change_external_contact event lacks a field or has a CreateTime that is not a number.
std::optional<WecomChangeEvent> wecom_change_event(const std::map<std::string, std::string, std::less<>>& message);

// The activity kind of a change type: customer_removed_owner, owner_removed_customer,
// contact_added, handover_failed, contact_edited; "" for a change type the host does not record.
std::string_view wecom_activity_kind(std::string_view change_type);

struct WecomEventResult {
  std::string activity_kind;         // "" : a change type not recorded
  std::string activity_external_id;  // ChangeType/UserID/ExternalUserID/CreateTime: a resent event updates it
  bool stored = false;
  std::string quarantine_reason;         // why it was quarantined instead ("" when stored or not recorded)
  std::optional<std::int64_t> alert_id;  // del_follow_user and transfer_fail raise one
};

// Records `event` as an ACTIVITY of settings.source through the event ingestion path
// (app/events.hpp: a bad one is quarantined), at CreateTime, against the customer the
// source's contact belongs to. A contact the store does not know (added since the last
// sync, or never synced) is quarantined under the source with that reason, the event whole
// in it: the activity would otherwise belong to no customer and be invisible to scores and
// alerts, and a guessed customer would be worse. del_follow_user raises an alert on the
// customer (a strong churn signal of its own), transfer_fail one at the CS director's level.
WecomEventResult record_wecom_change(Session& session, const WecomCallbackSettings& settings,
                                     const WecomChangeEvent& event);

}  // namespace crm::host
