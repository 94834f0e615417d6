#include "csv_reader.hpp"

#include <gtest/gtest.h>

#include "csv_mapping.hpp"

namespace crm::connectors {
namespace {

std::vector<std::vector<std::string>> read_all(std::string_view text, char delimiter, std::vector<std::string>* errors,
                                               CsvLimits limits = {64, 100, 0}) {
  CsvReader reader = CsvReader::from_text(text, delimiter, limits);
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
  CsvReader reader = CsvReader::from_text("  00001 19970101  1  11.77\r\n 00002\t19970112 2 89.00\r\n", 0, {});
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
  EXPECT_EQ(errors[3], "the quoted field in column 1 is not closed before the end of the file");
}

struct ReadRow {
  std::uint64_t line = 0;
  std::string raw;
  std::vector<std::string> fields;
  std::string error;
};

std::vector<ReadRow> read_rows(std::string_view text, char delimiter, CsvLimits limits) {
  CsvReader reader = CsvReader::from_text(text, delimiter, limits);
  std::vector<ReadRow> rows;
  CsvRow row;
  while (reader.next(row)) {
    rows.push_back({row.line, std::string(row.raw), {row.fields.begin(), row.fields.end()}, row.error});
  }
  return rows;
}

std::string numbered_lines(int from, int to, char delimiter) {
  std::string text;
  for (int i = from; i <= to; ++i) {
    text += std::to_string(i) + delimiter + "v" + std::to_string(i) + "\n";
  }
  return text;
}

// Every way an unbalanced quote can run on: each time only the row that opened
// it is flagged (its first line alone), and every later line is read as rows.
TEST(CsvReader, AnUnbalancedQuoteCostsOnlyTheFirstLineOfItsRow) {
  const CsvLimits limits{64, 100, 2};
  {  // never closed: runs to the end of the file
    const auto rows = read_rows("1,\"v1\n2,v2\n3,v3\n", ',', limits);
    ASSERT_EQ(rows.size(), 3U);
    EXPECT_EQ(rows[0].line, 1U);
    EXPECT_EQ(rows[0].raw, "1,\"v1");
    EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"1"}));
    EXPECT_EQ(rows[0].error, "the quoted field in column 2 is not closed before the end of the file");
    EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"2", "v2"}));
    EXPECT_EQ(rows[2].line, 3U);
    EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"3", "v3"}));
  }
  {  // closed 300 lines later by the quote of another row: the line limit stops it
    const std::string text = "0,\"v0\n" + numbered_lines(1, 300, ',') + "301,\"v301\"\n";
    const auto rows = read_rows(text, ',', {1U << 20U, 100, 2});
    ASSERT_EQ(rows.size(), 302U);
    EXPECT_EQ(rows[0].error,
              "the quoted field in column 2 is still open after 100 lines (max_quoted_field_lines); a quote is missing "
              "or extra");
    for (std::size_t i = 1; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].error, "") << i;
      EXPECT_EQ(rows[i].line, i + 1);
    }
    EXPECT_EQ(rows[301].fields, (std::vector<std::string>{"301", "v301"}));
    // With room for 1,000 lines the quote "closes" on line 302, followed by text.
    const auto roomy = read_rows(text, ',', {1U << 20U, 1000, 2});
    ASSERT_EQ(roomy.size(), 302U);
    EXPECT_EQ(roomy[0].error,
              "the quoted field in column 2 closes on line 302 followed by text; a quote is missing or extra");
    EXPECT_EQ(roomy[300].fields, (std::vector<std::string>{"300", "v300"}));
  }
  {  // closed a few lines later before a delimiter: the column count gives it away
    const auto rows = read_rows("1,\"v1\n2,v2\n3,v3\",x\n4,v4\n", ',', limits);
    ASSERT_EQ(rows.size(), 4U);
    EXPECT_EQ(rows[0].error,
              "the quoted field in column 2 spans lines 1-3 and the record has 3 columns where the file has 2; a quote "
              "is missing or extra");
    EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"2", "v2"}));
    EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"3", "v3\"", "x"}));  // the caller rejects its width
    EXPECT_EQ(rows[3].fields, (std::vector<std::string>{"4", "v4"}));
  }
  {  // a huge quoted field stops at max_field_bytes instead of reading on
    const auto rows = read_rows("1,\"" + std::string(500, 'x') + "\n2,v2\n", ',', limits);
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows[0].error, "the quoted field in column 2 is longer than max_field_bytes (64)");
    EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"2", "v2"}));
  }
  {  // CRLF line ends and TSV
    const auto crlf = read_rows("1,\"v1\r\n2,v2\r\n", ',', limits);
    ASSERT_EQ(crlf.size(), 2U);
    EXPECT_EQ(crlf[0].raw, "1,\"v1");
    EXPECT_EQ(crlf[1].fields, (std::vector<std::string>{"2", "v2"}));
    EXPECT_EQ(crlf[1].line, 2U);
    const auto tsv = read_rows("1\t\"v1\n" + numbered_lines(2, 3, '\t'), '\t', limits);
    ASSERT_EQ(tsv.size(), 3U);
    EXPECT_NE(tsv[0].error, "");
    EXPECT_EQ(tsv[2].fields, (std::vector<std::string>{"3", "v3"}));
  }
  {  // a well-formed field over several lines is still one row
    const auto rows = read_rows("1,\"a\nb\"\n2,v2\n", ',', limits);
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"1", "a\nb"}));
    EXPECT_EQ(rows[0].error, "");
    EXPECT_EQ(rows[1].line, 3U);
  }
}

TEST(CsvReader, FindsLineStarts) {
  CsvReader reader = CsvReader::from_text("a\nbb\n\nccc", ',', {});
  EXPECT_EQ(reader.offset_of_line(1), 0U);
  EXPECT_EQ(reader.offset_of_line(2), 2U);
  EXPECT_EQ(reader.offset_of_line(4), 6U);
  EXPECT_EQ(reader.offset_of_line(9), 9U);
  EXPECT_TRUE(reader.is_line_start(5));
  EXPECT_FALSE(reader.is_line_start(4));
  EXPECT_TRUE(reader.is_line_start(9));
  EXPECT_FALSE(reader.is_line_start(10));
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
