#include "store/postgresql/connection.hpp"

#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <iterator>
#include <libpq-fe.h>

#include "store/database.hpp"

namespace crm::host::postgresql {
namespace {

// Distinct statement texts a connection keeps prepared on the server. The
// repositories hold fewer than this; past it, a text is sent unnamed each time.
constexpr std::size_t kMaxPreparedStatements = 1000;
constexpr unsigned kByteaOid = 17;
constexpr unsigned kBoolOid = 16;

std::string server_message(const pg_conn* connection, const pg_result* result) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty() && connection != nullptr) {
    message = PQerrorMessage(connection);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return message.empty() ? "no answer from the server" : message;
}

}  // namespace

std::string translate_placeholders(std::string_view sql, int& parameter_count) {
  std::string out;
  out.reserve(sql.size() + 8);
  parameter_count = 0;
  int next_bare = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const std::size_t end = sql.find(c, i + 1);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t end = sql.find('\n', i);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '?') {
      std::size_t digits = i + 1;
      while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') {
        ++digits;
      }
      int number = 0;
      if (digits > i + 1) {
        std::from_chars(sql.data() + i + 1, sql.data() + digits, number);
        next_bare = number;
      } else {
        number = ++next_bare;
      }
      parameter_count = std::max(parameter_count, number);
      out += fmt::format("${}", number);
      i = digits - 1;
    } else {
      out += c;
    }
  }
  return out;
}

Connection::Connection(const std::string& url, const std::string& password, std::string display_name)
    : display_name_(std::move(display_name)) {
  const char* keys[] = {"dbname", "password", "application_name", nullptr};
  const char* values[] = {url.c_str(), password.empty() ? nullptr : password.c_str(), "crmhost", nullptr};
  if (password.empty()) {
    keys[1] = "application_name";
    values[1] = "crmhost";
    keys[2] = nullptr;
  }
  // expand_dbname: the URL in "dbname" is parsed as a connection string.
  connection_ = PQconnectdbParams(keys, values, 1);
  if (connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK) {
    const std::string message = server_message(connection_, nullptr);
    PQfinish(connection_);
    connection_ = nullptr;
    throw DatabaseError(fmt::format("cannot connect to {}: {}", display_name_, message));
  }
  // Messages about notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(
      connection_, [](void*, const char*) {}, nullptr);
  exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'");
}

bool Connection::in_transaction() const {
  return PQtransactionStatus(connection_) == PQTRANS_INTRANS;
}

bool Connection::idle() const {
  return PQstatus(connection_) == CONNECTION_OK && PQtransactionStatus(connection_) == PQTRANS_IDLE;
}

Connection::~Connection() {
  PQfinish(connection_);
}

void Connection::check(pg_result* result, std::string_view what) const {
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
      status == PGRES_EMPTY_QUERY) {
    return;
  }
  const std::string message = server_message(connection_, result);
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  PQclear(result);
  throw DatabaseError(fmt::format("{} on {}: {}", what, display_name_, message), sqlstate);
}

void Connection::exec(std::string_view sql) {
  const std::string text(sql);
  pg_result* result = PQexec(connection_, text.c_str());
  check(result, fmt::format("running \"{}\"", sql.substr(0, 60)));
  const char* rows = PQcmdTuples(result);
  changes_ = rows != nullptr && *rows != '\0' ? std::strtoll(rows, nullptr, 10) : 0;
  PQclear(result);
}

const std::string& Connection::prepared(const std::string& sql, int parameter_count) {
  static const std::string kUnnamed;
  if (const auto found = prepared_.find(sql); found != prepared_.end()) {
    return found->second;
  }
  if (prepared_.size() >= kMaxPreparedStatements) {
    return kUnnamed;
  }
  std::string name = fmt::format("crm_{}", prepared_.size() + 1);
  pg_result* result = PQprepare(connection_, name.c_str(), sql.c_str(), parameter_count, nullptr);
  check(result, fmt::format("preparing \"{}\"", std::string_view(sql).substr(0, 60)));
  PQclear(result);
  return prepared_.emplace(sql, std::move(name)).first->second;
}

Query::Query(Connection& connection, std::string_view sql) : connection_(connection) {
  sql_ = translate_placeholders(sql, parameter_count_);
  parameters_.resize(static_cast<std::size_t>(parameter_count_));
}

Query::~Query() {
  PQclear(result_);
}

void Query::bind(int index, std::string value, bool is_bytes) {
  if (index < 1 || index > parameter_count_) {
    throw DatabaseError(fmt::format("binding parameter {} of a statement with {} on {}", index, parameter_count_,
                                    connection_.display_name()));
  }
  parameters_[static_cast<std::size_t>(index - 1)] = {std::move(value), is_bytes};
}

void Query::bind_null(int index) {
  if (index < 1 || index > parameter_count_) {
    throw DatabaseError(fmt::format("binding parameter {} of a statement with {} on {}", index, parameter_count_,
                                    connection_.display_name()));
  }
  parameters_[static_cast<std::size_t>(index - 1)] = {std::nullopt, false};
}

void Query::execute() {
  std::vector<const char*> values(parameters_.size());
  std::vector<int> lengths(parameters_.size());
  std::vector<int> formats(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Parameter& parameter = parameters_[i];
    values[i] = parameter.value ? parameter.value->c_str() : nullptr;
    lengths[i] = parameter.value ? static_cast<int>(parameter.value->size()) : 0;
    formats[i] = parameter.is_bytes ? 1 : 0;
  }
  // Looked up once per statement, not per execution: a statement run once per row would
  // otherwise hash its whole text every time.
  if (!prepared_name_) {
    prepared_name_ = connection_.prepared(sql_, parameter_count_);
  }
  const std::string& name = *prepared_name_;
  pg_result* result = name.empty() ? PQexecParams(connection_.handle(), sql_.c_str(), parameter_count_, nullptr,
                                                  values.data(), lengths.data(), formats.data(), 0)
                                   : PQexecPrepared(connection_.handle(), name.c_str(), parameter_count_, values.data(),
                                                    lengths.data(), formats.data(), 0);
  connection_.check(result, fmt::format("executing \"{}\"", std::string_view(sql_).substr(0, 60)));
  result_ = result;
  rows_ = PQntuples(result);
  row_ = -1;
  executed_ = true;
  const char* changed = PQcmdTuples(result);
  connection_.set_changes(changed != nullptr && *changed != '\0' ? std::strtoll(changed, nullptr, 10) : 0);
  decoded_bytes_.assign(static_cast<std::size_t>(PQnfields(result)), std::nullopt);
}

bool Query::step() {
  if (!executed_) {
    execute();
  }
  if (row_ + 1 >= rows_) {
    row_ = rows_;
    return false;
  }
  ++row_;
  for (auto& decoded : decoded_bytes_) {
    decoded.reset();
  }
  return true;
}

void Query::reset() {
  PQclear(result_);
  result_ = nullptr;
  executed_ = false;
  row_ = -1;
  rows_ = 0;
  for (Parameter& parameter : parameters_) {
    parameter = {};
  }
}

bool Query::is_null(int column) const {
  return result_ == nullptr || row_ < 0 || row_ >= rows_ || PQgetisnull(result_, row_, column) != 0;
}

std::string_view Query::text(int column) const {
  if (is_null(column)) {
    return {};
  }
  if (PQftype(result_, column) == kByteaOid) {
    auto& decoded = decoded_bytes_[static_cast<std::size_t>(column)];
    if (!decoded) {
      std::size_t length = 0;
      unsigned char* bytes =
          PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row_, column)), &length);
      decoded = std::string(reinterpret_cast<const char*>(bytes), length);
      PQfreemem(bytes);
    }
    return *decoded;
  }
  return {PQgetvalue(result_, row_, column), static_cast<std::size_t>(PQgetlength(result_, row_, column))};
}

std::int64_t Query::int64(int column) const {
  if (is_null(column)) {
    return 0;
  }
  const char* value = PQgetvalue(result_, row_, column);
  const auto length = static_cast<std::size_t>(PQgetlength(result_, row_, column));
  if (PQftype(result_, column) == kBoolOid) {
    return value[0] == 't' ? 1 : 0;
  }
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(value, value + length, number);
  if (error != std::errc() || end != value + length) {
    // A numeric or a real where an integer is read: truncate as SQLite does.
    return static_cast<std::int64_t>(std::strtod(value, nullptr));
  }
  return number;
}

double Query::real(int column) const {
  if (is_null(column)) {
    return 0;
  }
  const char* value = PQgetvalue(result_, row_, column);
  const auto length = static_cast<std::size_t>(PQgetlength(result_, row_, column));
  if (PQftype(result_, column) == kBoolOid) {
    return value[0] == 't' ? 1 : 0;
  }
  double number = 0;
  const auto [end, error] = std::from_chars(value, value + length, number);
  if (error != std::errc()) {
    return std::strtod(value, nullptr);  // "Infinity", "NaN"
  }
  return number;
}

namespace {
constexpr std::size_t kCopyChunkBytes = 1 << 20;
}  // namespace

CopyIn::CopyIn(Connection& connection, std::string_view table, const std::vector<std::string>& columns)
    : connection_(connection), what_(fmt::format("copying rows into {}", table)) {
  std::string sql = fmt::format("COPY {} (", table);
  for (std::size_t i = 0; i < columns.size(); ++i) {
    sql += fmt::format("{}{}", i == 0 ? "" : ", ", columns[i]);
  }
  sql += ") FROM STDIN";
  pg_result* started = PQexec(connection_.handle(), sql.c_str());
  connection_.check(started, what_);
  PQclear(started);
  buffer_.reserve(kCopyChunkBytes + 4096);
}

CopyIn::~CopyIn() {
  if (!finished_) {
    PQputCopyEnd(connection_.handle(), "abandoned");
    while (pg_result* result = PQgetResult(connection_.handle())) {
      PQclear(result);
    }
  }
}

void CopyIn::separate() {
  if (row_started_) {
    buffer_ += '\t';
  }
  row_started_ = true;
}

void CopyIn::add_null() {
  separate();
  buffer_ += "\\N";
}

void CopyIn::add_text(std::string_view value) {
  separate();
  for (const char c : value) {
    switch (c) {
      case '\\':
        buffer_ += "\\\\";
        break;
      case '\t':
        buffer_ += "\\t";
        break;
      case '\n':
        buffer_ += "\\n";
        break;
      case '\r':
        buffer_ += "\\r";
        break;
      default:
        buffer_ += c;
    }
  }
}

void CopyIn::add_bytes(std::string_view value) {
  separate();
  static constexpr char kHex[] = "0123456789abcdef";
  buffer_ += "\\\\x";  // \\x in COPY text: the bytea hex format's \x
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    buffer_ += kHex[byte >> 4];
    buffer_ += kHex[byte & 15];
  }
}

void CopyIn::add_int64(std::int64_t value) {
  separate();
  fmt::format_to(std::back_inserter(buffer_), "{}", value);
}

void CopyIn::add_double(double value) {
  separate();
  fmt::format_to(std::back_inserter(buffer_), "{}", value);
}

void CopyIn::end_row() {
  buffer_ += '\n';
  row_started_ = false;
  flush(false);
}

void CopyIn::flush(bool force) {
  if (buffer_.empty() || (!force && buffer_.size() < kCopyChunkBytes)) {
    return;
  }
  if (PQputCopyData(connection_.handle(), buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
    throw DatabaseError(
        fmt::format("{} on {}: {}", what_, connection_.display_name(), server_message(connection_.handle(), nullptr)));
  }
  buffer_.clear();
}

std::int64_t CopyIn::finish() {
  flush(true);
  finished_ = true;
  if (PQputCopyEnd(connection_.handle(), nullptr) != 1) {
    throw DatabaseError(
        fmt::format("{} on {}: {}", what_, connection_.display_name(), server_message(connection_.handle(), nullptr)));
  }
  std::int64_t rows = 0;
  std::string failure;
  std::string sqlstate;
  while (pg_result* result = PQgetResult(connection_.handle())) {
    if (PQresultStatus(result) != PGRES_COMMAND_OK && failure.empty()) {
      failure = server_message(connection_.handle(), result);
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      sqlstate = state != nullptr ? state : "";
    } else if (const char* taken = PQcmdTuples(result); taken != nullptr && *taken != '\0') {
      rows += std::strtoll(taken, nullptr, 10);
    }
    PQclear(result);
  }
  if (!failure.empty()) {
    throw DatabaseError(fmt::format("{} on {}: {}", what_, connection_.display_name(), failure), sqlstate);
  }
  connection_.set_changes(rows);
  return rows;
}

}  // namespace crm::host::postgresql
