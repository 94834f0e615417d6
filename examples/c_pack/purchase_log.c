/* pack_purchase_log: a connector reading a purchase log, one purchase per
 * line, fields separated by blanks: customer id, date YYYYMMDD, quantity,
 * amount (the layout of the CDNOW data set). It hands the host one customer
 * record per customer and one order per line, in batches of `batch_size`
 * lines. Its cursor is "<line>:<byte offset>" of the next unread line, so a
 * sync resumes where the last committed batch ended (CRM_CAP_INCREMENTAL)
 * and reads only lines appended since. A line it cannot read is reported to
 * the host's quarantine with its line number and left out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_pack_manifest.h"
#include "pack.h"

/* Longer lines than this are bad records (a purchase line is ~40 bytes). */
#define LINE_CAPACITY 1024
#define FIELD_COUNT 4

typedef struct purchase_log {
  char* path;
  char* currency;
  bool skip_header;
  size_t batch_size;
  /* The last batch, kept until the next call as crm_batch requires. */
  char* text;
  size_t text_capacity;
  crm_customer_record* customers;
  crm_order_record* orders;
  crm_record_set sets[2];
  char cursor[64];
} purchase_log;

static const crm_record_type record_types[] = {CRM_RECORD_CUSTOMER, CRM_RECORD_ORDER};

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  const int64_t shifted_year = month <= 2 ? year - 1 : year;
  const int64_t era = (shifted_year >= 0 ? shifted_year : shifted_year - 399) / 400;
  const int64_t year_of_era = shifted_year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

static bool is_leap(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* "YYYYMMDD" to ms since the epoch (UTC midnight); false when not a date. */
static bool parse_date(crm_str text, int64_t* out_ms) {
  static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t digits[8];
  int64_t year = 0;
  int64_t month = 0;
  int64_t day = 0;
  size_t i = 0;
  if (text.size != 8) {
    return false;
  }
  for (i = 0; i < 8; ++i) {
    if (text.data[i] < '0' || text.data[i] > '9') {
      return false;
    }
    digits[i] = text.data[i] - '0';
  }
  year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
  month = digits[4] * 10 + digits[5];
  day = digits[6] * 10 + digits[7];
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] + (month == 2 && is_leap(year) ? 1 : 0)) {
    return false;
  }
  *out_ms = days_from_civil(year, month, day) * 86400000;
  return true;
}

/* A decimal number filling the whole field; false otherwise. */
static bool parse_number(crm_str text, double* out) {
  char copy[64];
  char* end = NULL;
  if (text.size == 0 || text.size >= sizeof copy) {
    return false;
  }
  memcpy(copy, text.data, text.size);
  copy[text.size] = '\0';
  errno = 0;
  *out = strtod(copy, &end);
  return errno == 0 && end == copy + text.size;
}

/* Splits `line` at blanks into at most FIELD_COUNT fields; returns how many it found. */
static size_t split_fields(char* line, size_t size, crm_str* fields) {
  size_t count = 0;
  size_t i = 0;
  while (i < size) {
    size_t start = 0;
    while (i < size && (line[i] == ' ' || line[i] == '\t')) {
      ++i;
    }
    if (i == size) {
      break;
    }
    start = i;
    while (i < size && line[i] != ' ' && line[i] != '\t') {
      ++i;
    }
    if (count == FIELD_COUNT) {
      return FIELD_COUNT + 1;
    }
    fields[count].data = line + start;
    fields[count].size = i - start;
    ++count;
  }
  return count;
}

static void destroy(crm_plugin_instance* instance) {
  purchase_log* log = (purchase_log*)instance;
  if (log == NULL) {
    return;
  }
  free(log->path);
  free(log->currency);
  free(log->text);
  free(log->customers);
  free(log->orders);
  free(log);
}

static crm_status create(const crm_host* host, crm_str config_json, crm_plugin_instance** out_instance,
                         crm_error* error) {
  static const crm_str skip_header_pointer = CRM_STR_LITERAL("/skip_header");
  static const crm_str batch_size_pointer = CRM_STR_LITERAL("/batch_size");
  purchase_log* log = (purchase_log*)calloc(1, sizeof *log);
  int64_t batch_size = 0;
  crm_status status = CRM_STATUS_OK;
  (void)config_json; /* the typed getters read it for us */
  if (log == NULL) {
    return crm_error_set(error, CRM_STATUS_FATAL, "out of memory");
  }
  /* The schema made path required and filled the defaults, so these succeed
   * unless the host is broken; still, say which setting when they do not. */
  if ((status = pack_config_string(host, "/path", &log->path)) != CRM_STATUS_OK ||
      (status = pack_config_string(host, "/currency", &log->currency)) != CRM_STATUS_OK) {
    destroy((crm_plugin_instance*)log);
    return pack_error(error, status == CRM_STATUS_FATAL ? status : CRM_STATUS_CONFIG, "path or currency",
                      "must be a string");
  }
  if (host->config_get_bool(host->context, skip_header_pointer, &log->skip_header) != CRM_STATUS_OK ||
      host->config_get_int(host->context, batch_size_pointer, &batch_size) != CRM_STATUS_OK || batch_size < 1) {
    destroy((crm_plugin_instance*)log);
    return crm_error_set(error, CRM_STATUS_CONFIG, "skip_header must be a boolean and batch_size a positive integer");
  }
  log->batch_size = (size_t)batch_size;
  log->customers = (crm_customer_record*)calloc(log->batch_size, sizeof *log->customers);
  log->orders = (crm_order_record*)calloc(log->batch_size, sizeof *log->orders);
  if (log->customers == NULL || log->orders == NULL) {
    destroy((crm_plugin_instance*)log);
    return crm_error_set(error, CRM_STATUS_FATAL, "out of memory for a batch; lower batch_size");
  }
  *out_instance = (crm_plugin_instance*)log;
  return CRM_STATUS_OK;
}

/* Where one line of the batch sits in the batch text. */
typedef struct line_span {
  size_t start;
  size_t size;
  size_t id_start; /* the order id "L<line number>", stored after the line */
  size_t id_size;
  unsigned long number;
} line_span;

/* Appends `size` bytes to the batch text at *used; false when memory runs out. */
static bool append_text(purchase_log* log, size_t* used, const char* bytes, size_t size) {
  if (*used + size > log->text_capacity) {
    size_t capacity = log->text_capacity == 0 ? 64 * 1024 : log->text_capacity;
    char* grown = NULL;
    while (capacity < *used + size) {
      capacity *= 2;
    }
    grown = (char*)realloc(log->text, capacity);
    if (grown == NULL) {
      return false;
    }
    log->text = grown;
    log->text_capacity = capacity;
  }
  memcpy(log->text + *used, bytes, size);
  *used += size;
  return true;
}

static void report(const crm_host* host, const char* line, size_t size, unsigned long line_number,
                   const char* problem) {
  char reason[160];
  crm_str raw;
  crm_str why;
  snprintf(reason, sizeof reason, "line %lu: %s", line_number, problem);
  raw.data = line;
  raw.size = size;
  why.data = reason;
  why.size = strlen(reason);
  host->report_bad_record(host->context, raw, why);
}

/* Reads up to batch_size lines after `*offset` into the batch text first: the
 * records point into that text, which must not move once they do. */
static crm_status read_lines(purchase_log* log, const crm_host* host, FILE* file, unsigned long* line_number,
                             long* offset, line_span* spans, size_t* span_count, bool* at_end, crm_batch* out) {
  char line[LINE_CAPACITY + 2];
  size_t used = 0;
  *span_count = 0;
  *at_end = false;
  /* A cancelled run (Ctrl-C, SIGTERM) stops at the line it reached: the cursor says where to go on. */
  while (*span_count < log->batch_size && !host->is_cancelled(host->context)) {
    size_t size = 0;
    bool too_long = false;
    char id[32];
    line_span* span = &spans[*span_count];
    const long line_start = ftell(file);
    if (line_start < 0) {
      return CRM_STATUS_RETRIABLE;
    }
    if (fgets(line, sizeof line, file) == NULL) {
      *at_end = true;
      break;
    }
    size = strlen(line);
    if (size == sizeof line - 1 && line[size - 1] != '\n') {
      int next = 0;
      too_long = true;
      while ((next = fgetc(file)) != EOF && next != '\n') {
      }
    }
    if (feof(file)) {
      /* The line has no line end yet: the log is still being written. The next sync reads it whole. */
      if (fseek(file, line_start, SEEK_SET) != 0) {
        return CRM_STATUS_RETRIABLE;
      }
      *at_end = true;
      break;
    }
    ++*line_number;
    while (size > 0 && (line[size - 1] == '\n' || line[size - 1] == '\r')) {
      --size;
    }
    if (*line_number == 1 && log->skip_header) {
      continue;
    }
    if (size == 0) {
      continue;
    }
    out->source_records += 1;
    if (too_long) {
      report(host, line, size, *line_number, "longer than 1024 bytes; not a purchase line");
      continue;
    }
    snprintf(id, sizeof id, "L%lu", *line_number);
    span->start = used;
    span->size = size;
    span->id_start = used + size;
    span->id_size = strlen(id);
    span->number = *line_number;
    if (!append_text(log, &used, line, size) || !append_text(log, &used, id, span->id_size)) {
      return CRM_STATUS_FATAL;
    }
    ++*span_count;
  }
  /* Where the next line starts, however the lines read were made (NUL bytes, CRLF). */
  *offset = ftell(file);
  return *offset < 0 ? CRM_STATUS_RETRIABLE : CRM_STATUS_OK;
}

static crm_status fetch(crm_plugin_instance* instance, const crm_host* host, crm_str cursor, crm_batch* out,
                        crm_error* error) {
  purchase_log* log = (purchase_log*)instance;
  unsigned long line_number = 0;
  long offset = 0;
  char cursor_text[64];
  line_span* spans = NULL;
  size_t span_count = 0;
  size_t customer_count = 0;
  size_t order_count = 0;
  size_t i = 0;
  bool at_end = false;
  crm_status status = CRM_STATUS_OK;
  FILE* file = NULL;

  if (cursor.size > 0) {
    if (cursor.size >= sizeof cursor_text) {
      return crm_error_set(error, CRM_STATUS_FATAL, "the cursor is not one this connector wrote");
    }
    memcpy(cursor_text, cursor.data, cursor.size);
    cursor_text[cursor.size] = '\0';
    if (sscanf(cursor_text, "%lu:%ld", &line_number, &offset) != 2 || offset < 0) {
      return crm_error_set(error, CRM_STATUS_FATAL, "the cursor is not one this connector wrote");
    }
  }
  file = fopen(log->path, "rb");
  if (file == NULL) {
    /* A missing file may be a share not mounted yet; a refused one will not fix itself. */
    return pack_error(error, errno == ENOENT ? CRM_STATUS_RETRIABLE : CRM_STATUS_CONFIG, "cannot open the log (path)",
                      strerror(errno));
  }
  if (offset > 0 && fseek(file, offset, SEEK_SET) != 0) {
    fclose(file);
    return crm_error_set(error, CRM_STATUS_FATAL, "cannot seek to the cursor; was the log replaced?");
  }
  spans = (line_span*)malloc(log->batch_size * sizeof *spans);
  if (spans == NULL) {
    fclose(file);
    return crm_error_set(error, CRM_STATUS_FATAL, "out of memory; lower batch_size");
  }
  status = read_lines(log, host, file, &line_number, &offset, spans, &span_count, &at_end, out);
  fclose(file);
  if (status != CRM_STATUS_OK) {
    free(spans);
    return crm_error_set(error, status,
                         status == CRM_STATUS_FATAL ? "out of memory; lower batch_size" : "cannot tell the position");
  }

  for (i = 0; i < span_count; ++i) {
    char* text = log->text + spans[i].start;
    crm_str fields[FIELD_COUNT + 1];
    crm_order_record* order = &log->orders[order_count];
    int64_t ordered_at_ms = 0;
    double quantity = 0;
    double amount = 0;
    if (split_fields(text, spans[i].size, fields) != FIELD_COUNT) {
      report(host, text, spans[i].size, spans[i].number, "expected 4 fields: customer id, date, quantity, amount");
      continue;
    }
    if (!parse_date(fields[1], &ordered_at_ms)) {
      report(host, text, spans[i].size, spans[i].number, "the date is not a valid YYYYMMDD");
      continue;
    }
    if (!parse_number(fields[2], &quantity) || !parse_number(fields[3], &amount)) {
      report(host, text, spans[i].size, spans[i].number, "quantity and amount must be numbers");
      continue;
    }
    /* The log is sorted by customer: a new customer starts where the id changes. */
    if (customer_count == 0 || log->customers[customer_count - 1].external_id.size != fields[0].size ||
        memcmp(log->customers[customer_count - 1].external_id.data, fields[0].data, fields[0].size) != 0) {
      crm_customer_record* customer = &log->customers[customer_count++];
      memset(customer, 0, sizeof *customer);
      customer->external_id = fields[0];
      customer->name = fields[0];
      customer->created_at_ms = CRM_TIME_UNKNOWN;
    }
    memset(order, 0, sizeof *order);
    /* The line number is the order's id: stable as long as the log only grows. */
    order->external_id.data = log->text + spans[i].id_start;
    order->external_id.size = spans[i].id_size;
    order->customer_external_id = fields[0];
    order->ordered_at_ms = ordered_at_ms;
    order->amount = amount;
    order->currency.data = log->currency;
    order->currency.size = strlen(log->currency);
    order->quantity = quantity;
    order->status.data = "confirmed";
    order->status.size = strlen("confirmed");
    ++order_count;
  }
  free(spans);

  log->sets[0].type = CRM_RECORD_CUSTOMER;
  log->sets[0].record_size = sizeof(crm_customer_record);
  log->sets[0].count = customer_count;
  log->sets[0].records = log->customers;
  log->sets[1].type = CRM_RECORD_ORDER;
  log->sets[1].record_size = sizeof(crm_order_record);
  log->sets[1].count = order_count;
  log->sets[1].records = log->orders;
  out->sets = log->sets;
  out->set_count = 2;
  snprintf(log->cursor, sizeof log->cursor, "%lu:%ld", line_number, offset);
  out->next_cursor.data = log->cursor;
  out->next_cursor.size = strlen(log->cursor);
  out->has_more = !at_end;
  return CRM_STATUS_OK;
}

static const crm_connector_api purchase_log_api = {sizeof(crm_connector_api), record_types,
                                                   sizeof record_types / sizeof record_types[0], fetch, NULL};

const crm_plugin_descriptor pack_purchase_log_descriptor = {sizeof(crm_plugin_descriptor),
                                                            CRM_MANIFEST_PACK_PURCHASE_LOG_KIND,
                                                            CRM_MANIFEST_PACK_PURCHASE_LOG_ID,
                                                            CRM_MANIFEST_PACK_PURCHASE_LOG_VERSION,
                                                            CRM_MANIFEST_PACK_PURCHASE_LOG_DESCRIPTION,
                                                            CRM_MANIFEST_PACK_PURCHASE_LOG_CONFIG_SCHEMA,
                                                            CRM_MANIFEST_PACK_PURCHASE_LOG_CAPABILITIES,
                                                            create,
                                                            destroy,
                                                            &purchase_log_api};
