/*
 * crm/connector.h - the API of a connector plugin (CRM_KIND_CONNECTOR):
 * something that reads a source (ERP, CSV exports, a mailbox, WeCom) and
 * hands the host typed records for the customer store.
 *
 * The sync loop (the host drives it; the connector never writes the store)
 * ----------------------------------------------------------------------
 *   cursor = the connector's last committed cursor ("" the first time)
 *   repeat:
 *     fetch(cursor) -> a batch of typed records, the cursor after them, has_more
 *     in ONE transaction: write the records (insert or update by
 *       (connector id, external_id)), the records the connector reported bad
 *       during the call (quarantine), and the new cursor
 *     cursor = batch.next_cursor
 *   until !has_more or the run is cancelled (checked between batches)
 * A crash at any point therefore loses nothing and duplicates nothing: the
 * next run resumes from the last committed cursor, and records are keyed by
 * their external id.
 *
 * Records cross the boundary as arrays of plain C structs, one array per
 * record type. Each array says the size of its record struct as the plugin
 * compiled it; the host reads only what that size covers (fields are only
 * ever appended), so a connector built against an older 1.x SDK keeps working.
 *
 * Conventions for record fields:
 *   - Strings are crm_str; an empty string ({NULL, 0} or size 0) is "unknown".
 *   - Times are milliseconds since the Unix epoch, UTC; CRM_TIME_UNKNOWN is unknown.
 *   - Numbers are doubles; NaN is unknown.
 *   - external_id is the record's id in its source, unique per record type
 *     within one connector; customer_external_id names a customer record of
 *     the same connector (the host makes a placeholder customer if that
 *     customer has not arrived yet).
 */
#ifndef CRM_CONNECTOR_H
#define CRM_CONNECTOR_H

#include "crm/abi.h"
#include "crm/host.h"
#include "crm/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An unknown time. Since: 1.0 */
#define CRM_TIME_UNKNOWN INT64_MIN

/*
 * Record types. Since: 1.0
 */
typedef uint32_t crm_record_type;
#define CRM_RECORD_CUSTOMER ((crm_record_type)1)
#define CRM_RECORD_CONTACT ((crm_record_type)2)
#define CRM_RECORD_ORDER ((crm_record_type)3)
#define CRM_RECORD_PAYMENT ((crm_record_type)4)
#define CRM_RECORD_TICKET ((crm_record_type)5)
#define CRM_RECORD_SURVEY ((crm_record_type)6)
#define CRM_RECORD_ACTIVITY ((crm_record_type)7)
#define CRM_RECORD_INTERACTION ((crm_record_type)8)
#define CRM_RECORD_ATTRIBUTE ((crm_record_type)9)

/* A customer (an account: a company buying from us). Since: 1.0 */
typedef struct crm_customer_record {
  crm_str external_id;
  crm_str name;
  /* Match keys: customers of several connectors with an equal key are one customer. */
  crm_str tax_id;
  crm_str email_domain;
  crm_str country;
  crm_str industry;
  int64_t created_at_ms;
} crm_customer_record;

/* A person at a customer, and who on our side owns the relationship. Since: 1.0 */
typedef struct crm_contact_record {
  crm_str external_id;
  crm_str customer_external_id;
  crm_str name;
  crm_str email;
  crm_str phone;
  crm_str role;
  /* Our account manager for this contact (an id or an e-mail address). */
  crm_str owner;
  bool is_key_contact;
  /* When the contact left the customer (a key person leaving is a churn signal). */
  int64_t left_at_ms;
} crm_contact_record;

/* An order or an order line. Cancellations and returns have a negative amount. Since: 1.0 */
typedef struct crm_order_record {
  crm_str external_id;
  crm_str customer_external_id;
  int64_t ordered_at_ms;
  /* In `currency` units (not cents): 12.5 is twelve and a half. */
  double amount;
  crm_str currency;
  crm_str product_line;
  double quantity;
  /* Free text of the source ("confirmed", "cancelled", ...). The host counts an order as a
   * purchase unless its amount is zero or negative or its status (any case) is cancelled,
   * canceled, cancel, draft, quotation, quote, void, voided, rejected, declined, returned or
   * refunded (README "Purchases"). */
  crm_str status;
} crm_order_record;

/* An invoice due and when it was paid. Since: 1.0 */
typedef struct crm_payment_record {
  crm_str external_id;
  crm_str customer_external_id;
  crm_str order_external_id;
  double amount;
  int64_t due_at_ms;
  /* CRM_TIME_UNKNOWN while unpaid. */
  int64_t paid_at_ms;
} crm_payment_record;

/* A support ticket or a complaint. Since: 1.0 */
typedef struct crm_ticket_record {
  crm_str external_id;
  crm_str customer_external_id;
  int64_t opened_at_ms;
  int64_t first_response_at_ms;
  int64_t resolved_at_ms;
  crm_str category;
  crm_str subject;
  bool is_complaint;
} crm_ticket_record;

/* Survey kinds. Since: 1.0 */
typedef int32_t crm_survey_kind;
#define CRM_SURVEY_CSAT ((crm_survey_kind)1) /* score 0-100 */
#define CRM_SURVEY_NPS ((crm_survey_kind)2)  /* answer 0-10 */

/* One survey answer. Since: 1.0 */
typedef struct crm_survey_record {
  crm_str external_id;
  crm_str customer_external_id;
  int64_t answered_at_ms;
  crm_survey_kind kind;
  double score;
} crm_survey_record;

/*
 * Something a customer's people did or that happened to the relationship:
 * kind is "login", "document_download", "meeting", "owner_changed",
 * "owner_left" or another word the detector is configured for.
 * Since: 1.0
 */
typedef struct crm_activity_record {
  crm_str external_id;
  crm_str customer_external_id;
  crm_str contact_external_id;
  int64_t occurred_at_ms;
  crm_str kind;
  crm_str detail;
} crm_activity_record;

/* Directions of an interaction. Since: 1.0 */
typedef int32_t crm_direction;
#define CRM_DIRECTION_INBOUND ((crm_direction)1)  /* from the customer to us */
#define CRM_DIRECTION_OUTBOUND ((crm_direction)2) /* from us to the customer */

/* A message between us and a customer (e-mail, WeCom). Since: 1.0 */
typedef struct crm_interaction_record {
  crm_str external_id;
  crm_str customer_external_id;
  crm_str contact_external_id;
  int64_t occurred_at_ms;
  /* "email", "wecom", ... */
  crm_str channel;
  crm_direction direction;
  crm_str subject;
  /* Comma-separated keywords the connector matched (e.g. "complaint,投诉"). */
  crm_str keywords;
  bool is_complaint;
} crm_interaction_record;

/* A named fact about a customer: tier hint, industry, strategic value... Since: 1.0 */
typedef struct crm_attribute_record {
  crm_str customer_external_id;
  crm_str name;
  crm_str value;
} crm_attribute_record;

/*
 * One array of records of one type.
 * Since: 1.0 for every field below.
 */
typedef struct crm_record_set {
  crm_record_type type;
  /* sizeof the record struct as the plugin compiled it; also the stride. */
  uint32_t record_size;
  size_t count;
  /* `count` records, `record_size` bytes apart. */
  const void* records;
} crm_record_set;

/*
 * What one fetch returns. The host zero-fills it before the call; the plugin
 * fills it. Every pointer in it (sets, records, their strings, next_cursor) is
 * plugin-owned and must stay valid until the next call on the same instance
 * (fetch, reprocess or destroy).
 * Since: 1.0 for every field below.
 */
typedef struct crm_batch {
  /* sizeof(crm_batch) as compiled into the host; the plugin must not write past it. */
  uint32_t struct_size;
  size_t set_count;
  const crm_record_set* sets;
  /* The position after this batch; stored with it. Opaque to the host. */
  crm_str next_cursor;
  /* True when the connector has more to give right now. */
  bool has_more;
  /* Source records read for this batch, bad ones included: for progress lines. */
  uint64_t source_records;
} crm_batch;

/*
 * crm_on_fetch: returns the next batch after `cursor`.
 * cursor: the last committed cursor, "" on the first sync. Borrowed for the call.
 * out:    host-owned, zero-filled; see crm_batch for the lifetime of what the
 *         plugin puts in it. A batch may be empty with has_more false.
 * Bad source records: report each with host->report_bad_record and leave it
 * out of the batch; the host quarantines them in the batch's transaction.
 * Returns: OK; RETRIABLE when the source is down (the host retries with
 *          bounded exponential backoff and jitter); CONFIG when credentials
 *          or settings are wrong (one clear message; no retry); CANCELLED
 *          when host->is_cancelled() turned true; FATAL otherwise.
 * Batch size: a few thousand records or a few MB is a good unit; the host
 *          checks for cancellation between batches.
 * Required: yes.  Threading: one call per instance at a time.  Since: 1.0
 */
typedef crm_status (*crm_on_fetch_fn)(crm_plugin_instance* instance, const crm_host* host, crm_str cursor,
                                      crm_batch* out, crm_error* error);

/*
 * crm_on_reprocess: turns one quarantined raw record back into records, after
 * the configuration or the connector was fixed (`crmhost quarantine retry`).
 * raw_record: exactly what the plugin passed to report_bad_record. Borrowed.
 * out:   as for fetch; next_cursor and has_more are ignored.
 * Returns: OK (the record is released from quarantine); DATA with the
 *          reason when it is still bad; other statuses as for fetch.
 * Required: no (NULL: quarantined records of this connector cannot be retried).
 * Threading: as fetch.  Since: 1.0
 */
typedef crm_status (*crm_on_reprocess_fn)(crm_plugin_instance* instance, const crm_host* host, crm_str raw_record,
                                          crm_batch* out, crm_error* error);

/*
 * The connector's API table; the descriptor's kind_api points at one.
 * Plugin-owned, static. Since: 1.0 for every field below.
 */
typedef struct crm_connector_api {
  /* sizeof(crm_connector_api) as compiled into the plugin. Required. */
  uint32_t struct_size;
  /* The record types this connector produces. Required, at least one. */
  const crm_record_type* record_types;
  size_t record_type_count;
  /* Required. */
  crm_on_fetch_fn fetch;
  /* Optional (NULL: not supported). */
  crm_on_reprocess_fn reprocess;
} crm_connector_api;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_CONNECTOR_H */
