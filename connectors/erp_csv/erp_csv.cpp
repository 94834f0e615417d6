// erp_csv: CSV/TSV exports of an ERP or CRM (one record type per configured
// source), incremental over a file or a folder of files read in name order.
// The cursor is the file and byte offset after the last committed row, so a
// killed sync resumes exactly there, a finished file is never re-read, and an
// export that grows is picked up where it ended.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "crm/plugin.hpp"
#include "csv_mapping.hpp"
#include "csv_reader.hpp"
#include "erp_csv_manifest.h"
#include "plugin_support/text.hpp"

namespace crm::connectors {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kRawPrefix = "erp_csv:v1 ";

// Rows are assembled in a byte buffer and copied into the record struct of
// the configured type; every struct starts with its external_id.
constexpr std::size_t kMaxRecordBytes = 256;
static_assert(sizeof(crm_customer_record) <= kMaxRecordBytes && sizeof(crm_contact_record) <= kMaxRecordBytes &&
              sizeof(crm_order_record) <= kMaxRecordBytes && sizeof(crm_payment_record) <= kMaxRecordBytes &&
              sizeof(crm_ticket_record) <= kMaxRecordBytes && sizeof(crm_survey_record) <= kMaxRecordBytes &&
              sizeof(crm_activity_record) <= kMaxRecordBytes && sizeof(crm_interaction_record) <= kMaxRecordBytes);
static_assert(offsetof(crm_customer_record, external_id) == 0 && offsetof(crm_order_record, external_id) == 0 &&
              offsetof(crm_contact_record, external_id) == 0 && offsetof(crm_payment_record, external_id) == 0 &&
              offsetof(crm_ticket_record, external_id) == 0 && offsetof(crm_survey_record, external_id) == 0 &&
              offsetof(crm_activity_record, external_id) == 0 && offsetof(crm_interaction_record, external_id) == 0);

// One row turned into a record, or the reason it could not be.
struct RowResult {
  bool skipped = false;
  std::string error;
};

bool is_id_field(const crm::RecordField& field) {
  const std::string_view name = field.name;
  constexpr std::string_view kSuffix = "external_id";
  return name.size() >= kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix;
}

// Describes the first character of valid UTF-8 `text` that has no business in
// an id (C0 and C1 controls, DEL, invisible and bidirectional formatting
// marks, which make two different ids look alike or reorder a printed line),
// or returns "".
std::string unprintable_in(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());  // NOLINT
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::uint32_t code_point = 0;
    if (bytes[i] < 0x20 || bytes[i] == 0x7F) {
      code_point = bytes[i];
    } else if (bytes[i] == 0xC2 && i + 1 < text.size() && bytes[i + 1] >= 0x80 && bytes[i + 1] <= 0x9F) {
      code_point = bytes[i + 1];
    } else if (bytes[i] == 0xE2 && i + 2 < text.size() && bytes[i + 1] == 0x80 &&
               ((bytes[i + 2] >= 0x8B && bytes[i + 2] <= 0x8F) || (bytes[i + 2] >= 0xAA && bytes[i + 2] <= 0xAE))) {
      code_point = 0x2000U + (bytes[i + 2] - 0x80U);
    } else if (bytes[i] == 0xE2 && i + 2 < text.size() && bytes[i + 1] == 0x81 && bytes[i + 2] >= 0xA6 &&
               bytes[i + 2] <= 0xA9) {
      code_point = 0x2040U + (bytes[i + 2] - 0x80U);
    } else if (bytes[i] == 0xEF && i + 2 < text.size() && bytes[i + 1] == 0xBB && bytes[i + 2] == 0xBF) {
      code_point = 0xFEFF;
    } else {
      continue;
    }
    char name[16] = {};
    std::snprintf(name, sizeof name, "U+%04X", code_point);  // NOLINT
    return std::string(code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F) ? "control character "
                                                                                       : "invisible character ") +
           name + " at byte " + std::to_string(i + 1);
  }
  return {};
}

class ErpCsvConnector final : public crm::Connector {
 public:
  CRM_PLUGIN_METADATA(ERP_CSV)
  static constexpr crm_record_type kRecordTypes[] = {CRM_RECORD_CUSTOMER, CRM_RECORD_CONTACT,     CRM_RECORD_ORDER,
                                                     CRM_RECORD_PAYMENT,  CRM_RECORD_TICKET,      CRM_RECORD_SURVEY,
                                                     CRM_RECORD_ACTIVITY, CRM_RECORD_INTERACTION, CRM_RECORD_ATTRIBUTE};

  ErpCsvConnector(const crm::Host& /*host*/, std::string_view config_json) {
    const json config = json::parse(config_json);
    path_ = config.at("path").get<std::string>();
    layout_ = crm::record_layout(config.at("record_type").get<std::string_view>());
    if (layout_ == nullptr) {
      throw crm::ConfigError("record_type is not a record type this connector writes");
    }
    const std::string delimiter = config.at("delimiter").get<std::string>();
    delimiter_ = delimiter == "whitespace" ? '\0' : (delimiter == "tab" ? '\t' : delimiter.at(0));
    has_header_ = config.at("header").get<bool>();
    date_formats_ = config.at("date_formats").get<std::vector<std::string>>();
    utc_offset_minutes_ = config.at("utc_offset_minutes").get<int>();
    batch_rows_ = config.at("batch_rows").get<std::size_t>();
    limits_.max_field_bytes = config.at("max_field_bytes").get<std::size_t>();
    limits_.max_quoted_field_lines = config.at("max_quoted_field_lines").get<std::size_t>();
    extensions_ = config.at("extensions").get<std::vector<std::string>>();
    skip_when_empty_ = config.at("skip_rows_where_empty").get<std::vector<std::string>>();
    if (config.contains("external_id")) {
      id_columns_ = config["external_id"].at("columns").get<std::vector<std::string>>();
      id_ordinal_ = config["external_id"].value("ordinal", false);
    }
    for (const auto& [field_name, source] : config.at("columns").items()) {
      sources_.push_back(parse_source(field_name, source));
    }
    if (layout_->type == CRM_RECORD_ATTRIBUTE) {
      parse_attributes(config);
      return;
    }
    if (config.contains("attributes")) {
      throw crm::ConfigError("attributes: only a record_type \"attribute\" source reads attribute columns");
    }
    const bool maps_external_id = std::any_of(sources_.begin(), sources_.end(), [](const FieldSource& source) {
      return std::string_view(source.field->name) == "external_id";
    });
    if (id_columns_.empty() && !maps_external_id) {
      throw crm::ConfigError("say where each record's id comes from: external_id.columns, or columns.external_id");
    }
    if (!fs::exists(path_)) {
      throw crm::ConfigError("path " + path_ + " does not exist");
    }
  }

  // One row of an attribute source is one attribute record per attribute
  // column (named by its header, or as `attributes.names` renames it), so a
  // customer table exported as CSV arrives whole without a column per field.
  void parse_attributes(const json& config) {
    if (sources_.size() != 1 || std::string_view(sources_[0].field->name) != "customer_external_id") {
      throw crm::ConfigError(
          "columns: an attribute source maps customer_external_id only (each other column is an attribute)");
    }
    if (!config.contains("attributes")) {
      throw crm::ConfigError(
          "attributes: say which columns are attributes: attributes.columns, a list of columns or [\"*\"] for "
          "every column but the customer's");
    }
    const json& attributes = config["attributes"];
    attribute_columns_ = attributes.at("columns").get<std::vector<std::string>>();
    if (attributes.contains("names")) {
      attribute_renames_ = attributes["names"].get<std::map<std::string, std::string>>();
    }
    for (const auto& [column, name] : attribute_renames_) {
      if (trim(name).empty()) {
        throw crm::ConfigError("attributes.names." + column + ": an attribute name may not be empty");
      }
    }
    if (!fs::exists(path_)) {
      throw crm::ConfigError("path " + path_ + " does not exist");
    }
  }

  void fetch(const crm::Host& host, std::string_view cursor_text, crm::RecordBatch& batch) override {
    Cursor cursor = parse_cursor(cursor_text);
    const std::vector<std::string> files = list_files();
    std::size_t rows = 0;
    bool has_more = true;
    while (rows < batch_rows_) {
      if (!open_at(cursor, files, host)) {
        has_more = false;
        break;
      }
      restore_ordinals(cursor);
      CsvRow row;
      if (!reader_->next(row)) {
        // This file is done; the next one (if any) starts at its beginning.
        const auto next = std::upper_bound(files.begin(), files.end(), cursor.file);
        if (next == files.end()) {
          cursor.offset = reader_->offset();
          cursor.line = reader_->line();
          has_more = false;
          break;
        }
        cursor = Cursor{*next, 0, 1};
        reader_.reset();
        continue;
      }
      ++rows;
      const std::uint64_t ordinal = next_ordinal(row);
      const RowResult result = add_row(row, ordinal, batch);
      if (!result.error.empty()) {
        host.report_bad_record(raw_record(cursor.file, row, ordinal),
                               cursor.file + " line " + std::to_string(row.line) + ": " + result.error);
      }
      cursor.offset = reader_->offset();
      cursor.line = reader_->line();
      ordinal_offset_ = cursor.offset;
      if (host.cancelled()) {
        break;
      }
    }
    if (!has_more) {
      // The next sync maps the file again: it may have grown, or been edited or truncated since.
      reader_.reset();
    }
    batch.add_source_records(rows);
    batch.set_next_cursor(json{{"file", cursor.file}, {"offset", cursor.offset}, {"line", cursor.line}}.dump());
    batch.set_has_more(has_more);
  }

  void reprocess(const crm::Host& host, std::string_view raw, crm::RecordBatch& batch) {
    // "erp_csv:v1 LINE ORDINAL FILE\nROW"
    if (raw.substr(0, kRawPrefix.size()) != kRawPrefix) {
      throw crm::DataError("not a record quarantined by erp_csv");
    }
    raw.remove_prefix(kRawPrefix.size());
    const std::size_t newline = raw.find('\n');
    const std::string head(raw.substr(0, newline));
    const std::string_view row_text = newline == std::string_view::npos ? std::string_view{} : raw.substr(newline + 1);
    std::uint64_t line = 0;
    std::uint64_t ordinal = 0;
    char file_name[4096] = {};
    if (std::sscanf(head.c_str(), "%lu %lu %4095[^\n]", &line, &ordinal, file_name) != 3) {  // NOLINT
      throw crm::DataError("the quarantined record's header is damaged");
    }
    const std::string file(file_name);
    const std::string where = file + " line " + std::to_string(line);
    if (!fs::is_regular_file(full_path(file))) {
      throw crm::DataError(where + ": the file is gone");
    }
    load_header(file);
    if (header_width_ == 0) {
      throw crm::DataError(where + ": the file is empty now");
    }
    // The stored copy first: a row quarantined for a mapping reason is released by a configuration fix.
    CsvReader reader = CsvReader::from_text(row_text, delimiter_, row_limits());
    CsvRow row;
    if (!reader.next(row)) {
      throw crm::DataError("the quarantined row is empty");
    }
    row.line = line;
    const StoredIdentity stored = identity_of(row);
    // A second reader looks for more rows: reading on with the first would free the row's unescaped fields.
    CsvReader rest = CsvReader::from_text(row_text.substr(reader.offset()), delimiter_, row_limits());
    CsvRow extra;
    if (row.error.empty() && !rest.next(extra) && (!id_ordinal_ || ordinal != 0)) {
      const RowResult result = add_row(row, ordinal, batch);
      if (result.error.empty()) {
        return;
      }
    }
    // Still bad as stored (or the stored text swallowed several rows behind an
    // unbalanced quote): the file may have been fixed in place. Read the same
    // lines from it again. An older release stored a swallowed tail cut at
    // kMaxRawBytes; its newlines undercount the rows, so read on to the end
    // of the file then (rows already imported are upserted by id unchanged).
    const bool swallowed_tail_was_cut =
        row_text.size() >= kMaxRawBytes && row_text.find('\n') != std::string_view::npos;
    const std::uint64_t stored_lines =
        swallowed_tail_was_cut ? std::numeric_limits<std::uint64_t>::max() - line
                               : static_cast<std::uint64_t>(std::count(row_text.begin(), row_text.end(), '\n')) + 1;
    reread_lines(host, file, line, stored_lines, stored, ordinal, batch);
  }

 private:
  // An older release stored at most this much of a quarantined row.
  static constexpr std::size_t kMaxRawBytes = std::size_t{1} << 20U;

  // The id columns of a quarantined row as it was stored, when they could be read.
  struct StoredIdentity {
    bool readable = false;
    bool clean = false;  // valid UTF-8 without NUL or control characters: an id the row really had
    std::vector<std::string> values;
  };

  // The columns a record's id comes from: external_id.columns, or the column mapped to external_id.
  [[nodiscard]] std::vector<std::size_t> identity_indexes() const {
    if (!id_columns_.empty()) {
      return id_indexes_;
    }
    for (const FieldSource& source : sources_) {
      if (std::string_view(source.field->name) == "external_id" && !source.constant) {
        return source.indexes;
      }
    }
    return {};
  }

  [[nodiscard]] StoredIdentity identity_of(const CsvRow& row) const {
    StoredIdentity identity;
    const std::vector<std::size_t> indexes = identity_indexes();
    identity.readable = !indexes.empty() && std::all_of(indexes.begin(), indexes.end(),
                                                        [&](std::size_t index) { return index < row.fields.size(); });
    identity.clean = identity.readable;
    for (const std::size_t index : indexes) {
      const std::string_view value = column(row, index);
      identity.values.emplace_back(value);
      if (!is_valid_utf8(value) || !unprintable_in(value).empty()) {
        identity.clean = false;
      }
    }
    return identity;
  }

  [[nodiscard]] std::string identity_text(const std::vector<std::string>& values) const {
    std::string text;
    for (const std::string& value : values) {
      text += text.empty() ? "'" : "/'";
      for (const char c : value.substr(0, 64)) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char escaped[8] = {};
          std::snprintf(escaped, sizeof escaped, "\\x%02X",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));  // NOLINT
          text += escaped;
        } else {
          text += c;
        }
      }
      text += "'";
    }
    return text;
  }

  [[nodiscard]] std::string identity_column_names() const {
    std::string names;
    for (const std::size_t index : identity_indexes()) {
      names += (names.empty() ? "" : ", ") + column_name(index);
    }
    return names;
  }

  // Throws unless releasing `row` (read again at the quarantined line) can
  // only write the record that was quarantined, under an id no other
  // imported row holds. With external_id.ordinal, the n-th line of an
  // invoice is INVOICE/n; a row whose invoice was unreadable when it was
  // quarantined was not counted, so the later lines of its invoice took its
  // number, and one whose invoice changed was counted under the other
  // invoice: either way its number now belongs to another row.
  void check_same_record(const std::string& where, const StoredIdentity& stored, std::uint64_t stored_ordinal,
                         const CsvRow& row, std::uint64_t counted_ordinal) const {
    const StoredIdentity now = identity_of(row);
    const std::string reimport = "; re-import the file from its start so that every line of it is numbered again";
    if (id_ordinal_) {
      if (!stored.readable || stored_ordinal == 0) {
        throw crm::DataError(where + ": its id columns (" + identity_column_names() +
                             ") could not be read when it was quarantined, so the lines after it took its number; "
                             "releasing it could replace another line's record" +
                             reimport);
      }
      if (now.values != stored.values) {
        throw crm::DataError(where + ": the fix changed its id columns from " + identity_text(stored.values) + " to " +
                             identity_text(now.values) + ", whose numbering other lines already hold" + reimport);
      }
      if (counted_ordinal != stored_ordinal) {
        throw crm::DataError(where + ": rows before it changed, so it would be number " +
                             std::to_string(counted_ordinal) + " of " + identity_text(now.values) + " where it was " +
                             std::to_string(stored_ordinal) + reimport);
      }
      return;
    }
    if (stored.readable && stored.clean && now.values != stored.values) {
      throw crm::DataError(where + " now holds another record (" + identity_text(now.values) +
                           " where the quarantined row had " + identity_text(stored.values) +
                           "): lines were added or removed before it; fix the file in place keeping its line "
                           "numbers, or re-import it");
    }
  }

  [[nodiscard]] CsvLimits row_limits() const {
    CsvLimits limits = limits_;
    limits.expected_fields = header_width_;
    return limits;
  }

  // Imports every record of `file` that starts on lines first_line .. first_line + line_count - 1.
  // The record on first_line must be the quarantined one; a later record
  // (one an older release swallowed) that is still bad is quarantined on its
  // own, so it does not keep the good ones out.
  void reread_lines(const crm::Host& host, const std::string& file, std::uint64_t first_line, std::uint64_t line_count,
                    const StoredIdentity& stored, std::uint64_t stored_ordinal, crm::RecordBatch& batch) const {
    const std::string where = file + " line " + std::to_string(first_line);
    std::unique_ptr<CsvReader> reader;
    try {
      reader = std::make_unique<CsvReader>(full_path(file), delimiter_, row_limits());
    } catch (const std::runtime_error& e) {
      throw crm::DataError(where + ": " + e.what());
    }
    const std::uint64_t offset = reader->offset_of_line(first_line);
    if (offset >= reader->size()) {
      throw crm::DataError(where + ": the file has fewer lines now");
    }
    std::unordered_map<std::string, std::uint64_t> ordinals;
    count_ordinals_before(file, offset, ordinals);
    reader->seek(offset, first_line);
    CsvRow row;
    if (!reader->next(row) || row.line != first_line) {
      throw crm::DataError(where + ": the line is empty now");
    }
    const bool more_lines = line_count > 1 && reader->offset() < reader->size();
    std::uint64_t ordinal = ordinal_for(row, ordinals);
    const bool well_formed = row.error.empty() && row.fields.size() == header_width_;
    if (well_formed) {
      check_same_record(where, stored, stored_ordinal, row, ordinal);
    }
    RowResult result = add_row(row, ordinal, batch);
    if (!result.error.empty()) {
      if (!more_lines) {
        throw crm::DataError(where + ": " + result.error);
      }
      host.report_bad_record(raw_record(file, row, ordinal), where + ": " + result.error);
    }
    while (reader->next(row) && row.line - first_line < line_count) {
      ordinal = ordinal_for(row, ordinals);
      result = add_row(row, ordinal, batch);
      if (!result.error.empty()) {
        host.report_bad_record(raw_record(file, row, ordinal),
                               file + " line " + std::to_string(row.line) + ": " + result.error);
      }
    }
  }

  struct Cursor {
    std::string file;
    std::uint64_t offset = 0;
    std::uint64_t line = 1;
  };

  FieldSource parse_source(const std::string& field_name, const json& source) {
    FieldSource parsed;
    parsed.field = layout_->find(field_name);
    if (parsed.field == nullptr) {
      std::string known;
      for (const crm::RecordField& field : *layout_) {
        known += (known.empty() ? "" : ", ") + std::string(field.name);
      }
      throw crm::ConfigError("columns." + field_name + ": a " + layout_->name +
                             " record has no such field (fields: " + known + ")");
    }
    if (source.is_string()) {
      parsed.columns = {source.get<std::string>()};
      return parsed;
    }
    if (source.contains("constant")) {
      parsed.constant = source["constant"].get<std::string>();
    } else if (source.contains("product")) {
      parsed.columns = source["product"].get<std::vector<std::string>>();
      parsed.is_product = true;
    } else {
      parsed.columns = {source.at("column").get<std::string>()};
    }
    parsed.integer = source.value("integer", false);
    if (source.contains("when_prefix")) {
      parsed.when_prefix = source["when_prefix"].get<std::map<std::string, std::string>>();
    }
    if (source.contains("otherwise")) {
      parsed.otherwise = source["otherwise"].get<std::string>();
    }
    if (source.contains("format")) {
      parsed.date_formats = {source["format"].get<std::string>()};
    }
    return parsed;
  }

  std::vector<std::string> list_files() const {
    if (!fs::is_directory(path_)) {
      return {fs::path(path_).filename().string()};
    }
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(path_)) {
      const std::string name = entry.path().filename().string();
      const bool wanted = std::any_of(extensions_.begin(), extensions_.end(), [&](const std::string& extension) {
        return name.size() >= extension.size() &&
               name.compare(name.size() - extension.size(), extension.size(), extension) == 0;
      });
      if (entry.is_regular_file() && wanted) {
        files.push_back(name);
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  [[nodiscard]] std::string full_path(const std::string& file) const {
    return fs::is_directory(path_) ? (fs::path(path_) / file).string() : path_;
  }

  static Cursor parse_cursor(std::string_view text) {
    Cursor cursor;
    if (text.empty()) {
      return cursor;
    }
    const json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      throw crm::FatalError("the stored cursor is not erp_csv's");
    }
    cursor.file = parsed.value("file", "");
    cursor.offset = parsed.value("offset", std::uint64_t{0});
    cursor.line = parsed.value("line", std::uint64_t{1});
    return cursor;
  }

  // Makes reader_ read `cursor.file` at `cursor.offset`; false when there is no file left.
  bool open_at(Cursor& cursor, const std::vector<std::string>& files, const crm::Host& host) {
    if (reader_ && open_file_ == cursor.file && reader_->offset() == cursor.offset) {
      return true;
    }
    if (cursor.file.empty() || std::find(files.begin(), files.end(), cursor.file) == files.end()) {
      // First sync, or the cursor's file is gone: start with the next file by name.
      const auto next = cursor.file.empty() ? files.begin() : std::upper_bound(files.begin(), files.end(), cursor.file);
      if (next == files.end()) {
        return false;
      }
      cursor = Cursor{*next, 0, 1};
    }
    reader_ = std::make_unique<CsvReader>(full_path(cursor.file), delimiter_, limits_);
    open_file_ = cursor.file;
    if (cursor.offset == 0) {
      cursor.offset = reader_->bom_bytes();
    }
    load_header(cursor.file);
    if (has_header_ && cursor.offset <= reader_->bom_bytes()) {
      CsvRow header;
      reader_->next(header);  // already read by load_header
      cursor.offset = reader_->offset();
      cursor.line = reader_->line();
      host.debug("reading " + cursor.file);
    }
    reader_->set_expected_fields(header_width_);
    if (!reader_->is_line_start(cursor.offset) || cursor.offset > reader_->size()) {
      // The file was edited before the cursor (an unbalanced quote fixed in
      // place, say): the byte offset is stale, the line number still holds.
      host.warn(cursor.file + " changed before line " + std::to_string(cursor.line) +
                " since the last sync; going on from that line");
      cursor.offset = reader_->offset_of_line(cursor.line);
    }
    reader_->seek(cursor.offset, cursor.line);
    return true;
  }

  // Reads the column names of `file` (or numbers them when there is no header).
  void load_header(const std::string& file) {
    if (header_file_ == file && !column_index_.empty()) {
      return;
    }
    column_index_.clear();
    column_names_.clear();
    header_width_ = 0;
    header_file_ = file;
    CsvReader reader(full_path(file), delimiter_, limits_);
    CsvRow header;
    if (!reader.next(header)) {
      return;
    }
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
      if (has_header_) {
        column_index_[std::string(trim(header.fields[i]))] = i;
      }
      column_index_["#" + std::to_string(i + 1)] = i;
      column_names_.push_back(has_header_ ? std::string(trim(header.fields[i])) : "#" + std::to_string(i + 1));
    }
    header_width_ = header.fields.size();
    resolve_columns(file);
  }

  void resolve_columns(const std::string& file) {
    const auto check = [&](const std::string& column) {
      if (column_index_.count(column) == 0) {
        std::vector<std::string> names;
        for (const auto& [name, index] : column_index_) {
          if (name[0] != '#') names.push_back(name);
        }
        std::sort(names.begin(), names.end());
        std::string known;
        for (const std::string& name : names) {
          known += (known.empty() ? "" : ", ") + name;
        }
        throw crm::ConfigError("column '" + column + "' is not in " + file + " (columns: " + known + ")");
      }
    };
    // Rows are then read by position: no name lookup per field per row.
    const auto resolve = [&](const std::vector<std::string>& names, std::vector<std::size_t>& indexes) {
      indexes.clear();
      for (const std::string& name : names) {
        check(name);
        indexes.push_back(column_index_.at(name));
      }
    };
    for (FieldSource& source : sources_) {
      resolve(source.columns, source.indexes);
    }
    resolve(id_columns_, id_indexes_);
    resolve(skip_when_empty_, skip_indexes_);
    if (layout_->type == CRM_RECORD_ATTRIBUTE) {
      resolve_attribute_columns(check);
    }
  }

  template <class Check>
  void resolve_attribute_columns(const Check& check) {
    attribute_indexes_.clear();
    attribute_names_.clear();
    const std::vector<std::size_t>& customer = sources_[0].indexes;
    const auto add = [&](std::size_t index) {
      const std::string& column = column_names_[index];
      const auto renamed = attribute_renames_.find(column);
      attribute_indexes_.push_back(index);
      attribute_names_.push_back(renamed == attribute_renames_.end() ? column : renamed->second);
    };
    if (attribute_columns_ == std::vector<std::string>{"*"}) {
      for (std::size_t index = 0; index < column_names_.size(); ++index) {
        if (std::find(customer.begin(), customer.end(), index) == customer.end()) {
          add(index);
        }
      }
    } else {
      for (const std::string& column : attribute_columns_) {
        check(column);
        add(column_index_.at(column));
      }
    }
    for (const auto& [column, name] : attribute_renames_) {
      check(column);
    }
  }

  // The records of one row of an attribute source; a row with one bad field is quarantined whole.
  RowResult add_attribute_row(const CsvRow& row, crm::RecordBatch& batch) const {
    RowResult result;
    alignas(8) unsigned char record[kMaxRecordBytes] = {};
    result.error = fill_fields(row, record, batch);
    if (!result.error.empty()) {
      return result;
    }
    crm_attribute_record attribute{};
    std::memcpy(&attribute.customer_external_id, record + offsetof(crm_attribute_record, customer_external_id),
                sizeof attribute.customer_external_id);
    if (attribute.customer_external_id.size == 0) {
      result.error = "the customer id (column " + sources_[0].columns[0] + ") is empty";
      return result;
    }
    for (const std::size_t index : attribute_indexes_) {
      if (!is_valid_utf8(column(row, index))) {
        result.error = "column " + column_name(index) + " is not valid UTF-8";
        return result;
      }
    }
    for (std::size_t k = 0; k < attribute_indexes_.size(); ++k) {
      attribute.name = batch.keep(attribute_names_[k]);
      attribute.value = batch.keep(column(row, attribute_indexes_[k]));
      batch.add(attribute);
    }
    return result;
  }

  // The name of column `index`, also when the file changed under a retry and has fewer columns now.
  [[nodiscard]] std::string column_name(std::size_t index) const {
    return index < column_names_.size() ? column_names_[index] : "#" + std::to_string(index + 1);
  }

  [[nodiscard]] static std::string_view column(const CsvRow& row, std::size_t index) {
    return index < row.fields.size() ? trim(row.fields[index]) : std::string_view{};
  }

  [[nodiscard]] std::string ordinal_key(const CsvRow& row) const {
    std::string key;
    for (const std::size_t index : id_indexes_) {
      key.append(column(row, index)).push_back('\x1f');
    }
    return key;
  }

  // The n-th occurrence of this row's id columns in its file (1-based), so that
  // order lines sharing an invoice number get stable, distinct ids. A
  // quarantined row counts too (when its id columns could be read), so the
  // rows after it keep their numbers once it is fixed and released.
  std::uint64_t ordinal_for(const CsvRow& row, std::unordered_map<std::string, std::uint64_t>& counts) const {
    if (!id_ordinal_) {
      return 0;
    }
    for (const std::size_t index : id_indexes_) {
      if (index >= row.fields.size()) {
        return 0;
      }
    }
    return ++counts[ordinal_key(row)];
  }

  std::uint64_t next_ordinal(const CsvRow& row) { return ordinal_for(row, ordinal_counts_); }

  // Counts the ids of the rows of `file` before `offset`.
  void count_ordinals_before(const std::string& file, std::uint64_t offset,
                             std::unordered_map<std::string, std::uint64_t>& counts) const {
    if (!id_ordinal_) {
      return;
    }
    CsvReader reader(full_path(file), delimiter_, limits_);
    CsvRow row;
    if (has_header_) {
      reader.next(row);
    }
    reader.set_expected_fields(header_width_);
    while (reader.offset() < offset && reader.next(row)) {
      ordinal_for(row, counts);
    }
  }

  // After a cold resume in the middle of a file, counts the ids of the rows before the cursor.
  void restore_ordinals(const Cursor& cursor) {
    if (!id_ordinal_ || (ordinal_file_ == cursor.file && ordinal_offset_ == cursor.offset)) {
      return;
    }
    ordinal_counts_.clear();
    ordinal_file_ = cursor.file;
    count_ordinals_before(cursor.file, cursor.offset, ordinal_counts_);
    ordinal_offset_ = cursor.offset;
  }

  static std::string raw_record(const std::string& file, const CsvRow& row, std::uint64_t ordinal) {
    return std::string(kRawPrefix) + std::to_string(row.line) + " " + std::to_string(ordinal) + " " + file + "\n" +
           std::string(row.raw.substr(0, kMaxRawBytes));
  }

  // The text a field source yields for a row (before conversion to the field's kind).
  std::string source_text(const FieldSource& source, const CsvRow& row, std::string& error) const {
    if (source.constant) {
      return *source.constant;
    }
    if (source.is_product) {
      double product = 1;
      for (std::size_t i = 0; i < source.indexes.size(); ++i) {
        const auto value = parse_number(column(row, source.indexes[i]));
        if (!value) {
          error = "column " + source.columns[i] + " is not a number";
          return {};
        }
        product *= *value;
      }
      char text[64];
      const auto [end, ignored] = std::to_chars(text, text + sizeof text, product);
      return std::string(text, end);
    }
    std::string_view value = column(row, source.indexes[0]);
    if (source.integer) {
      value = strip_zero_fraction(value);
    }
    if (!source.when_prefix.empty() || source.otherwise) {
      for (const auto& [prefix, replacement] : source.when_prefix) {
        if (value.substr(0, prefix.size()) == prefix) {
          return replacement;
        }
      }
      return source.otherwise.value_or(std::string(value));
    }
    return std::string(value);
  }

  // Fills every configured field of `record` from `row`; the first field's error, or "".
  std::string fill_fields(const CsvRow& row, unsigned char* record, crm::RecordBatch& batch) const {
    for (const FieldSource& source : sources_) {
      std::string error;
      const std::string text = source_text(source, row, error);
      if (error.empty()) {
        error = set_field(source, text, record, batch);
      }
      if (!error.empty()) {
        return error;
      }
    }
    return {};
  }

  // Fills one field of `record` (raw bytes of the record struct) from `text`.
  std::string set_field(const FieldSource& source, const std::string& text, unsigned char* record,
                        crm::RecordBatch& batch) const {
    const crm::RecordField& field = *source.field;
    const std::string column_name = source.columns.empty() ? field.name : source.columns[0];
    switch (field.kind) {
      case crm::FieldKind::text: {
        if (!is_valid_utf8(text)) {
          return "column " + column_name + " is not valid UTF-8";
        }
        if (is_id_field(field)) {
          if (const std::string problem = unprintable_in(text); !problem.empty()) {
            return "column " + column_name + " holds " + problem + ", which an id may not hold";
          }
        }
        const crm_str kept = batch.keep(text);
        std::memcpy(record + field.offset, &kept, sizeof kept);
        return {};
      }
      case crm::FieldKind::time: {
        std::int64_t value = CRM_TIME_UNKNOWN;
        if (!text.empty()) {
          const auto& formats = source.date_formats.empty() ? date_formats_ : source.date_formats;
          std::optional<std::int64_t> parsed;
          for (const std::string& format : formats) {
            if ((parsed = parse_time_ms(text, format, utc_offset_minutes_))) break;
          }
          if (!parsed) {
            return "column " + column_name + " \"" + text.substr(0, 64) + "\" matches none of the date formats";
          }
          value = *parsed;
        }
        std::memcpy(record + field.offset, &value, sizeof value);
        return {};
      }
      case crm::FieldKind::real: {
        double value = std::numeric_limits<double>::quiet_NaN();
        if (!text.empty()) {
          const auto parsed = parse_number(text);
          if (!parsed || !std::isfinite(*parsed)) {
            return "column " + column_name + " \"" + text.substr(0, 64) + "\" is not a number";
          }
          value = *parsed;
        }
        std::memcpy(record + field.offset, &value, sizeof value);
        return {};
      }
      case crm::FieldKind::flag: {
        const std::string lower = plugin_support::ascii_lower(text);
        bool value = false;
        if (lower == "1" || lower == "true" || lower == "yes" || lower == "y") {
          value = true;
        } else if (!(lower.empty() || lower == "0" || lower == "false" || lower == "no" || lower == "n")) {
          return "column " + column_name + " \"" + text.substr(0, 64) + "\" is not yes/no";
        }
        std::memcpy(record + field.offset, &value, sizeof value);
        return {};
      }
      case crm::FieldKind::survey_kind: {
        crm_survey_kind kind = 0;
        if (text == "csat" || text == "CSAT") {
          kind = CRM_SURVEY_CSAT;
        } else if (text == "nps" || text == "NPS") {
          kind = CRM_SURVEY_NPS;
        } else {
          return "column " + column_name + " \"" + text.substr(0, 64) + "\" is neither csat nor nps";
        }
        std::memcpy(record + field.offset, &kind, sizeof kind);
        return {};
      }
      case crm::FieldKind::direction: {
        crm_direction direction = 0;
        if (text == "inbound" || text == "in") {
          direction = CRM_DIRECTION_INBOUND;
        } else if (text == "outbound" || text == "out") {
          direction = CRM_DIRECTION_OUTBOUND;
        } else {
          return "column " + column_name + " \"" + text.substr(0, 64) + "\" is neither inbound nor outbound";
        }
        std::memcpy(record + field.offset, &direction, sizeof direction);
        return {};
      }
    }
    return {};
  }

  RowResult add_row(const CsvRow& row, std::uint64_t ordinal, crm::RecordBatch& batch) const {
    RowResult result;
    if (!row.error.empty()) {
      result.error = row.error;
      return result;
    }
    if (row.fields.size() != header_width_) {
      result.error = std::to_string(row.fields.size()) + " columns where the file has " + std::to_string(header_width_);
      return result;
    }
    for (std::size_t index = 0; index < row.fields.size(); ++index) {
      if (const std::size_t nul = row.fields[index].find('\0'); nul != std::string_view::npos) {
        result.error = "column " + column_name(index) + " holds a NUL byte at byte " + std::to_string(nul + 1) +
                       " of the field (a UTF-16 or binary file? export it as UTF-8 text)";
        return result;
      }
    }
    for (const std::size_t index : skip_indexes_) {
      if (column(row, index).empty()) {
        result.skipped = true;
        return result;
      }
    }
    if (layout_->type == CRM_RECORD_ATTRIBUTE) {
      return add_attribute_row(row, batch);
    }
    alignas(8) unsigned char record[kMaxRecordBytes] = {};
    initialise(record);
    if (!id_columns_.empty()) {
      std::string id;
      for (const std::size_t index : id_indexes_) {
        if (!is_valid_utf8(column(row, index))) {
          result.error = "column " + column_name(index) + " is not valid UTF-8";
          return result;
        }
        if (const std::string problem = unprintable_in(column(row, index)); !problem.empty()) {
          result.error = "column " + column_name(index) + " holds " + problem + ", which an id may not hold";
          return result;
        }
        if (!id.empty()) {
          id.push_back('/');
        }
        id.append(column(row, index));
      }
      if (id_ordinal_) {
        id += "/" + std::to_string(ordinal);
      }
      const crm_str kept = batch.keep(id);
      std::memcpy(record + offsetof(crm_order_record, external_id), &kept, sizeof kept);
    }
    result.error = fill_fields(row, record, batch);
    if (!result.error.empty()) {
      return result;
    }
    crm_str external_id{};
    std::memcpy(&external_id, record + offsetof(crm_order_record, external_id), sizeof external_id);
    if (external_id.size == 0) {
      result.error = "the record's id is empty";
      return result;
    }
    add_record(record, batch);
    return result;
  }

  // Unknown by default: no time, no number.
  void initialise(unsigned char* record) const {
    for (const crm::RecordField& field : *layout_) {
      if (field.kind == crm::FieldKind::time) {
        const std::int64_t unknown = CRM_TIME_UNKNOWN;
        std::memcpy(record + field.offset, &unknown, sizeof unknown);
      } else if (field.kind == crm::FieldKind::real) {
        const double unknown = std::numeric_limits<double>::quiet_NaN();
        std::memcpy(record + field.offset, &unknown, sizeof unknown);
      }
    }
  }

  template <class Record>
  static void add_as(const unsigned char* bytes, crm::RecordBatch& batch) {
    Record record{};
    std::memcpy(&record, bytes, sizeof record);
    batch.add(record);
  }

  void add_record(const unsigned char* record, crm::RecordBatch& batch) const {
    switch (layout_->type) {
      case CRM_RECORD_CUSTOMER:
        return add_as<crm_customer_record>(record, batch);
      case CRM_RECORD_CONTACT:
        return add_as<crm_contact_record>(record, batch);
      case CRM_RECORD_ORDER:
        return add_as<crm_order_record>(record, batch);
      case CRM_RECORD_PAYMENT:
        return add_as<crm_payment_record>(record, batch);
      case CRM_RECORD_TICKET:
        return add_as<crm_ticket_record>(record, batch);
      case CRM_RECORD_SURVEY:
        return add_as<crm_survey_record>(record, batch);
      case CRM_RECORD_ACTIVITY:
        return add_as<crm_activity_record>(record, batch);
      case CRM_RECORD_INTERACTION:
        return add_as<crm_interaction_record>(record, batch);
      default:
        return;
    }
  }

  std::string path_;
  const crm::RecordLayout* layout_ = nullptr;
  char delimiter_ = ',';
  bool has_header_ = true;
  std::vector<std::string> date_formats_;
  int utc_offset_minutes_ = 0;
  std::size_t batch_rows_ = 20000;
  CsvLimits limits_;
  std::vector<std::string> extensions_;
  std::vector<std::string> skip_when_empty_;
  std::vector<std::string> id_columns_;
  std::vector<std::size_t> id_indexes_;
  std::vector<std::size_t> skip_indexes_;
  bool id_ordinal_ = false;
  std::vector<FieldSource> sources_;
  // An attribute source: the configured attribute columns, renames, and per file their positions and names.
  std::vector<std::string> attribute_columns_;
  std::map<std::string, std::string> attribute_renames_;
  std::vector<std::size_t> attribute_indexes_;
  std::vector<std::string> attribute_names_;

  std::unique_ptr<CsvReader> reader_;
  std::string open_file_;
  std::string header_file_;
  std::unordered_map<std::string, std::size_t> column_index_;
  std::vector<std::string> column_names_;  // by position, for messages
  std::size_t header_width_ = 0;
  std::unordered_map<std::string, std::uint64_t> ordinal_counts_;
  std::string ordinal_file_;
  std::uint64_t ordinal_offset_ = 0;
};

}  // namespace
}  // namespace crm::connectors

CRM_EXPORT_PLUGINS(crm::connectors::ErpCsvConnector)
