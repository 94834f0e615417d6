// email_imap: a mailbox over IMAP, incremental by UIDVALIDITY and UID. Every
// message with a customer on one side becomes an interaction (direction from
// our own domains), its counterpart a contact, and the counterpart's e-mail
// domain a customer: with the "email_domain" match key, the host links that
// customer to the same company from the ERP. Complaint keywords (English and
// Chinese) flag inbound complaints. A message that cannot be decoded is
// quarantined with its raw bytes; the next ones go on.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crm/plugin.hpp"
#include "email_imap_manifest.h"
#include "imap_client.hpp"
#include "mime.hpp"
#include "plugin_support/text.hpp"

namespace crm::connectors {
namespace {

using nlohmann::json;
using plugin_support::ascii_lower;

constexpr std::string_view kRawPrefix = "email_imap:v1 ";

std::string domain_of(const std::string& address) {
  const std::size_t at = address.rfind('@');
  return at == std::string::npos ? std::string() : address.substr(at + 1);
}

class EmailImapConnector final : public crm::Connector {
 public:
  CRM_PLUGIN_METADATA(EMAIL_IMAP)
  static constexpr crm_record_type kRecordTypes[] = {CRM_RECORD_CUSTOMER, CRM_RECORD_CONTACT, CRM_RECORD_INTERACTION};

  EmailImapConnector(const crm::Host& host, std::string_view config_json) {
    const json config = json::parse(config_json);
    const auto password = host.secret("/password");
    if (!password) {
      throw crm::ConfigError("password is missing");
    }
    client_ = std::make_unique<ImapClient>(config.at("url").get<std::string>(), config.at("mailbox").get<std::string>(),
                                           config.at("username").get<std::string>(), *password,
                                           config.at("tls").get<std::string>() == "required",
                                           config.at("timeout_ms").get<long>());
    for (const auto& domain : config.at("our_domains")) {
      our_domains_.push_back(ascii_lower(domain.get<std::string>()));
    }
    for (const auto& keyword : config.at("complaint_keywords")) {
      keywords_.push_back(ascii_lower(keyword.get<std::string>()));
    }
    batch_messages_ = config.at("batch_messages").get<std::size_t>();
  }

  void fetch(const crm::Host& host, std::string_view cursor_text, crm::RecordBatch& batch) override {
    const json cursor = cursor_text.empty() ? json::object() : json::parse(cursor_text);
    const std::uint64_t validity = client_->uid_validity();
    std::uint64_t last_uid = cursor.value("last_uid", std::uint64_t{0});
    if (cursor.value("uidvalidity", validity) != validity) {
      host.warn(
          "the mailbox's UIDVALIDITY changed: reading it again from the start (records are keyed by "
          "Message-ID, so nothing is duplicated)");
      last_uid = 0;
    }
    const std::vector<std::uint64_t> uids = client_->uids_from(last_uid + 1);
    const std::size_t count = std::min(uids.size(), batch_messages_);
    for (std::size_t i = 0; i < count && !host.cancelled(); ++i) {
      const std::string raw = client_->fetch(uids[i]);
      try {
        add_message(parse_message(raw), validity, uids[i], batch);
      } catch (const MimeError& e) {
        host.report_bad_record(
            std::string(kRawPrefix) + std::to_string(validity) + " " + std::to_string(uids[i]) + "\n" + raw,
            "UID " + std::to_string(uids[i]) + ": " + e.what());
      }
      last_uid = uids[i];
      batch.add_source_records(1);
    }
    batch.set_next_cursor(json{{"uidvalidity", validity}, {"last_uid", last_uid}}.dump());
    batch.set_has_more(count < uids.size());
  }

  void reprocess(const crm::Host& /*host*/, std::string_view raw, crm::RecordBatch& batch) {
    if (raw.substr(0, kRawPrefix.size()) != kRawPrefix) {
      throw crm::DataError("not a record quarantined by email_imap");
    }
    raw.remove_prefix(kRawPrefix.size());
    const std::size_t newline = raw.find('\n');
    const std::string head(raw.substr(0, newline));
    std::uint64_t validity = 0;
    std::uint64_t uid = 0;
    if (newline == std::string_view::npos || std::sscanf(head.c_str(), "%lu %lu", &validity, &uid) != 2) {  // NOLINT
      throw crm::DataError("the quarantined record's header is damaged");
    }
    try {
      add_message(parse_message(raw.substr(newline + 1)), validity, uid, batch);
    } catch (const MimeError& e) {
      throw crm::DataError("UID " + std::to_string(uid) + ": " + e.what());
    }
  }

 private:
  [[nodiscard]] bool is_ours(const std::string& address) const {
    return std::find(our_domains_.begin(), our_domains_.end(), domain_of(address)) != our_domains_.end();
  }

  void add_message(const MailMessage& message, std::uint64_t validity, std::uint64_t uid,
                   crm::RecordBatch& batch) const {
    const bool outbound = is_ours(message.from.address);
    std::vector<MailAddress> counterparts;
    if (outbound) {
      std::copy_if(message.recipients.begin(), message.recipients.end(), std::back_inserter(counterparts),
                   [&](const MailAddress& address) { return !is_ours(address.address); });
    } else {
      counterparts.push_back(message.from);
    }
    if (counterparts.empty()) {
      return;  // internal mail: no customer on either side
    }
    for (const MailAddress& person : counterparts) {
      const std::string domain = domain_of(person.address);
      crm_customer_record company{};
      company.external_id = batch.keep(domain);
      company.name = batch.keep(domain);
      company.email_domain = batch.keep(domain);
      company.created_at_ms = CRM_TIME_UNKNOWN;
      batch.add(company);
      crm_contact_record contact{};
      contact.external_id = batch.keep(person.address);
      contact.customer_external_id = batch.keep(domain);
      contact.name = batch.keep(person.name);
      contact.email = batch.keep(person.address);
      contact.left_at_ms = CRM_TIME_UNKNOWN;
      batch.add(contact);
    }
    const std::string searchable = ascii_lower(message.subject + "\n" + message.text);
    std::vector<std::string> hits;
    for (const std::string& keyword : keywords_) {
      if (searchable.find(keyword) != std::string::npos) {
        hits.push_back(keyword);
      }
    }
    std::string matched;
    for (const std::string& hit : hits) {
      // "complain" adds nothing where "complaint" matched.
      const bool covered = std::any_of(hits.begin(), hits.end(), [&](const std::string& other) {
        return other.size() > hit.size() && other.find(hit) != std::string::npos;
      });
      if (!covered) {
        matched += (matched.empty() ? "" : ",") + hit;
      }
    }
    const MailAddress& primary = counterparts.front();
    crm_interaction_record interaction{};
    interaction.external_id =
        batch.keep(message.message_id.empty() ? "uid:" + std::to_string(validity) + ":" + std::to_string(uid)
                                              : message.message_id);
    interaction.customer_external_id = batch.keep(domain_of(primary.address));
    interaction.contact_external_id = batch.keep(primary.address);
    interaction.occurred_at_ms = message.date_ms.value_or(CRM_TIME_UNKNOWN);
    interaction.channel = batch.keep("email");
    interaction.direction = outbound ? CRM_DIRECTION_OUTBOUND : CRM_DIRECTION_INBOUND;
    interaction.subject = batch.keep(message.subject);
    interaction.keywords = batch.keep(matched);
    interaction.is_complaint = !outbound && !matched.empty();
    batch.add(interaction);
  }

  std::unique_ptr<ImapClient> client_;
  std::vector<std::string> our_domains_;
  std::vector<std::string> keywords_;
  std::size_t batch_messages_ = 200;
};

}  // namespace
}  // namespace crm::connectors

CRM_EXPORT_PLUGINS(crm::connectors::EmailImapConnector)
