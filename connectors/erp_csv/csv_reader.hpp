#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crm::connectors {

// One row as read from the file.
struct CsvRow {
  std::vector<std::string_view> fields;  // valid until the next call to next()
  std::string_view raw;                  // the row's bytes as in the file, without its line end
  std::uint64_t line = 0;                // 1-based line number where the row starts
  std::string error;                     // set when the row is malformed; fields may then be partial
};

// How far one field may run before the reader calls its quoting broken.
struct CsvLimits {
  std::size_t max_field_bytes = std::size_t{1} << 20U;
  // Lines one quoted field may span (1: no line break inside quotes).
  std::size_t max_quoted_field_lines = 100;
  // Columns a row should have (0: unknown). A record that spans several lines
  // through a quoted field and has another count is taken for an unbalanced quote.
  std::size_t expected_fields = 0;
};

// Reads delimited text straight from a read-only memory map: RFC 4180
// quoting (doubled quotes, delimiters and line ends inside quotes), LF or
// CRLF line ends, a UTF-8 byte-order mark, or runs of blanks as the
// separator ("whitespace" mode, as in CDNOW). Malformed rows come back with
// `error` set, so the caller quarantines them and goes on.
//
// An unbalanced quote must not swallow the rest of the file: when a quoted
// field runs past the limits, is never closed, or closes lines later in a way
// that cannot be a well-formed record, the row is cut back to its first line
// (quarantined alone, with `error` set) and reading resumes on the next line.
class CsvReader {
 public:
  // delimiter 0 means runs of spaces and tabs.
  CsvReader(const std::string& path, char delimiter, CsvLimits limits);
  // Reads rows from text the caller keeps alive (a quarantined row being re-processed).
  static CsvReader from_text(std::string_view text, char delimiter, CsvLimits limits);
  CsvReader(CsvReader&& other) noexcept;
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  ~CsvReader();

  // Continues at a byte offset and line number a previous reader reported.
  void seek(std::uint64_t offset, std::uint64_t line);
  // Byte offset where physical line `line` (1-based) starts; size() when the text has fewer lines.
  [[nodiscard]] std::uint64_t offset_of_line(std::uint64_t line) const;
  // True when `offset` is where a line starts, or the end of the text.
  [[nodiscard]] bool is_line_start(std::uint64_t offset) const;
  void set_expected_fields(std::size_t count) { limits_.expected_fields = count; }
  // False at the end of the file. Empty lines are skipped.
  bool next(CsvRow& row);
  // Where the next row starts.
  [[nodiscard]] std::uint64_t offset() const { return position_; }
  [[nodiscard]] std::uint64_t line() const { return line_; }
  [[nodiscard]] std::uint64_t size() const { return size_; }
  // Bytes of a leading UTF-8 byte-order mark (0 or 3).
  [[nodiscard]] std::uint64_t bom_bytes() const { return bom_bytes_; }

 private:
  void parse_delimited(CsvRow& row);
  void parse_whitespace(CsvRow& row);
  // Ends `row` at the end of its first line, keeping the fields that ended on it.
  void cut_to_first_line(CsvRow& row, std::uint64_t start, std::uint64_t start_line, std::size_t fields_on_first_line,
                         std::string error);

  CsvReader(char delimiter, CsvLimits limits) : delimiter_(delimiter), limits_(limits) {}

  const char* data_ = nullptr;
  bool mapped_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
  std::uint64_t line_ = 1;
  std::uint64_t bom_bytes_ = 0;
  char delimiter_;
  CsvLimits limits_;
  std::deque<std::string> unescaped_;  // fields that held doubled quotes
};

// True when `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace crm::connectors
