// crm/record_layout.hpp - the fields of every connector record struct
// (crm/connector.h) by name, kind and offset, for code that maps records
// generically: a CSV column mapping in a connector, the host's store writer.
// The names are the struct members' names and the store's column names.
//
// Header-only C++17. Since: 1.0 for everything in this header.
#ifndef CRM_RECORD_LAYOUT_HPP
#define CRM_RECORD_LAYOUT_HPP

#include <cstddef>
#include <iterator>
#include <string_view>

#include "crm/connector.h"

namespace crm {

// How a field is stored in its struct.
enum class FieldKind {
  text,         // crm_str; empty is unknown
  time,         // int64_t ms since the epoch; CRM_TIME_UNKNOWN is unknown
  real,         // double; NaN is unknown
  flag,         // bool
  survey_kind,  // crm_survey_kind
  direction,    // crm_direction
};

struct RecordField {
  const char* name;
  FieldKind kind;
  std::size_t offset;
};

struct RecordLayout {
  crm_record_type type;
  const char* name;  // "order", "customer", ...
  std::size_t size;  // sizeof the struct in this SDK
  const RecordField* fields;
  std::size_t field_count;

  [[nodiscard]] const RecordField* begin() const noexcept { return fields; }
  [[nodiscard]] const RecordField* end() const noexcept { return fields + field_count; }
  [[nodiscard]] const RecordField* find(std::string_view field_name) const noexcept {
    for (const RecordField& field : *this) {
      if (field_name == field.name) {
        return &field;
      }
    }
    return nullptr;
  }
};

namespace detail {

#define CRM_RECORD_FIELD(record, field, kind)        \
  RecordField {                                      \
#field, FieldKind::kind, offsetof(record, field) \
  }

inline constexpr RecordField kCustomerFields[] = {CRM_RECORD_FIELD(crm_customer_record, external_id, text),
                                                  CRM_RECORD_FIELD(crm_customer_record, name, text),
                                                  CRM_RECORD_FIELD(crm_customer_record, tax_id, text),
                                                  CRM_RECORD_FIELD(crm_customer_record, email_domain, text),
                                                  CRM_RECORD_FIELD(crm_customer_record, country, text),
                                                  CRM_RECORD_FIELD(crm_customer_record, industry, text),
                                                  CRM_RECORD_FIELD(crm_customer_record, created_at_ms, time)};

inline constexpr RecordField kContactFields[] = {CRM_RECORD_FIELD(crm_contact_record, external_id, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, customer_external_id, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, name, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, email, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, phone, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, role, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, owner, text),
                                                 CRM_RECORD_FIELD(crm_contact_record, is_key_contact, flag),
                                                 CRM_RECORD_FIELD(crm_contact_record, left_at_ms, time)};

inline constexpr RecordField kOrderFields[] = {CRM_RECORD_FIELD(crm_order_record, external_id, text),
                                               CRM_RECORD_FIELD(crm_order_record, customer_external_id, text),
                                               CRM_RECORD_FIELD(crm_order_record, ordered_at_ms, time),
                                               CRM_RECORD_FIELD(crm_order_record, amount, real),
                                               CRM_RECORD_FIELD(crm_order_record, currency, text),
                                               CRM_RECORD_FIELD(crm_order_record, product_line, text),
                                               CRM_RECORD_FIELD(crm_order_record, quantity, real),
                                               CRM_RECORD_FIELD(crm_order_record, status, text)};

inline constexpr RecordField kPaymentFields[] = {CRM_RECORD_FIELD(crm_payment_record, external_id, text),
                                                 CRM_RECORD_FIELD(crm_payment_record, customer_external_id, text),
                                                 CRM_RECORD_FIELD(crm_payment_record, order_external_id, text),
                                                 CRM_RECORD_FIELD(crm_payment_record, amount, real),
                                                 CRM_RECORD_FIELD(crm_payment_record, due_at_ms, time),
                                                 CRM_RECORD_FIELD(crm_payment_record, paid_at_ms, time)};

inline constexpr RecordField kTicketFields[] = {CRM_RECORD_FIELD(crm_ticket_record, external_id, text),
                                                CRM_RECORD_FIELD(crm_ticket_record, customer_external_id, text),
                                                CRM_RECORD_FIELD(crm_ticket_record, opened_at_ms, time),
                                                CRM_RECORD_FIELD(crm_ticket_record, first_response_at_ms, time),
                                                CRM_RECORD_FIELD(crm_ticket_record, resolved_at_ms, time),
                                                CRM_RECORD_FIELD(crm_ticket_record, category, text),
                                                CRM_RECORD_FIELD(crm_ticket_record, subject, text),
                                                CRM_RECORD_FIELD(crm_ticket_record, is_complaint, flag)};

inline constexpr RecordField kSurveyFields[] = {CRM_RECORD_FIELD(crm_survey_record, external_id, text),
                                                CRM_RECORD_FIELD(crm_survey_record, customer_external_id, text),
                                                CRM_RECORD_FIELD(crm_survey_record, answered_at_ms, time),
                                                CRM_RECORD_FIELD(crm_survey_record, kind, survey_kind),
                                                CRM_RECORD_FIELD(crm_survey_record, score, real)};

inline constexpr RecordField kActivityFields[] = {CRM_RECORD_FIELD(crm_activity_record, external_id, text),
                                                  CRM_RECORD_FIELD(crm_activity_record, customer_external_id, text),
                                                  CRM_RECORD_FIELD(crm_activity_record, contact_external_id, text),
                                                  CRM_RECORD_FIELD(crm_activity_record, occurred_at_ms, time),
                                                  CRM_RECORD_FIELD(crm_activity_record, kind, text),
                                                  CRM_RECORD_FIELD(crm_activity_record, detail, text)};

inline constexpr RecordField kInteractionFields[] = {
    CRM_RECORD_FIELD(crm_interaction_record, external_id, text),
    CRM_RECORD_FIELD(crm_interaction_record, customer_external_id, text),
    CRM_RECORD_FIELD(crm_interaction_record, contact_external_id, text),
    CRM_RECORD_FIELD(crm_interaction_record, occurred_at_ms, time),
    CRM_RECORD_FIELD(crm_interaction_record, channel, text),
    CRM_RECORD_FIELD(crm_interaction_record, direction, direction),
    CRM_RECORD_FIELD(crm_interaction_record, subject, text),
    CRM_RECORD_FIELD(crm_interaction_record, keywords, text),
    CRM_RECORD_FIELD(crm_interaction_record, is_complaint, flag)};

inline constexpr RecordField kAttributeFields[] = {CRM_RECORD_FIELD(crm_attribute_record, customer_external_id, text),
                                                   CRM_RECORD_FIELD(crm_attribute_record, name, text),
                                                   CRM_RECORD_FIELD(crm_attribute_record, value, text)};

#undef CRM_RECORD_FIELD

template <std::size_t N>
constexpr RecordLayout layout(crm_record_type type, const char* name, std::size_t size,
                              const RecordField (&fields)[N]) {
  return RecordLayout{type, name, size, fields, N};
}

inline constexpr RecordLayout kRecordLayouts[] = {
    layout(CRM_RECORD_CUSTOMER, "customer", sizeof(crm_customer_record), kCustomerFields),
    layout(CRM_RECORD_CONTACT, "contact", sizeof(crm_contact_record), kContactFields),
    layout(CRM_RECORD_ORDER, "order", sizeof(crm_order_record), kOrderFields),
    layout(CRM_RECORD_PAYMENT, "payment", sizeof(crm_payment_record), kPaymentFields),
    layout(CRM_RECORD_TICKET, "ticket", sizeof(crm_ticket_record), kTicketFields),
    layout(CRM_RECORD_SURVEY, "survey", sizeof(crm_survey_record), kSurveyFields),
    layout(CRM_RECORD_ACTIVITY, "activity", sizeof(crm_activity_record), kActivityFields),
    layout(CRM_RECORD_INTERACTION, "interaction", sizeof(crm_interaction_record), kInteractionFields),
    layout(CRM_RECORD_ATTRIBUTE, "attribute", sizeof(crm_attribute_record), kAttributeFields),
};

}  // namespace detail

// Every record type of this SDK.
inline const RecordLayout* record_layouts_begin() noexcept {
  return std::begin(detail::kRecordLayouts);
}
inline const RecordLayout* record_layouts_end() noexcept {
  return std::end(detail::kRecordLayouts);
}

// The layout of a record type, or nullptr when this SDK does not know it.
inline const RecordLayout* record_layout(crm_record_type type) noexcept {
  for (const RecordLayout& layout : detail::kRecordLayouts) {
    if (layout.type == type) {
      return &layout;
    }
  }
  return nullptr;
}

// The layout of a record type by name ("order"), or nullptr.
inline const RecordLayout* record_layout(std::string_view name) noexcept {
  for (const RecordLayout& layout : detail::kRecordLayouts) {
    if (name == layout.name) {
      return &layout;
    }
  }
  return nullptr;
}

}  // namespace crm

#endif  // CRM_RECORD_LAYOUT_HPP
