#include "store/record_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <optional>
#include <unordered_set>

#include "crm/record_layout.hpp"
#include "store/postgresql/connection.hpp"

namespace crm::host {
namespace {

using crm::FieldKind;
using crm::RecordField;
using crm::RecordLayout;

const char* table_of(crm_record_type type) {
  switch (type) {
    case CRM_RECORD_CUSTOMER:
      return "customers";
    case CRM_RECORD_CONTACT:
      return "contacts";
    case CRM_RECORD_ORDER:
      return "orders";
    case CRM_RECORD_PAYMENT:
      return "payments";
    case CRM_RECORD_TICKET:
      return "tickets";
    case CRM_RECORD_SURVEY:
      return "surveys";
    case CRM_RECORD_ACTIVITY:
      return "activities";
    case CRM_RECORD_INTERACTION:
      return "interactions";
    case CRM_RECORD_ATTRIBUTE:
      return "customer_attributes";
    default:
      return nullptr;
  }
}

template <class T>
T read_field(const unsigned char* record, std::size_t offset) {
  T value{};
  std::memcpy(&value, record + offset, sizeof value);
  return value;
}

std::string_view read_text(const unsigned char* record, std::size_t offset) {
  const auto text = read_field<crm_str>(record, offset);
  return text.data == nullptr ? std::string_view{} : std::string_view(text.data, text.size);
}

// Binds one field; unknown values (empty string, CRM_TIME_UNKNOWN, NaN) become NULL.
void bind_field(Statement& statement, int index, const RecordField& field, const unsigned char* record) {
  switch (field.kind) {
    case FieldKind::text: {
      const std::string_view text = read_text(record, field.offset);
      text.empty() ? statement.bind_null(index) : statement.bind(index, text);
      return;
    }
    case FieldKind::time: {
      const auto value = read_field<std::int64_t>(record, field.offset);
      value == CRM_TIME_UNKNOWN ? statement.bind_null(index) : statement.bind(index, value);
      return;
    }
    case FieldKind::real: {
      const auto value = read_field<double>(record, field.offset);
      std::isnan(value) ? statement.bind_null(index) : statement.bind(index, value);
      return;
    }
    case FieldKind::flag:
      statement.bind(index, static_cast<std::int64_t>(read_field<bool>(record, field.offset) ? 1 : 0));
      return;
    case FieldKind::survey_kind: {
      const auto kind = read_field<crm_survey_kind>(record, field.offset);
      if (kind == CRM_SURVEY_CSAT) {
        statement.bind(index, std::string_view("csat"));
      } else if (kind == CRM_SURVEY_NPS) {
        statement.bind(index, std::string_view("nps"));
      } else {
        throw RecordSetError(fmt::format("survey kind {} is neither CRM_SURVEY_CSAT nor CRM_SURVEY_NPS", kind));
      }
      return;
    }
    case FieldKind::direction: {
      const auto direction = read_field<crm_direction>(record, field.offset);
      if (direction == CRM_DIRECTION_INBOUND) {
        statement.bind(index, std::string_view("inbound"));
      } else if (direction == CRM_DIRECTION_OUTBOUND) {
        statement.bind(index, std::string_view("outbound"));
      } else {
        throw RecordSetError(fmt::format("interaction direction {} is neither inbound nor outbound", direction));
      }
      return;
    }
  }
}

constexpr std::string_view kUniqueViolation = "23505";

// The same field as bind_field binds, written into a COPY row.
void copy_field(postgresql::CopyIn& copy, const RecordField& field, const unsigned char* record) {
  switch (field.kind) {
    case FieldKind::text: {
      const std::string_view text = read_text(record, field.offset);
      text.empty() ? copy.add_null() : copy.add_text(text);
      return;
    }
    case FieldKind::time: {
      const auto value = read_field<std::int64_t>(record, field.offset);
      value == CRM_TIME_UNKNOWN ? copy.add_null() : copy.add_int64(value);
      return;
    }
    case FieldKind::real: {
      const auto value = read_field<double>(record, field.offset);
      std::isnan(value) ? copy.add_null() : copy.add_double(value);
      return;
    }
    case FieldKind::flag:
      copy.add_int64(read_field<bool>(record, field.offset) ? 1 : 0);
      return;
    case FieldKind::survey_kind: {
      const auto kind = read_field<crm_survey_kind>(record, field.offset);
      if (kind != CRM_SURVEY_CSAT && kind != CRM_SURVEY_NPS) {
        throw RecordSetError(fmt::format("survey kind {} is neither CRM_SURVEY_CSAT nor CRM_SURVEY_NPS", kind));
      }
      copy.add_text(kind == CRM_SURVEY_CSAT ? "csat" : "nps");
      return;
    }
    case FieldKind::direction: {
      const auto direction = read_field<crm_direction>(record, field.offset);
      if (direction != CRM_DIRECTION_INBOUND && direction != CRM_DIRECTION_OUTBOUND) {
        throw RecordSetError(fmt::format("interaction direction {} is neither inbound nor outbound", direction));
      }
      copy.add_text(direction == CRM_DIRECTION_INBOUND ? "inbound" : "outbound");
      return;
    }
  }
}

std::string match_key_column(MatchKey key) {
  switch (key) {
    case MatchKey::tax_id:
      return "tax_id";
    case MatchKey::email_domain:
      return "email_domain";
    case MatchKey::name:
      return "name";
  }
  return "tax_id";
}

// The code point of the UTF-8 sequence at `bytes[at]` and its length in bytes;
// length 0 when the bytes there are not valid UTF-8 (overlong, surrogate,
// beyond U+10FFFF, truncated or a stray continuation byte).
struct Decoded {
  std::uint32_t code_point = 0;
  std::size_t length = 0;
};

Decoded decode_utf8(std::string_view text, std::size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  if (lead < 0x80) {
    return {lead, 1};
  }
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  std::uint32_t smallest = 0;
  if ((lead & 0xE0U) == 0xC0U) {
    length = 2;
    code_point = lead & 0x1FU;
    smallest = 0x80;
  } else if ((lead & 0xF0U) == 0xE0U) {
    length = 3;
    code_point = lead & 0x0FU;
    smallest = 0x800;
  } else if ((lead & 0xF8U) == 0xF0U) {
    length = 4;
    code_point = lead & 0x07U;
    smallest = 0x10000;
  } else {
    return {};
  }
  if (at + length > text.size()) {
    return {};
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[at + k]);
    if ((next & 0xC0U) != 0x80U) {
      return {};
    }
    code_point = (code_point << 6U) | (next & 0x3FU);
  }
  if (code_point < smallest || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return {};
  }
  return {code_point, length};
}

bool is_control(std::uint32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

// The id fields of a layout: external_id and every reference *_external_id.
bool is_id_field(const RecordField& field) {
  const std::string_view name(field.name);
  constexpr std::string_view suffix = "_external_id";
  return field.kind == FieldKind::text &&
         (name == "external_id" || (name.size() > suffix.size() && name.ends_with(suffix)));
}

// The id printable whatever it holds: control characters and bytes that are
// not UTF-8 become \xHH, so a quarantine listing never prints them raw.
std::string escaped(std::string_view id) {
  std::string out;
  for (std::size_t i = 0; i < id.size();) {
    const Decoded decoded = decode_utf8(id, i);
    if (decoded.length == 0 || is_control(decoded.code_point) || decoded.code_point == '\\') {
      const auto byte = static_cast<unsigned char>(id[i]);
      out += byte == '\\' ? std::string("\\\\") : fmt::format("\\x{:02X}", byte);
      ++i;
      continue;
    }
    out.append(id.substr(i, decoded.length));
    i += decoded.length;
  }
  return out;
}

}  // namespace

std::string id_fault(std::string_view id) {
  for (std::size_t i = 0; i < id.size();) {
    const Decoded decoded = decode_utf8(id, i);
    if (decoded.length == 0) {
      return fmt::format("a byte 0x{:02X} that is not UTF-8 at byte {}", static_cast<unsigned char>(id[i]), i + 1);
    }
    if (decoded.code_point == 0) {
      return fmt::format("a NUL byte at byte {}", i + 1);
    }
    if (is_control(decoded.code_point)) {
      return fmt::format("control character U+{:04X} at byte {}", decoded.code_point, i + 1);
    }
    i += decoded.length;
  }
  return {};
}

// Checked here, not only in connectors, so that every connector (a C pack,
// IMAP, an ERP API) is held to it: one bad id quarantines its record and the
// rest of the batch is stored. "" when every id of the record can be stored.
std::string record_fault(const RecordLayout& layout, const unsigned char* record, std::size_t index) {
  for (const RecordField& field : layout) {
    if (!is_id_field(field)) {
      continue;
    }
    if (std::string why = id_fault(read_text(record, field.offset)); !why.empty()) {
      return fmt::format(
          "{} record {} of the batch: {} holds {}; an id may hold neither NUL, control "
          "characters nor invalid UTF-8 (correct the id in the source)",
          layout.name, index + 1, field.name, why);
    }
  }
  return {};
}

// The record's ids, for the quarantine: 'order external_id="A\x00" customer_external_id="C1"'.
std::string ids_of(const RecordLayout& layout, const unsigned char* record) {
  std::string ids;
  for (const RecordField& field : layout) {
    if (is_id_field(field)) {
      ids += fmt::format("{}{}=\"{}\"", ids.empty() ? "" : " ", field.name, escaped(read_text(record, field.offset)));
    }
  }
  return fmt::format("{} {}", layout.name, ids);
}

// The prepared statements of one table: insert-if-new, then update-if-changed.
// Its columns are the record's fields by name; external_id and
// customer_external_id become the key and the customer_id reference.
struct RecordWriter::TableWriter {
  TableWriter(Database& db, const RecordLayout& layout_in)
      : layout(layout_in),
        table(table_of(layout_in.type)),
        external_id(layout_in.find("external_id")),
        customer(layout_in.find("customer_external_id")) {
    for (const RecordField& field : layout) {
      if (&field != external_id && &field != customer) {
        columns.push_back(&field);
      }
    }
    insert.emplace(make_insert(db));
    update.emplace(make_update(db));
  }

  [[nodiscard]] int first_field_index() const { return customer != nullptr ? 4 : 3; }

  [[nodiscard]] Statement make_insert(Database& db) const {
    std::string names = "source, external_id";
    std::string values = "?1, ?2";
    if (customer != nullptr) {
      names += ", customer_id";
      values += ", ?3";
    }
    int index = first_field_index();
    for (const RecordField* field : columns) {
      names += fmt::format(", {}", field->name);
      values += fmt::format(", ?{}", index++);
    }
    if (layout.type == CRM_RECORD_CUSTOMER) {
      names += ", is_placeholder";
      values += ", 0";
    }
    return db.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (source, external_id) DO NOTHING", table,
                                  names, values));
  }

  [[nodiscard]] Statement make_update(Database& db) const {
    std::string assignments;
    std::string changed;
    const auto add = [&](const std::string& column, int index) {
      assignments += fmt::format("{}{} = ?{}", assignments.empty() ? "" : ", ", column, index);
      changed += fmt::format("{}{} IS DISTINCT FROM ?{}", changed.empty() ? "" : " OR ", column, index);
    };
    if (customer != nullptr) {
      add("customer_id", 3);
    }
    int index = first_field_index();
    for (const RecordField* field : columns) {
      add(field->name, index++);
    }
    if (layout.type == CRM_RECORD_CUSTOMER) {
      assignments += ", is_placeholder = 0";
      changed += " OR is_placeholder != 0";
    }
    return db.prepare(
        fmt::format("UPDATE {} SET {} WHERE source = ?1 AND external_id = ?2 AND ({})", table, assignments, changed));
  }

  // PostgreSQL: a batch's rows go to the table by COPY when none of them is
  // there yet (a first import; a unique key that exists ends that COPY, and
  // the table then takes the staged path for the rest of the writer's life),
  // else to a temporary staging table by COPY, then one UPDATE of the rows
  // whose values differ (as the update above) and one INSERT of the new ones.
  [[nodiscard]] std::vector<std::string> stage_columns() const {
    std::vector<std::string> names = {"source", "external_id"};
    if (customer != nullptr) {
      names.emplace_back("customer_id");
    }
    for (const RecordField* field : columns) {
      names.emplace_back(field->name);
    }
    return names;
  }

  [[nodiscard]] std::string stage_table() const { return fmt::format("crm_stage_{}", table); }

  void prepare_staging(Database& db) {
    if (merge_update) {
      return;
    }
    std::string names;
    std::string assignments;
    std::string changed;
    for (const std::string& column : stage_columns()) {
      names += fmt::format("{}{}", names.empty() ? "" : ", ", column);
      if (column != "source" && column != "external_id") {
        assignments += fmt::format("{}{} = staged.{}", assignments.empty() ? "" : ", ", column, column);
        changed += fmt::format("{}target.{} IS DISTINCT FROM staged.{}", changed.empty() ? "" : " OR ", column, column);
      }
    }
    db.exec(fmt::format("CREATE TEMP TABLE IF NOT EXISTS {} AS SELECT {} FROM {} WITH NO DATA", stage_table(), names,
                        table));
    merge_update.emplace(
        db.prepare(fmt::format("UPDATE {} AS target SET {} FROM {} AS staged WHERE target.source = staged.source AND "
                               "target.external_id = staged.external_id AND ({})",
                               table, assignments, stage_table(), changed)));
    merge_insert.emplace(db.prepare(
        fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM {2} AS staged WHERE NOT EXISTS (SELECT 1 FROM {0} AS "
                    "target WHERE target.source = staged.source AND target.external_id = staged.external_id)",
                    table, names, stage_table())));
  }

  const RecordLayout& layout;
  const char* table;
  const RecordField* external_id;  // nullptr: derived from the customer and the name (attributes)
  const RecordField* customer;     // nullptr: the record is a customer
  std::vector<const RecordField*> columns;
  std::optional<Statement> insert;
  std::optional<Statement> update;
  // PostgreSQL's bulk path, prepared on first use.
  bool rows_may_exist = false;
  std::optional<Statement> merge_update;
  std::optional<Statement> merge_insert;
};

std::vector<MatchKey> parse_match_keys(const std::vector<std::string>& names) {
  std::vector<MatchKey> keys;
  for (const std::string& name : names) {
    if (name == "tax_id") {
      keys.push_back(MatchKey::tax_id);
    } else if (name == "email_domain") {
      keys.push_back(MatchKey::email_domain);
    } else if (name == "name") {
      keys.push_back(MatchKey::name);
    } else {
      throw std::invalid_argument(
          fmt::format("unknown customer match key \"{}\"; use tax_id, email_domain or name", name));
    }
  }
  return keys;
}

RecordWriter::RecordWriter(Database& db, std::string source, std::vector<MatchKey> match_keys)
    : db_(db),
      source_(std::move(source)),
      match_keys_(std::move(match_keys)),
      find_customer_(db.prepare("SELECT id FROM customers WHERE source = ?1 AND external_id = ?2")),
      insert_placeholder_(
          db.prepare("INSERT INTO customers (source, external_id, is_placeholder) VALUES (?1, ?2, 1) RETURNING id")),
      set_unified_id_(
          db.prepare("UPDATE customers SET unified_id = ?2 WHERE id = ?1 AND unified_id IS DISTINCT FROM ?2")) {
  for (const RecordLayout* layout = crm::record_layouts_begin(); layout != crm::record_layouts_end(); ++layout) {
    tables_.push_back(std::make_unique<TableWriter>(db, *layout));
  }
  for (const MatchKey key : match_keys_) {
    const std::string column = match_key_column(key);
    const std::string left = key == MatchKey::name ? "lower(name)" : column;
    const std::string right = key == MatchKey::name ? "lower(?2)" : "?2";
    find_link_.push_back(db.prepare(
        fmt::format("SELECT min(unified_id) FROM customers WHERE {} = {} AND source != ?1 AND unified_id IS NOT NULL",
                    left, right)));
  }
}

RecordWriter::~RecordWriter() = default;

std::int64_t RecordWriter::customer_id(std::string_view external_id) {
  if (const auto cached = customer_ids_.find(external_id)) {
    return *cached;
  }
  std::int64_t id = 0;
  find_customer_.bind(1, source_).bind(2, external_id);
  if (find_customer_.step()) {
    id = find_customer_.column_int64(0);
    find_customer_.reset();
  } else {
    find_customer_.reset();
    // The customer has not arrived yet (an orders export without a customers
    // export): keep a placeholder that the customer record fills in later.
    insert_placeholder_.bind(1, source_).bind(2, external_id);
    if (!insert_placeholder_.step()) {
      throw SqliteError("inserting a placeholder customer returned no id");
    }
    id = insert_placeholder_.column_int64(0);
    insert_placeholder_.reset();
    set_unified_id_.bind(1, id).bind(2, id).run();
  }
  customer_ids_.insert(external_id, id);
  return id;
}

namespace {

// A PostgreSQL text[] literal: {"a","b\"c"}.
std::string text_array(const std::vector<std::string_view>& values) {
  std::string literal = "{";
  for (const std::string_view value : values) {
    literal += literal.size() > 1 ? ",\"" : "\"";
    for (const char c : value) {
      if (c == '"' || c == '\\') {
        literal += '\\';
      }
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

}  // namespace

// One query for the customers a batch names that the cache lacks, and one
// insert for the placeholders among them, instead of two or three round
// trips per customer.
void RecordWriter::resolve_customers(std::vector<std::string_view> external_ids) {
  // In the order the batch first names them: new customers get their ids in
  // that order, as the row-by-row path and SQLite give them.
  std::unordered_set<std::string_view> seen;
  // Ids a record may not hold are quarantined with their record, not looked up.
  std::erase_if(external_ids, [&](std::string_view id) {
    return id.empty() || !seen.insert(id).second || customer_ids_.find(id).has_value() || !id_fault(id).empty();
  });
  if (external_ids.empty()) {
    return;
  }
  Statement found =
      db_.prepare("SELECT external_id, id FROM customers WHERE source = ?1 AND external_id = ANY(CAST(?2 AS TEXT[]))");
  found.bind(1, source_).bind(2, text_array(external_ids));
  while (found.step()) {
    customer_ids_.insert(found.column_view(0), found.column_int64(1));
  }
  std::erase_if(external_ids, [&](std::string_view id) { return customer_ids_.find(id).has_value(); });
  if (external_ids.empty()) {
    return;
  }
  // The customer has not arrived yet (an orders export without a customers
  // export): placeholders, each its own unified customer, that the customer
  // record fills in later.
  Statement created = db_.prepare(
      "WITH named AS (SELECT external_id, position FROM unnest(CAST(?2 AS TEXT[])) WITH ORDINALITY AS "
      "listed(external_id, position)), "
      "fresh AS (SELECT nextval(pg_get_serial_sequence('customers', 'id')) AS id, external_id FROM named "
      "ORDER BY position) "
      "INSERT INTO customers (id, unified_id, source, external_id, is_placeholder) "
      "SELECT id, id, ?1, external_id, 1 FROM fresh RETURNING external_id, id");
  created.bind(1, source_).bind(2, text_array(external_ids));
  while (created.step()) {
    customer_ids_.insert(created.column_view(0), created.column_int64(1));
  }
}

void RecordWriter::link_customer(std::string_view external_id, const crm_customer_record& record) {
  const std::int64_t id = customer_id(external_id);
  std::int64_t unified_id = id;
  for (std::size_t k = 0; k < match_keys_.size(); ++k) {
    const crm_str value = match_keys_[k] == MatchKey::tax_id         ? record.tax_id
                          : match_keys_[k] == MatchKey::email_domain ? record.email_domain
                                                                     : record.name;
    if (value.size == 0) {
      continue;
    }
    Statement& find = find_link_[k];
    find.bind(1, source_).bind(2, std::string_view(value.data, value.size));
    const bool linked = find.step() && !find.column_is_null(0);
    if (linked) {
      unified_id = find.column_int64(0);
    }
    find.reset();
    if (linked) {
      break;
    }
  }
  set_unified_id_.bind(1, id).bind(2, unified_id).run();
}

WriteCounts RecordWriter::write(const crm_record_set* sets, std::size_t set_count,
                                std::vector<RejectedRecord>& rejected) {
  WriteCounts counts;
  for (std::size_t s = 0; s < set_count; ++s) {
    const crm_record_set& set = sets[s];
    TableWriter* table = nullptr;
    for (const auto& candidate : tables_) {
      if (candidate->layout.type == set.type) {
        table = candidate.get();
      }
    }
    if (table == nullptr) {
      throw RecordSetError(fmt::format("record type {} is unknown to this host", set.type));
    }
    const RecordLayout& layout = table->layout;
    if (set.record_size < layout.size) {
      throw RecordSetError(fmt::format("{} records of {} bytes are smaller than ABI 1.0's {}", layout.name,
                                       set.record_size, layout.size));
    }
    if (set.count > 0 && set.records == nullptr) {
      throw RecordSetError(fmt::format("{} record set has {} records but no array", layout.name, set.count));
    }
    const auto* base = static_cast<const unsigned char*>(set.records);
    if (db_.kind() == DatabaseKind::postgresql && layout.type != CRM_RECORD_CUSTOMER && set.count >= kBulkMinimum &&
        write_bulk(*table, set, rejected, counts)) {
      continue;
    }
    std::string derived_id;
    for (std::size_t i = 0; i < set.count; ++i) {
      const unsigned char* record = base + i * set.record_size;
      if (std::string fault = record_fault(layout, record, i); !fault.empty()) {
        rejected.push_back({ids_of(layout, record), std::move(fault)});
        continue;
      }
      std::string_view external_id;
      if (table->external_id != nullptr) {
        external_id = read_text(record, table->external_id->offset);
      } else {
        // Attributes: one value per customer and name.
        derived_id = fmt::format("{}/{}", read_text(record, table->customer->offset),
                                 read_text(record, offsetof(crm_attribute_record, name)));
        external_id = derived_id;
      }
      if (external_id.empty()) {
        throw RecordSetError(fmt::format("{} record {} of the batch has no external_id", layout.name, i));
      }
      Statement* statement = &*table->insert;
      bool inserted = true;
      for (int attempt = 0; attempt < 2; ++attempt) {
        statement->bind(1, source_).bind(2, external_id);
        if (table->customer != nullptr) {
          const std::string_view customer = read_text(record, table->customer->offset);
          customer.empty() ? statement->bind_null(3) : statement->bind(3, customer_id(customer));
        }
        int index = table->first_field_index();
        for (const RecordField* field : table->columns) {
          bind_field(*statement, index++, *field, record);
        }
        statement->run();
        if (db_.changes() > 0) {
          break;
        }
        if (attempt == 0) {
          statement = &*table->update;
          inserted = false;
        } else {
          statement = nullptr;
        }
      }
      if (inserted) {
        ++counts.inserted;
      } else if (statement != nullptr) {
        ++counts.updated;
      } else {
        ++counts.unchanged;
      }
      if (layout.type == CRM_RECORD_CUSTOMER && statement != nullptr) {
        crm_customer_record customer{};
        std::memcpy(&customer, record, sizeof customer);
        link_customer(external_id, customer);
      }
    }
  }
  return counts;
}

bool RecordWriter::write_bulk(TableWriter& table, const crm_record_set& set, std::vector<RejectedRecord>& rejected,
                              WriteCounts& counts) {
  const RecordLayout& layout = table.layout;
  const auto* base = static_cast<const unsigned char*>(set.records);
  struct Row {
    const unsigned char* record;
    std::string external_id;
    std::optional<std::int64_t> customer_id;
  };
  std::vector<Row> rows;
  rows.reserve(set.count);
  std::vector<RejectedRecord> refused;
  std::unordered_set<std::string_view> seen;
  // Everything that reads or writes other rows (customer placeholders) runs
  // before the COPY, which holds the connection until it ends.
  if (table.customer != nullptr) {
    std::vector<std::string_view> customers;
    customers.reserve(set.count);
    for (std::size_t i = 0; i < set.count; ++i) {
      customers.push_back(read_text(base + i * set.record_size, table.customer->offset));
    }
    resolve_customers(std::move(customers));
  }
  for (std::size_t i = 0; i < set.count; ++i) {
    const unsigned char* record = base + i * set.record_size;
    if (std::string fault = record_fault(layout, record, i); !fault.empty()) {
      refused.push_back({ids_of(layout, record), std::move(fault)});
      continue;
    }
    Row row{record, {}, std::nullopt};
    row.external_id = table.external_id != nullptr
                          ? std::string(read_text(record, table.external_id->offset))
                          : fmt::format("{}/{}", read_text(record, table.customer->offset),
                                        read_text(record, offsetof(crm_attribute_record, name)));
    if (row.external_id.empty()) {
      throw RecordSetError(fmt::format("{} record {} of the batch has no external_id", layout.name, i));
    }
    if (table.customer != nullptr) {
      if (const std::string_view customer = read_text(record, table.customer->offset); !customer.empty()) {
        row.customer_id = customer_id(customer);
      }
    }
    rows.push_back(std::move(row));
  }
  for (const Row& row : rows) {
    // A record repeated within the batch is written twice in order by the
    // row-by-row path; one statement cannot change a row twice.
    if (!seen.insert(row.external_id).second) {
      return false;
    }
  }
  const auto copy_rows = [&](std::string_view into) {
    postgresql::CopyIn copy(*db_.postgresql_connection(), into, table.stage_columns());
    for (const Row& row : rows) {
      copy.add_text(source_);
      copy.add_text(row.external_id);
      if (table.customer != nullptr) {
        row.customer_id ? copy.add_int64(*row.customer_id) : copy.add_null();
      }
      for (const RecordField* field : table.columns) {
        copy_field(copy, *field, row.record);
      }
      copy.end_row();
    }
    copy.finish();
  };
  // Straight into the table: only inside the caller's transaction, where a
  // savepoint can take back a COPY that met an existing key.
  if (!table.rows_may_exist && db_.postgresql_connection()->in_transaction()) {
    db_.exec("SAVEPOINT crm_bulk_write");
    try {
      copy_rows(table.table);
      db_.exec("RELEASE SAVEPOINT crm_bulk_write");
      counts.inserted += rows.size();
      for (RejectedRecord& record : refused) {
        rejected.push_back(std::move(record));
      }
      return true;
    } catch (const DatabaseError& e) {
      db_.exec("ROLLBACK TO SAVEPOINT crm_bulk_write");
      db_.exec("RELEASE SAVEPOINT crm_bulk_write");
      if (e.sqlstate() != kUniqueViolation) {
        throw;
      }
      table.rows_may_exist = true;
    }
  }
  table.rows_may_exist = true;
  table.prepare_staging(db_);
  db_.exec(fmt::format("TRUNCATE {}", table.stage_table()));
  copy_rows(table.stage_table());
  table.merge_update->run();
  const auto updated = static_cast<std::uint64_t>(db_.changes());
  table.merge_insert->run();
  const auto inserted = static_cast<std::uint64_t>(db_.changes());
  counts.inserted += inserted;
  counts.updated += updated;
  counts.unchanged += rows.size() - inserted - updated;
  for (RejectedRecord& record : refused) {
    rejected.push_back(std::move(record));
  }
  return true;
}

}  // namespace crm::host
