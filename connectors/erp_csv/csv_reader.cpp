#include "csv_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>

namespace crm::connectors {

CsvReader::CsvReader(const std::string& path, char delimiter, CsvLimits limits)
    : delimiter_(delimiter), limits_(limits) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  }
  struct stat status {};
  if (::fstat(descriptor, &status) != 0) {
    ::close(descriptor);
    throw std::runtime_error("cannot stat " + path);
  }
  size_ = static_cast<std::uint64_t>(status.st_size);
  if (size_ > 0) {
    void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, descriptor, 0);
    if (mapped == MAP_FAILED) {
      ::close(descriptor);
      throw std::runtime_error("cannot map " + path);
    }
    ::madvise(mapped, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const char*>(mapped);
    mapped_ = true;
  }
  ::close(descriptor);
  if (size_ >= 3 && std::memcmp(data_, "\xEF\xBB\xBF", 3) == 0) {
    bom_bytes_ = 3;
    position_ = 3;
  }
}

CsvReader CsvReader::from_text(std::string_view text, char delimiter, CsvLimits limits) {
  CsvReader reader(delimiter, limits);
  reader.data_ = text.data();
  reader.size_ = text.size();
  return reader;
}

CsvReader::CsvReader(CsvReader&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      mapped_(std::exchange(other.mapped_, false)),
      size_(other.size_),
      position_(other.position_),
      line_(other.line_),
      bom_bytes_(other.bom_bytes_),
      delimiter_(other.delimiter_),
      limits_(other.limits_),
      unescaped_(std::move(other.unescaped_)) {}

CsvReader::~CsvReader() {
  if (mapped_ && data_ != nullptr) {
    ::munmap(const_cast<char*>(data_), size_);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
}

void CsvReader::seek(std::uint64_t offset, std::uint64_t line) {
  position_ = std::max(std::min(offset, size_), bom_bytes_);
  line_ = line;
}

bool CsvReader::next(CsvRow& row) {
  unescaped_.clear();
  while (position_ < size_) {
    row.fields.clear();
    row.error.clear();
    row.line = line_;
    const std::uint64_t start = position_;
    if (delimiter_ == 0) {
      parse_whitespace(row);
    } else {
      parse_delimited(row);
    }
    std::uint64_t end = position_;
    // position_ is past the line end; the raw row stops before it.
    if (end > start && data_[end - 1] == '\n') --end;
    if (end > start && data_[end - 1] == '\r') --end;
    row.raw = std::string_view(data_ + start, end - start);
    const bool blank = row.error.empty() && (row.fields.empty() || (row.fields.size() == 1 && row.fields[0].empty()));
    if (!blank) {
      return true;
    }
  }
  return false;
}

void CsvReader::parse_whitespace(CsvRow& row) {
  std::uint64_t at = position_;
  while (at < size_ && data_[at] != '\n') {
    while (at < size_ && (data_[at] == ' ' || data_[at] == '\t' || data_[at] == '\r')) ++at;
    if (at >= size_ || data_[at] == '\n') break;
    const std::uint64_t field_start = at;
    while (at < size_ && data_[at] != ' ' && data_[at] != '\t' && data_[at] != '\r' && data_[at] != '\n') ++at;
    if (at - field_start > limits_.max_field_bytes && row.error.empty()) {
      row.error = "field " + std::to_string(row.fields.size() + 1) + " is larger than max_field_bytes";
    }
    row.fields.emplace_back(data_ + field_start, at - field_start);
  }
  if (at < size_) ++at;  // the '\n'
  ++line_;
  position_ = at;
}

void CsvReader::parse_delimited(CsvRow& row) {
  const std::uint64_t start = position_;
  const std::uint64_t start_line = line_;
  std::uint64_t at = position_;
  // The first quoted field that runs onto a later line, and how many fields ended before it.
  std::size_t multiline_column = 0;
  std::size_t fields_on_first_line = 0;
  bool row_done = false;
  while (!row_done) {
    std::uint64_t field_start = at;
    std::string_view field;
    if (at < size_ && data_[at] == '"') {
      const std::size_t column = row.fields.size() + 1;
      ++at;
      field_start = at;
      bool has_doubled_quotes = false;
      bool closed = false;
      std::size_t field_lines = 1;
      std::string broken;
      while (at < size_) {
        if (at - field_start > limits_.max_field_bytes) {
          broken = "the quoted field in column " + std::to_string(column) + " is longer than max_field_bytes (" +
                   std::to_string(limits_.max_field_bytes) + ")";
          break;
        }
        const char c = data_[at];
        if (c == '"') {
          if (at + 1 < size_ && data_[at + 1] == '"') {
            has_doubled_quotes = true;
            at += 2;
            continue;
          }
          closed = true;
          break;
        }
        if (c == '\n') {
          if (++field_lines > limits_.max_quoted_field_lines) {
            broken = "the quoted field in column " + std::to_string(column) + " is still open after " +
                     std::to_string(limits_.max_quoted_field_lines) +
                     " lines (max_quoted_field_lines); a quote is missing or extra";
            break;
          }
          if (multiline_column == 0) {
            multiline_column = column;
            fields_on_first_line = row.fields.size();
          }
          ++line_;
        }
        ++at;
      }
      if (!closed) {
        if (broken.empty()) {
          broken = "the quoted field in column " + std::to_string(column) + " is not closed before the end of the file";
        }
        cut_to_first_line(row, start, start_line, multiline_column != 0 ? fields_on_first_line : row.fields.size(),
                          std::move(broken));
        return;
      }
      field = std::string_view(data_ + field_start, at - field_start);
      ++at;  // closing quote
      if (has_doubled_quotes) {
        std::string unescaped;
        unescaped.reserve(field.size());
        for (std::size_t i = 0; i < field.size(); ++i) {
          unescaped += field[i];
          if (field[i] == '"') ++i;
        }
        unescaped_.push_back(std::move(unescaped));
        field = unescaped_.back();
      }
      if (at < size_ && data_[at] != delimiter_ && data_[at] != '\n' && data_[at] != '\r' && row.error.empty()) {
        if (multiline_column != 0) {
          // A quote opened lines ago "closed" on a quote that opened a field of a later row.
          cut_to_first_line(row, start, start_line, fields_on_first_line,
                            "the quoted field in column " + std::to_string(multiline_column) + " closes on line " +
                                std::to_string(line_) + " followed by text; a quote is missing or extra");
          return;
        }
        row.error = "unexpected text after the closing quote of field " + std::to_string(row.fields.size() + 1);
      }
      // Skip to the next delimiter or line end after a malformed quote.
      while (at < size_ && data_[at] != delimiter_ && data_[at] != '\n') ++at;
    } else {
      while (at < size_ && data_[at] != delimiter_ && data_[at] != '\n') ++at;
      std::uint64_t field_end = at;
      if (at < size_ && data_[at] == '\n' && field_end > field_start && data_[field_end - 1] == '\r') --field_end;
      if (at >= size_ && field_end > field_start && data_[field_end - 1] == '\r') --field_end;
      field = std::string_view(data_ + field_start, field_end - field_start);
    }
    if (field.size() > limits_.max_field_bytes && row.error.empty()) {
      row.error = "field " + std::to_string(row.fields.size() + 1) + " is larger than max_field_bytes";
    }
    row.fields.push_back(field);
    if (at >= size_) {
      row_done = true;
    } else if (data_[at] == delimiter_) {
      ++at;
    } else {  // '\n'
      ++at;
      row_done = true;
    }
  }
  if (multiline_column != 0 && limits_.expected_fields != 0 && row.fields.size() != limits_.expected_fields &&
      row.error.empty()) {
    cut_to_first_line(row, start, start_line, fields_on_first_line,
                      "the quoted field in column " + std::to_string(multiline_column) + " spans lines " +
                          std::to_string(start_line) + "-" + std::to_string(line_) + " and the record has " +
                          std::to_string(row.fields.size()) + " columns where the file has " +
                          std::to_string(limits_.expected_fields) + "; a quote is missing or extra");
    return;
  }
  line_ = std::max(line_, start_line) + 1;
  position_ = at;
}

void CsvReader::cut_to_first_line(CsvRow& row, std::uint64_t start, std::uint64_t start_line,
                                  std::size_t fields_on_first_line, std::string error) {
  const void* line_end = std::memchr(data_ + start, '\n', size_ - start);
  position_ = line_end == nullptr ? size_ : static_cast<std::uint64_t>(static_cast<const char*>(line_end) - data_) + 1;
  line_ = start_line + 1;
  row.fields.resize(std::min(fields_on_first_line, row.fields.size()));
  row.error = std::move(error);
}

std::uint64_t CsvReader::offset_of_line(std::uint64_t line) const {
  std::uint64_t offset = bom_bytes_;
  for (std::uint64_t current = 1; current < line; ++current) {
    const void* line_end = offset < size_ ? std::memchr(data_ + offset, '\n', size_ - offset) : nullptr;
    if (line_end == nullptr) {
      return size_;
    }
    offset = static_cast<std::uint64_t>(static_cast<const char*>(line_end) - data_) + 1;
  }
  return offset;
}

bool CsvReader::is_line_start(std::uint64_t offset) const {
  return offset <= bom_bytes_ || offset == size_ || (offset < size_ && data_[offset - 1] == '\n');
}

bool is_valid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());  // NOLINT
  std::size_t i = 0;
  const std::size_t size = text.size();
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if ((lead & 0xE0U) == 0xC0U) {
      length = 2;
      code_point = lead & 0x1FU;
    } else if ((lead & 0xF0U) == 0xE0U) {
      length = 3;
      code_point = lead & 0x0FU;
    } else if ((lead & 0xF8U) == 0xF0U) {
      length = 4;
      code_point = lead & 0x07U;
    } else {
      return false;
    }
    if (i + length > size) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0U) != 0x80U) return false;
      code_point = (code_point << 6U) | (bytes[i + k] & 0x3FU);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((length == 2 && code_point < 0x80) || (length == 3 && code_point < 0x800) ||
        (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace crm::connectors
