#include "app/events.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <memory>

#include "app/errors.hpp"
#include "core/json_schema.hpp"
#include "crm/connector.h"

namespace crm::host {
namespace {

enum class FieldKind { text, time, number, boolean, survey_kind, direction };

struct EventField {
  const char* name;
  FieldKind kind;
  std::size_t offset;
  bool required;
  bool is_id;  // checked with id_fault: the writer keys and links by it
};

// One record type of an event batch: the SDK struct it becomes and its
// fields. The schema is built from the same table, so the two never differ.
struct EventType {
  const char* name;
  crm_record_type type;
  std::size_t record_size;
  std::vector<EventField> fields;
};

#define CRM_FIELD(record, field, kind, required, is_id)               \
  EventField {                                                        \
#field, FieldKind::kind, offsetof(record, field), required, is_id \
  }

const std::vector<EventType>& event_types() {
  static const std::vector<EventType> types = {
      {"customer",
       CRM_RECORD_CUSTOMER,
       sizeof(crm_customer_record),
       {CRM_FIELD(crm_customer_record, external_id, text, true, true),
        CRM_FIELD(crm_customer_record, name, text, false, false),
        CRM_FIELD(crm_customer_record, tax_id, text, false, false),
        CRM_FIELD(crm_customer_record, email_domain, text, false, false),
        CRM_FIELD(crm_customer_record, country, text, false, false),
        CRM_FIELD(crm_customer_record, industry, text, false, false),
        CRM_FIELD(crm_customer_record, created_at_ms, time, false, false)}},
      {"contact",
       CRM_RECORD_CONTACT,
       sizeof(crm_contact_record),
       {CRM_FIELD(crm_contact_record, external_id, text, true, true),
        CRM_FIELD(crm_contact_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_contact_record, name, text, false, false),
        CRM_FIELD(crm_contact_record, email, text, false, false),
        CRM_FIELD(crm_contact_record, phone, text, false, false),
        CRM_FIELD(crm_contact_record, role, text, false, false),
        CRM_FIELD(crm_contact_record, owner, text, false, false),
        CRM_FIELD(crm_contact_record, is_key_contact, boolean, false, false),
        CRM_FIELD(crm_contact_record, left_at_ms, time, false, false)}},
      {"order",
       CRM_RECORD_ORDER,
       sizeof(crm_order_record),
       {CRM_FIELD(crm_order_record, external_id, text, true, true),
        CRM_FIELD(crm_order_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_order_record, ordered_at_ms, time, false, false),
        CRM_FIELD(crm_order_record, amount, number, false, false),
        CRM_FIELD(crm_order_record, currency, text, false, false),
        CRM_FIELD(crm_order_record, product_line, text, false, false),
        CRM_FIELD(crm_order_record, quantity, number, false, false),
        CRM_FIELD(crm_order_record, status, text, false, false)}},
      {"payment",
       CRM_RECORD_PAYMENT,
       sizeof(crm_payment_record),
       {CRM_FIELD(crm_payment_record, external_id, text, true, true),
        CRM_FIELD(crm_payment_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_payment_record, order_external_id, text, false, true),
        CRM_FIELD(crm_payment_record, amount, number, false, false),
        CRM_FIELD(crm_payment_record, due_at_ms, time, false, false),
        CRM_FIELD(crm_payment_record, paid_at_ms, time, false, false)}},
      {"ticket",
       CRM_RECORD_TICKET,
       sizeof(crm_ticket_record),
       {CRM_FIELD(crm_ticket_record, external_id, text, true, true),
        CRM_FIELD(crm_ticket_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_ticket_record, opened_at_ms, time, false, false),
        CRM_FIELD(crm_ticket_record, first_response_at_ms, time, false, false),
        CRM_FIELD(crm_ticket_record, resolved_at_ms, time, false, false),
        CRM_FIELD(crm_ticket_record, category, text, false, false),
        CRM_FIELD(crm_ticket_record, subject, text, false, false),
        CRM_FIELD(crm_ticket_record, is_complaint, boolean, false, false)}},
      {"survey",
       CRM_RECORD_SURVEY,
       sizeof(crm_survey_record),
       {CRM_FIELD(crm_survey_record, external_id, text, true, true),
        CRM_FIELD(crm_survey_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_survey_record, answered_at_ms, time, false, false),
        CRM_FIELD(crm_survey_record, kind, survey_kind, true, false),
        CRM_FIELD(crm_survey_record, score, number, false, false)}},
      {"activity",
       CRM_RECORD_ACTIVITY,
       sizeof(crm_activity_record),
       {CRM_FIELD(crm_activity_record, external_id, text, true, true),
        CRM_FIELD(crm_activity_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_activity_record, contact_external_id, text, false, true),
        CRM_FIELD(crm_activity_record, occurred_at_ms, time, false, false),
        CRM_FIELD(crm_activity_record, kind, text, false, false),
        CRM_FIELD(crm_activity_record, detail, text, false, false)}},
      {"interaction",
       CRM_RECORD_INTERACTION,
       sizeof(crm_interaction_record),
       {CRM_FIELD(crm_interaction_record, external_id, text, true, true),
        CRM_FIELD(crm_interaction_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_interaction_record, contact_external_id, text, false, true),
        CRM_FIELD(crm_interaction_record, occurred_at_ms, time, false, false),
        CRM_FIELD(crm_interaction_record, channel, text, false, false),
        CRM_FIELD(crm_interaction_record, direction, direction, false, false),
        CRM_FIELD(crm_interaction_record, subject, text, false, false),
        CRM_FIELD(crm_interaction_record, keywords, text, false, false),
        CRM_FIELD(crm_interaction_record, is_complaint, boolean, false, false)}},
      {"attribute",
       CRM_RECORD_ATTRIBUTE,
       sizeof(crm_attribute_record),
       {CRM_FIELD(crm_attribute_record, customer_external_id, text, true, true),
        CRM_FIELD(crm_attribute_record, name, text, true, true),
        CRM_FIELD(crm_attribute_record, value, text, false, false)}},
  };
  return types;
}

#undef CRM_FIELD

// Ids and texts are bounded so one record cannot bloat the store; the limits
// are far above what any source sends.
constexpr int kMaxIdLength = 512;
constexpr int kMaxTextLength = 65'536;

nlohmann::json schema_of(const EventType& type) {
  nlohmann::json properties = {{"type", {{"const", type.name}}}};
  nlohmann::json required = nlohmann::json::array({"type"});
  for (const EventField& field : type.fields) {
    nlohmann::json schema;
    switch (field.kind) {
      case FieldKind::text:
        schema = {{"type", "string"}, {"maxLength", field.is_id ? kMaxIdLength : kMaxTextLength}};
        if (field.required) {
          schema["minLength"] = 1;
        }
        break;
      case FieldKind::time:
        schema = {{"type", "integer"}};
        break;
      case FieldKind::number:
        schema = {{"type", "number"}};
        break;
      case FieldKind::boolean:
        schema = {{"type", "boolean"}};
        break;
      case FieldKind::survey_kind:
        schema = {{"enum", {"csat", "nps"}}};
        break;
      case FieldKind::direction:
        schema = {{"enum", {"inbound", "outbound"}}};
        break;
    }
    properties[field.name] = schema;
    if (field.required) {
      required.push_back(field.name);
    }
  }
  return {{"$schema", "http://json-schema.org/draft-07/schema#"},
          {"title", fmt::format("{} record", type.name)},
          {"type", "object"},
          {"properties", properties},
          {"required", required},
          {"additionalProperties", false}};
}

struct CompiledType {
  const EventType* type;
  nlohmann::json schema;
  JsonSchema validator;
};

const std::map<std::string, CompiledType, std::less<>>& compiled_types() {
  static const std::map<std::string, CompiledType, std::less<>> compiled = [] {
    std::map<std::string, CompiledType, std::less<>> out;
    for (const EventType& type : event_types()) {
      nlohmann::json schema = schema_of(type);
      out.emplace(type.name, CompiledType{&type, schema, JsonSchema(schema)});
    }
    return out;
  }();
  return compiled;
}

crm_str str_of(const std::string& text) {
  return crm_str{text.data(), text.size()};
}

// Writes one validated JSON record into its SDK struct at `record` (zeroed
// by the caller). Strings point into `json`, which outlives the write.
void fill_record(const EventType& type, const nlohmann::json& json, unsigned char* record) {
  for (const EventField& field : type.fields) {
    unsigned char* at = record + field.offset;
    const auto found = json.find(field.name);
    const bool present = found != json.end();
    switch (field.kind) {
      case FieldKind::text: {
        const crm_str text = present ? str_of(found->get_ref<const std::string&>()) : crm_str{nullptr, 0};
        std::memcpy(at, &text, sizeof text);
        break;
      }
      case FieldKind::time: {
        const std::int64_t ms = present ? found->get<std::int64_t>() : CRM_TIME_UNKNOWN;
        std::memcpy(at, &ms, sizeof ms);
        break;
      }
      case FieldKind::number: {
        const double value = present ? found->get<double>() : std::numeric_limits<double>::quiet_NaN();
        std::memcpy(at, &value, sizeof value);
        break;
      }
      case FieldKind::boolean: {
        const bool value = present && found->get<bool>();
        std::memcpy(at, &value, sizeof value);
        break;
      }
      case FieldKind::survey_kind: {
        const crm_survey_kind kind = *found == "nps" ? CRM_SURVEY_NPS : CRM_SURVEY_CSAT;
        std::memcpy(at, &kind, sizeof kind);
        break;
      }
      case FieldKind::direction: {
        const crm_direction direction = !present              ? 0
                                        : *found == "inbound" ? CRM_DIRECTION_INBOUND
                                                              : CRM_DIRECTION_OUTBOUND;
        std::memcpy(at, &direction, sizeof direction);
        break;
      }
    }
  }
}

std::string external_id_of(const nlohmann::json& record) {
  if (!record.is_object()) {
    return {};
  }
  const auto found = record.find("external_id");
  if (found != record.end() && found->is_string()) {
    return found->get<std::string>();
  }
  // Attributes are keyed by customer and name, as the record writer keys them.
  const auto customer = record.find("customer_external_id");
  const auto name = record.find("name");
  if (customer != record.end() && customer->is_string() && name != record.end() && name->is_string()) {
    return fmt::format("{}/{}", customer->get<std::string>(), name->get<std::string>());
  }
  return {};
}

// Why `record` cannot be stored, or "".
std::string record_fault(const nlohmann::json& record, const CompiledType*& compiled) {
  compiled = nullptr;
  if (!record.is_object()) {
    return "a record must be a JSON object";
  }
  const auto type = record.find("type");
  if (type == record.end() || !type->is_string()) {
    return "/type: required, one of customer, contact, order, payment, ticket, survey, activity, interaction, "
           "attribute";
  }
  const auto& types = compiled_types();
  const auto found = types.find(type->get_ref<const std::string&>());
  if (found == types.end()) {
    return "/type: not one of customer, contact, order, payment, ticket, survey, activity, interaction, attribute";
  }
  const std::vector<SchemaViolation> violations = found->second.validator.validate(record);
  if (!violations.empty()) {
    return describe_violations(violations);
  }
  for (const EventField& field : found->second.type->fields) {
    if (!field.is_id) {
      continue;
    }
    if (const auto value = record.find(field.name); value != record.end()) {
      if (std::string fault = id_fault(value->get_ref<const std::string&>()); !fault.empty()) {
        return fmt::format("/{}: {}", field.name, fault);
      }
    }
  }
  compiled = &found->second;
  return {};
}

}  // namespace

const nlohmann::json& event_record_schema(const std::string& type) {
  const auto& types = compiled_types();
  const auto found = types.find(type);
  if (found == types.end()) {
    throw InvalidRequest(
        fmt::format("record type '{}' is none of customer, contact, order, payment, ticket, survey, "
                    "activity, interaction, attribute",
                    type));
  }
  return found->second.schema;
}

EventIngestResult ingest_events(Session& session, const nlohmann::json& body) {
  const StoreHandle store = session.open_store();
  return ingest_events(session, *store, body);
}

EventIngestResult ingest_events(Session& session, Store& store, const nlohmann::json& body) {
  if (!body.is_object()) {
    throw InvalidRequest("an event batch must be a JSON object {\"source\": ..., \"records\": [...]}");
  }
  const auto source = body.find("source");
  if (source == body.end() || !source->is_string() || source->get_ref<const std::string&>().empty()) {
    throw InvalidRequest("an event batch needs a non-empty string \"source\" (the sending system)");
  }
  if (std::string fault = id_fault(source->get_ref<const std::string&>()); !fault.empty()) {
    throw InvalidRequest(fmt::format("the batch's source cannot be a source name: {}", fault));
  }
  if (source->get_ref<const std::string&>().size() > static_cast<std::size_t>(kMaxIdLength)) {
    throw InvalidRequest(fmt::format("the batch's source is longer than {} bytes", kMaxIdLength));
  }
  const auto records = body.find("records");
  if (records == body.end() || !records->is_array()) {
    throw InvalidRequest("an event batch needs an array \"records\"");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "source" && key != "records") {
      throw InvalidRequest(fmt::format("an event batch has only \"source\" and \"records\", not \"{}\"", key));
    }
  }
  EventIngestResult result;
  result.source = source->get<std::string>();

  // One byte array per record type, in the SDK's layout, and where each record came from.
  struct TypeBatch {
    const EventType* type = nullptr;
    std::vector<unsigned char> bytes;
    std::size_t count = 0;
  };
  std::map<crm_record_type, TypeBatch> batches;
  std::vector<std::pair<std::size_t, std::string>> bad;  // index, reason
  for (std::size_t i = 0; i < records->size(); ++i) {
    const nlohmann::json& record = (*records)[i];
    const CompiledType* compiled = nullptr;
    if (std::string fault = record_fault(record, compiled); !fault.empty()) {
      bad.emplace_back(i, std::move(fault));
      continue;
    }
    TypeBatch& batch = batches[compiled->type->type];
    batch.type = compiled->type;
    batch.bytes.resize(batch.bytes.size() + compiled->type->record_size, 0);
    fill_record(*compiled->type, record, batch.bytes.data() + batch.count * compiled->type->record_size);
    ++batch.count;
  }
  // Customers first (the map's key order: CRM_RECORD_CUSTOMER is 1), so the
  // records naming them link to them rather than to placeholders.
  std::vector<crm_record_set> sets;
  for (const auto& [type, batch] : batches) {
    sets.push_back(
        crm_record_set{type, static_cast<std::uint32_t>(batch.type->record_size), batch.count, batch.bytes.data()});
  }

  RecordWriter writer(store.database(), result.source, parse_match_keys(session.config().match_keys));
  std::vector<RejectedRecord> refused;
  {
    Transaction transaction(store.database());
    result.counts = writer.write(sets.data(), sets.size(), refused);
    const std::int64_t now_ms = session.clock().now_ms();
    for (const auto& [index, reason] : bad) {
      store.quarantine(result.source, (*records)[index].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       reason, now_ms);
    }
    // Ids were checked above as the writer checks them; should it still refuse one, it is quarantined as a
    // connector's would be, named by the ids the writer reports (its position is not known).
    for (const RejectedRecord& record : refused) {
      store.quarantine(result.source, record.record, record.reason, now_ms);
    }
    transaction.commit();
  }
  result.accepted = static_cast<std::size_t>(result.counts.total());
  for (const auto& [index, reason] : bad) {
    result.rejected.push_back({index, external_id_of((*records)[index]), reason});
  }
  for (const RejectedRecord& record : refused) {
    result.rejected.push_back({records->size(), record.record, record.reason});
  }
  return result;
}

}  // namespace crm::host
