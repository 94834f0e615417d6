// im_wecom: WeCom external contacts (the customers' people our staff follow)
// and who owns each of them (../shared/wecom-api.md section 3).
//
// One sync is one pass in three phases, each fetch one bounded batch:
//   contacts    the follow users in chunks, every page of their external
//               contacts; each follow entry adds its member to the contact's
//               owners of this pass, kept in the plugin state (SDK 1.3), one
//               key per contact, so a corp of 100,000 contacts syncs in
//               bounded memory and the cursor stays a position;
//   unassigned  every page of get_unassigned_list: the members who resigned,
//               with the date, and the contacts they left. Only this is the
//               domain's "key contact's owner left" ("owner_left");
//   finish      a walk over the contacts in the state, a thousand a batch:
//               each contact seen in this pass is written with its owners,
//               "owner_changed" when they changed since the last pass (unless
//               the only change is owners who resigned); a contact of the
//               last pass missing from this one is "contact_not_visible":
//               deleted by either side, or a permission or licence lost,
//               which is not evidence of churn.
// State and cursor commit with each batch, so a crash resumes mid-pass.
#include <algorithm>
#include <ctime>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crm/plugin.hpp"
#include "im_wecom_manifest.h"
#include "plugin_support/wecom_client.hpp"

namespace crm::connectors {
namespace {

using nlohmann::json;
using plugin_support::WecomClient;

// State keys: one per contact, and the follow users of the pass in chunks.
constexpr std::string_view kContactPrefix = "c/";
constexpr std::string_view kUserChunkPrefix = "u/";
// Contacts written per batch of the finish phase.
constexpr int kFinishBatchContacts = 1000;
// get_unassigned_list's page limit (wecom-api.md section 3).
constexpr int kUnassignedPageSize = 1000;
// Not in the official documentation: batch/get_by_user for members with no
// customers has been seen to answer it (wecom-api.md section 3).
constexpr int kNoCustomersErrcode = 84061;

std::string join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) {
    joined += (joined.empty() ? "" : ",") + part;
  }
  return joined;
}

std::string chunk_key(std::size_t chunk) {
  std::string number = std::to_string(chunk);
  return std::string(kUserChunkPrefix) + std::string(6 - std::min<std::size_t>(6, number.size()), '0') + number;
}

std::string utc_date(std::int64_t unix_s) {
  const std::time_t time = static_cast<std::time_t>(unix_s);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[16];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%d", &parts));
}

std::vector<std::string> strings(const json& value, const char* name) {
  const auto found = value.find(name);
  return found == value.end() ? std::vector<std::string>{} : found->get<std::vector<std::string>>();
}

void insert_sorted(std::vector<std::string>& set, const std::string& item) {
  const auto at = std::lower_bound(set.begin(), set.end(), item);
  if (at == set.end() || *at != item) {
    set.insert(at, item);
  }
}

class WecomContactsConnector final : public crm::Connector {
 public:
  CRM_PLUGIN_METADATA(IM_WECOM)
  static constexpr crm_record_type kRecordTypes[] = {CRM_RECORD_CUSTOMER, CRM_RECORD_CONTACT, CRM_RECORD_ACTIVITY};

  WecomContactsConnector(const crm::Host& host, std::string_view config_json) {
    const json config = json::parse(config_json);
    const auto secret = host.secret("/contact_secret");
    if (!secret) {
      throw crm::ConfigError("contact_secret is missing");
    }
    client_ =
        std::make_unique<WecomClient>(config.at("base_url").get<std::string>(), config.at("corp_id").get<std::string>(),
                                      *secret, "contact_secret", config.at("timeout_ms").get<long>());
    page_size_ = config.at("page_size").get<int>();
    users_per_request_ = config.at("users_per_request").get<std::size_t>();
  }

  // The cursor: {"pass": N, "phase": ..., and the position in that phase}.
  void fetch(const crm::Host& host, std::string_view cursor_text, crm::RecordBatch& batch) override {
    json cursor = cursor_text.empty() ? json{{"pass", 1}} : json::parse(cursor_text);
    const std::string phase = cursor.value("phase", "");
    if (phase == "contacts") {
      fetch_contacts(host, cursor, batch);
    } else if (phase == "unassigned") {
      fetch_unassigned(host, cursor, batch);
    } else if (phase == "finish") {
      finish(host, cursor, batch);
    } else {
      start_pass(host, cursor, batch);
    }
  }

 private:
  // A new pass starts with the staff who follow external contacts.
  void start_pass(const crm::Host& host, json& cursor, crm::RecordBatch& batch) const {
    std::vector<std::string> users =
        client_->get(host, "externalcontact/get_follow_user_list").value("follow_user", std::vector<std::string>{});
    std::sort(users.begin(), users.end());
    for (auto key = host.next_state_key(kUserChunkPrefix); key && key->starts_with(kUserChunkPrefix);
         key = host.next_state_key(*key)) {
      host.delete_state(*key);  // the chunks of the last pass
    }
    const std::size_t chunks = (users.size() + users_per_request_ - 1) / users_per_request_;
    for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
      const auto first = users.begin() + static_cast<std::ptrdiff_t>(chunk * users_per_request_);
      const auto last =
          users.begin() + static_cast<std::ptrdiff_t>(std::min(users.size(), (chunk + 1) * users_per_request_));
      host.put_state(chunk_key(chunk), json(std::vector<std::string>(first, last)).dump());
    }
    adopt_previous_pass(host, cursor);
    cursor = {{"pass", cursor["pass"]}, {"phase", "contacts"}, {"chunks", chunks}, {"chunk", 0}, {"page", ""}};
    batch.set_next_cursor(cursor.dump());
    batch.set_has_more(true);
  }

  // The cursor of im_wecom 0.1 carried the last pass's contacts ("previous"):
  // they become the state this pass compares with.
  static void adopt_previous_pass(const crm::Host& host, const json& cursor) {
    const auto previous = cursor.find("previous");
    if (previous == cursor.end() || !previous->is_object()) {
      return;
    }
    for (const auto& [id, contact] : previous->items()) {
      host.put_state(std::string(kContactPrefix) + id, json{{"n", contact.value("name", "")},
                                                            {"cu", contact.value("customer", "person:" + id)},
                                                            {"cn", contact.value("customer_name", "")},
                                                            {"o", strings(contact, "owners")}}
                                                           .dump());
    }
  }

  void fetch_contacts(const crm::Host& host, json& cursor, crm::RecordBatch& batch) const {
    const int pass = cursor["pass"].get<int>();
    const std::size_t chunk = cursor["chunk"].get<std::size_t>();
    if (chunk >= cursor["chunks"].get<std::size_t>()) {
      cursor = {{"pass", pass}, {"phase", "unassigned"}, {"page", ""}};
      fetch_unassigned(host, cursor, batch);
      return;
    }
    const auto users = json::parse(host.state(chunk_key(chunk)).value_or("[]")).get<std::vector<std::string>>();
    json page = client_->post_returning(host, "externalcontact/batch/get_by_user",
                                        {{"userid_list", users}, {"cursor", cursor["page"]}, {"limit", page_size_}},
                                        {kNoCustomersErrcode});
    if (page.value("errcode", 0) == kNoCustomersErrcode) {
      page = json::object();  // members with no customers: an empty last page
    }
    const json entries = page.value("external_contact_list", json::array());
    for (const json& entry : entries) {
      const json& contact = entry.at("external_contact");
      const std::string id = contact.at("external_userid").get<std::string>();
      const std::string owner = entry.at("follow_info").at("userid").get<std::string>();
      const std::string key = std::string(kContactPrefix) + id;
      json known = json::parse(host.state(key).value_or("{}"));
      std::vector<std::string> owners = known.value("ap", 0) == pass ? strings(known, "a") : std::vector<std::string>{};
      insert_sorted(owners, owner);
      const std::string corp = contact.value("corp_full_name", "").empty() ? contact.value("corp_name", "")
                                                                           : contact.value("corp_full_name", "");
      known["n"] = contact.value("name", "");
      known["cu"] = corp.empty() ? "person:" + id : corp;
      known["cn"] = corp.empty() ? contact.value("name", "") : corp;
      known["a"] = owners;
      known["ap"] = pass;
      host.put_state(key, known.dump());
    }
    batch.add_source_records(entries.size());
    const std::string next_page = page.value("next_cursor", "");
    if (next_page.empty()) {
      cursor["chunk"] = chunk + 1;
      cursor["page"] = "";
    } else {
      cursor["page"] = next_page;
    }
    batch.set_next_cursor(cursor.dump());
    batch.set_has_more(true);
  }

  // Resignations: an owner_left activity for each known contact a member left,
  // dated by the resignation, and a mark on the contact so that the finish
  // phase does not report the same departure as a change or a disappearance.
  void fetch_unassigned(const crm::Host& host, json& cursor, crm::RecordBatch& batch) const {
    const int pass = cursor["pass"].get<int>();
    const json page = client_->post(host, "externalcontact/get_unassigned_list",
                                    {{"cursor", cursor["page"]}, {"limit", kUnassignedPageSize}});
    const json entries = page.value("info", json::array());
    for (const json& entry : entries) {
      const std::string member = entry.value("handover_userid", "");
      const std::string id = entry.value("external_userid", "");
      const std::int64_t dimission_s = entry.value("dimission_time", std::int64_t{0});
      const std::string key = std::string(kContactPrefix) + id;
      const auto stored = host.state(key);
      if (member.empty() || id.empty() || !stored) {
        continue;  // a contact this connector never saw: no customer to attach it to
      }
      json known = json::parse(*stored);
      std::vector<std::string> left = known.value("lp", 0) == pass ? strings(known, "l") : std::vector<std::string>{};
      insert_sorted(left, member);
      known["l"] = left;
      known["lp"] = pass;
      host.put_state(key, known.dump());
      crm_activity_record event{};
      event.external_id = batch.keep("owner_left/" + id + "/" + member + "/" + std::to_string(dimission_s));
      event.customer_external_id = batch.keep(known.at("cu").get<std::string>());
      event.contact_external_id = batch.keep(id);
      event.occurred_at_ms = dimission_s > 0 ? dimission_s * 1000 : host.now_ms();
      event.kind = batch.keep("owner_left");
      event.detail =
          batch.keep(member + " left the company" + (dimission_s > 0 ? " on " + utc_date(dimission_s) : std::string()) +
                     "; the contact awaits hand-over to another member");
      batch.add(event);
    }
    batch.add_source_records(entries.size());
    const std::string next_page = page.value("next_cursor", "");
    if (page.value("is_last", true) || next_page.empty()) {
      cursor = {{"pass", pass}, {"phase", "finish"}, {"after", std::string(kContactPrefix)}};
    } else {
      cursor["page"] = next_page;
    }
    batch.set_next_cursor(cursor.dump());
    batch.set_has_more(true);
  }

  // Writes the pass's contacts with their owners and the changes since the
  // previous pass, kFinishBatchContacts a batch, in key order.
  static void finish(const crm::Host& host, json& cursor, crm::RecordBatch& batch) {
    const int pass = cursor["pass"].get<int>();
    const std::int64_t now_ms = host.now_ms();
    const auto add_event = [&](const std::string& contact_id, const std::string& customer, const std::string& kind,
                               const std::string& detail) {
      crm_activity_record event{};
      event.external_id = batch.keep(kind + "/" + contact_id + "/" + std::to_string(pass));
      event.customer_external_id = batch.keep(customer);
      event.contact_external_id = batch.keep(contact_id);
      event.occurred_at_ms = now_ms;
      event.kind = batch.keep(kind);
      event.detail = batch.keep(detail);
      batch.add(event);
    };
    std::string after = cursor["after"].get<std::string>();
    int written = 0;
    std::optional<std::string> key;
    while (written < kFinishBatchContacts && (key = host.next_state_key(after)) && key->starts_with(kContactPrefix)) {
      after = *key;
      ++written;
      const std::string id = key->substr(kContactPrefix.size());
      json known = json::parse(host.state(*key).value_or("{}"));
      const std::string customer = known.value("cu", "person:" + id);
      const std::vector<std::string> before = strings(known, "o");
      const std::vector<std::string> resigned =
          known.value("lp", 0) == pass ? strings(known, "l") : std::vector<std::string>{};
      if (known.value("ap", 0) != pass) {
        // In the last pass, not in this one. A resignation was reported as such.
        const bool explained = std::any_of(before.begin(), before.end(), [&](const std::string& owner) {
          return std::binary_search(resigned.begin(), resigned.end(), owner);
        });
        if (!before.empty() && !explained) {
          add_event(id, customer, "contact_not_visible",
                    "no longer visible to the app (was followed by " + join(before) +
                        "): deleted by the customer or the member, or a permission or licence lost; "
                        "not evidence of churn");
        }
        host.delete_state(*key);
        continue;
      }
      const std::vector<std::string> owners = strings(known, "a");
      crm_customer_record company{};
      company.external_id = batch.keep(customer);
      company.name = batch.keep(known.value("cn", ""));
      company.created_at_ms = CRM_TIME_UNKNOWN;
      batch.add(company);
      crm_contact_record person{};
      person.external_id = batch.keep(id);
      person.customer_external_id = batch.keep(customer);
      person.name = batch.keep(known.value("n", ""));
      person.owner = batch.keep(join(owners));
      person.left_at_ms = CRM_TIME_UNKNOWN;
      batch.add(person);
      if (known.contains("o") && before != owners) {
        std::vector<std::string> unexplained;  // owners gained, or lost without resigning
        std::set_symmetric_difference(before.begin(), before.end(), owners.begin(), owners.end(),
                                      std::back_inserter(unexplained));
        std::erase_if(unexplained, [&](const std::string& owner) {
          return std::binary_search(resigned.begin(), resigned.end(), owner) &&
                 !std::binary_search(owners.begin(), owners.end(), owner);
        });
        if (!unexplained.empty()) {
          add_event(id, customer, "owner_changed", join(before) + " -> " + join(owners));
        }
      }
      json next = {{"n", known.value("n", "")}, {"cu", customer}, {"cn", known.value("cn", "")}, {"o", owners}};
      host.put_state(*key, next.dump());
    }
    if (written == kFinishBatchContacts) {
      cursor["after"] = after;
      batch.set_next_cursor(cursor.dump());
      batch.set_has_more(true);
      return;
    }
    batch.set_next_cursor(json{{"pass", pass + 1}}.dump());
    batch.set_has_more(false);
  }

  std::unique_ptr<WecomClient> client_;
  int page_size_ = 100;
  std::size_t users_per_request_ = 100;
};

}  // namespace
}  // namespace crm::connectors

CRM_EXPORT_PLUGINS(crm::connectors::WecomContactsConnector)
