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

// Reads delimited text straight from a read-only memory map: RFC 4180
// quoting (doubled quotes, delimiters and line ends inside quotes), LF or
// CRLF line ends, a UTF-8 byte-order mark, or runs of blanks as the
// separator ("whitespace" mode, as in CDNOW). Malformed rows come back with
// `error` set, so the caller quarantines them and goes on.
class CsvReader {
 public:
  // delimiter 0 means runs of spaces and tabs.
  CsvReader(const std::string& path, char delimiter, std::size_t max_field_bytes);
  // Reads rows from text the caller keeps alive (a quarantined row being re-processed).
  static CsvReader from_text(std::string_view text, char delimiter, std::size_t max_field_bytes);
  CsvReader(CsvReader&& other) noexcept;
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  ~CsvReader();

  // Continues at a byte offset and line number a previous reader reported.
  void seek(std::uint64_t offset, std::uint64_t line);
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

  CsvReader(char delimiter, std::size_t max_field_bytes) : delimiter_(delimiter), max_field_bytes_(max_field_bytes) {}

  const char* data_ = nullptr;
  bool mapped_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
  std::uint64_t line_ = 1;
  std::uint64_t bom_bytes_ = 0;
  char delimiter_;
  std::size_t max_field_bytes_;
  std::deque<std::string> unescaped_;  // fields that held doubled quotes
};

// True when `text` is valid UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace crm::connectors
