// im_wecom: WeCom external contacts (the customers' people our staff follow)
// and who owns each of them (../shared/wecom-api.md section 3).
//
// One sync is one pass: the follow users, then every page of their external
// contacts, each page one batch. The cursor carries where the pass is and the
// owners seen so far; the pass's last batch writes the contacts with their
// owners and, against the previous pass, an activity for every contact whose
// owner changed ("owner_changed") or whom nobody follows any more
// ("owner_left"): the "key contact changed" signal of the domain.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crm/plugin.hpp"
#include "im_wecom_manifest.h"
#include "plugin_support/wecom_client.hpp"

namespace crm::connectors {
namespace {

using nlohmann::json;
using plugin_support::WecomClient;

std::string join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) {
    joined += (joined.empty() ? "" : ",") + part;
  }
  return joined;
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

  void fetch(const crm::Host& host, std::string_view cursor_text, crm::RecordBatch& batch) override {
    json cursor = cursor_text.empty() ? json{{"pass", 1}, {"previous", json::object()}} : json::parse(cursor_text);
    if (!cursor.contains("users")) {
      // A new pass starts with the staff who follow external contacts.
      std::vector<std::string> users =
          client_->get(host, "externalcontact/get_follow_user_list").value("follow_user", std::vector<std::string>{});
      std::sort(users.begin(), users.end());
      cursor["users"] = users;
      cursor["chunk"] = 0;
      cursor["page"] = "";
      cursor["seen"] = json::object();
    }
    const auto users = cursor["users"].get<std::vector<std::string>>();
    const std::size_t chunk = cursor["chunk"].get<std::size_t>();
    if (chunk * users_per_request_ >= users.size()) {
      finish_pass(host, cursor, batch);
      return;
    }
    const auto first = users.begin() + static_cast<std::ptrdiff_t>(chunk * users_per_request_);
    const auto last =
        users.begin() + static_cast<std::ptrdiff_t>(std::min(users.size(), (chunk + 1) * users_per_request_));
    const json page = client_->post(
        host, "externalcontact/batch/get_by_user",
        {{"userid_list", std::vector<std::string>(first, last)}, {"cursor", cursor["page"]}, {"limit", page_size_}});
    json& seen = cursor["seen"];
    for (const json& entry : page.value("external_contact_list", json::array())) {
      const json& contact = entry.at("external_contact");
      const std::string id = contact.at("external_userid").get<std::string>();
      const std::string owner = entry.at("follow_info").at("userid").get<std::string>();
      if (!seen.contains(id)) {
        const std::string corp = contact.value("corp_full_name", "").empty() ? contact.value("corp_name", "")
                                                                             : contact.value("corp_full_name", "");
        seen[id] = {{"name", contact.value("name", "")},
                    {"customer", corp.empty() ? "person:" + id : corp},
                    {"customer_name", corp.empty() ? contact.value("name", "") : corp},
                    {"owners", json::array()}};
      }
      auto owners = seen[id]["owners"].get<std::vector<std::string>>();
      if (std::find(owners.begin(), owners.end(), owner) == owners.end()) {
        owners.push_back(owner);
        std::sort(owners.begin(), owners.end());
        seen[id]["owners"] = owners;
      }
    }
    batch.add_source_records(page.value("external_contact_list", json::array()).size());
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

 private:
  // Writes the pass's contacts and the owner changes since the previous pass.
  static void finish_pass(const crm::Host& host, json& cursor, crm::RecordBatch& batch) {
    const json& seen = cursor["seen"];
    const json& previous = cursor["previous"];
    const std::int64_t now_ms = host.now_ms();
    const std::string pass = std::to_string(cursor["pass"].get<int>());
    const auto add_event = [&](const std::string& contact_id, const std::string& customer, const std::string& kind,
                               const std::string& detail) {
      crm_activity_record event{};
      event.external_id = batch.keep(kind + "/" + contact_id + "/" + pass);
      event.customer_external_id = batch.keep(customer);
      event.contact_external_id = batch.keep(contact_id);
      event.occurred_at_ms = now_ms;
      event.kind = batch.keep(kind);
      event.detail = batch.keep(detail);
      batch.add(event);
    };
    for (const auto& [id, contact] : seen.items()) {
      const std::string customer = contact["customer"].get<std::string>();
      crm_customer_record company{};
      company.external_id = batch.keep(customer);
      company.name = batch.keep(contact["customer_name"].get<std::string>());
      company.created_at_ms = CRM_TIME_UNKNOWN;
      batch.add(company);
      const auto owners = contact["owners"].get<std::vector<std::string>>();
      crm_contact_record person{};
      person.external_id = batch.keep(id);
      person.customer_external_id = batch.keep(customer);
      person.name = batch.keep(contact["name"].get<std::string>());
      person.owner = batch.keep(join(owners));
      person.left_at_ms = CRM_TIME_UNKNOWN;
      batch.add(person);
      if (previous.contains(id)) {
        const auto before = previous[id]["owners"].get<std::vector<std::string>>();
        if (before != owners) {
          add_event(id, customer, "owner_changed", join(before) + " -> " + join(owners));
        }
      }
    }
    for (const auto& [id, contact] : previous.items()) {
      if (!seen.contains(id)) {
        add_event(id, contact["customer"].get<std::string>(), "owner_left",
                  "no longer followed by " + join(contact["owners"].get<std::vector<std::string>>()));
      }
    }
    const json next = {{"pass", cursor["pass"].get<int>() + 1}, {"previous", seen}};
    batch.set_next_cursor(next.dump());
    batch.set_has_more(false);
  }

  std::unique_ptr<WecomClient> client_;
  int page_size_ = 100;
  std::size_t users_per_request_ = 100;
};

}  // namespace
}  // namespace crm::connectors

CRM_EXPORT_PLUGINS(crm::connectors::WecomContactsConnector)
