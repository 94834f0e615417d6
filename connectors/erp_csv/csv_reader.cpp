#include "csv_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>

namespace crm::connectors {

CsvReader::CsvReader(const std::string& path, char delimiter, std::size_t max_field_bytes)
    : delimiter_(delimiter), max_field_bytes_(max_field_bytes) {
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

CsvReader CsvReader::from_text(std::string_view text, char delimiter, std::size_t max_field_bytes) {
  CsvReader reader(delimiter, max_field_bytes);
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
      max_field_bytes_(other.max_field_bytes_),
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
    if (at - field_start > max_field_bytes_ && row.error.empty()) {
      row.error = "field " + std::to_string(row.fields.size() + 1) + " is larger than max_field_bytes";
    }
    row.fields.emplace_back(data_ + field_start, at - field_start);
  }
  if (at < size_) ++at;  // the '\n'
  ++line_;
  position_ = at;
}

void CsvReader::parse_delimited(CsvRow& row) {
  std::uint64_t at = position_;
  const std::uint64_t start_line = line_;
  bool row_done = false;
  while (!row_done) {
    std::uint64_t field_start = at;
    std::string_view field;
    if (at < size_ && data_[at] == '"') {
      ++at;
      field_start = at;
      bool has_doubled_quotes = false;
      bool closed = false;
      while (at < size_) {
        if (data_[at] == '"') {
          if (at + 1 < size_ && data_[at + 1] == '"') {
            has_doubled_quotes = true;
            at += 2;
            continue;
          }
          closed = true;
          break;
        }
        if (data_[at] == '\n') ++line_;
        ++at;
      }
      if (!closed) {
        row.error = "a quoted field is not closed before the end of the file";
        row.fields.emplace_back(data_ + field_start, at - field_start);
        position_ = size_;
        ++line_;
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
    if (field.size() > max_field_bytes_ && row.error.empty()) {
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
  line_ = std::max(line_, start_line) + 1;
  position_ = at;
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
