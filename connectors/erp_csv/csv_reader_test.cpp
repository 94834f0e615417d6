#include "csv_reader.hpp"

#include <gtest/gtest.h>

#include "csv_mapping.hpp"

namespace crm::connectors {
namespace {

std::vector<std::vector<std::string>> read_all(std::string_view text, char delimiter,
                                               std::vector<std::string>* errors) {
  CsvReader reader = CsvReader::from_text(text, delimiter, 64);
  std::vector<std::vector<std::string>> rows;
  CsvRow row;
  while (reader.next(row)) {
    rows.emplace_back(row.fields.begin(), row.fields.end());
    if (errors != nullptr) errors->push_back(row.error);
  }
  return rows;
}

TEST(CsvReader, Rfc4180QuotingAndLineEnds) {
  const auto rows = read_all("a,\"b,c\",\"d \"\"e\"\"\"\r\n\"multi\nline\",,x\n\nlast,row,\"\"", ',', nullptr);
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b,c", "d \"e\""}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"multi\nline", "", "x"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"last", "row", ""}));
}

TEST(CsvReader, WhitespaceModeAndLineNumbers) {
  CsvReader reader = CsvReader::from_text("  00001 19970101  1  11.77\r\n 00002\t19970112 2 89.00\r\n", 0, 64);
  CsvRow row;
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(row.line, 1U);
  EXPECT_EQ(std::vector<std::string>(row.fields.begin(), row.fields.end()),
            (std::vector<std::string>{"00001", "19970101", "1", "11.77"}));
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(row.line, 2U);
  EXPECT_EQ(row.fields[3], "89.00");
  EXPECT_FALSE(reader.next(row));
}

TEST(CsvReader, MalformedRowsCarryAnErrorAndTheReaderGoesOn) {
  std::vector<std::string> errors;
  const auto rows = read_all("\"a\"b,c\nok,1\n" + std::string(100, 'z') + ",2\n\"open,3\n", ',', &errors);
  ASSERT_EQ(rows.size(), 4U);
  EXPECT_EQ(errors[0], "unexpected text after the closing quote of field 1");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(errors[2], "field 1 is larger than max_field_bytes");
  EXPECT_EQ(errors[3], "a quoted field is not closed before the end of the file");
}

TEST(CsvMapping, Utf8DatesAndNumbers) {
  EXPECT_TRUE(is_valid_utf8("投诉 complaint"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));      // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xE6\x8A"));      // cut short
  EXPECT_EQ(parse_time_ms("2011-12-09 12:50:00", "%Y-%m-%d %H:%M:%S", 0), 1'323'435'000'000);
  EXPECT_EQ(parse_time_ms("2011-12-09 20:50", "%Y-%m-%d %H:%M", 480), 1'323'435'000'000);  // UTC+8
  EXPECT_EQ(parse_time_ms("19970101", "%Y%m%d", 0), 852'076'800'000);
  EXPECT_EQ(parse_time_ms("2024-02-30", "%Y-%m-%d", 0), std::nullopt);
  EXPECT_EQ(parse_time_ms("2024-02-29x", "%Y-%m-%d", 0), std::nullopt);
  EXPECT_EQ(parse_number(" -12.5 "), -12.5);
  EXPECT_EQ(parse_number("12,5"), std::nullopt);
  EXPECT_EQ(strip_zero_fraction("17850.0"), "17850");
  EXPECT_EQ(strip_zero_fraction("17850.5"), "17850.5");
}

}  // namespace
}  // namespace crm::connectors
