#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace crm::host::postgresql {

// `?1`, `?2`... and bare `?` become `$1`, `$2`...; string literals, quoted
// identifiers and comments are left alone. `parameter_count` gets the highest number.
std::string translate_placeholders(std::string_view sql, int& parameter_count);

// One libpq connection. The password, when given, goes to libpq as a
// connection parameter and is never part of a message.
class Connection {
 public:
  Connection(const std::string& url, const std::string& password, std::string display_name);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs statements without parameters (the simple query protocol).
  void exec(std::string_view sql);
  // The name of the server-side prepared statement for `sql` (already
  // translated), preparing it on first use; "" when the cache is full (the
  // caller then sends the text unnamed).
  const std::string& prepared(const std::string& sql, int parameter_count);

  [[nodiscard]] pg_conn* handle() const { return connection_; }
  // Inside BEGIN ... COMMIT, and no statement of it failed.
  [[nodiscard]] bool in_transaction() const;
  // Connected, and idle outside any transaction: safe to hand to the next user.
  [[nodiscard]] bool idle() const;
  [[nodiscard]] const std::string& display_name() const { return display_name_; }
  [[nodiscard]] std::int64_t changes() const { return changes_; }
  void set_changes(std::int64_t rows) { changes_ = rows; }
  // Throws DatabaseError for a failed result (and frees it), naming `what`.
  void check(pg_result* result, std::string_view what) const;

 private:
  pg_conn* connection_ = nullptr;
  std::string display_name_;
  std::unordered_map<std::string, std::string> prepared_;
  std::int64_t changes_ = 0;
};

// COPY ... FROM STDIN in text format: rows streamed to the server in large
// chunks, the fastest way PostgreSQL takes rows. Fields are escaped here;
// bytes fields go as bytea hex. Nothing else may run on the connection until
// finish() (or the destructor, which abandons the copy).
class CopyIn {
 public:
  // `table` and `columns` are trusted identifiers (the schema's own names).
  CopyIn(Connection& connection, std::string_view table, const std::vector<std::string>& columns);
  CopyIn(const CopyIn&) = delete;
  CopyIn& operator=(const CopyIn&) = delete;
  ~CopyIn();

  void add_null();
  void add_text(std::string_view value);
  void add_bytes(std::string_view value);
  void add_int64(std::int64_t value);
  void add_double(double value);
  // Ends the current row.
  void end_row();
  // Sends what is left and ends the copy; returns the rows the server took.
  std::int64_t finish();

 private:
  void separate();
  void flush(bool force);

  Connection& connection_;
  std::string buffer_;
  bool row_started_ = false;
  bool finished_ = false;
  std::string what_;
};

// One statement's parameters and its last result.
class Query {
 public:
  Query(Connection& connection, std::string_view sql);
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query();

  void bind(int index, std::string value, bool is_bytes);
  void bind_null(int index);
  bool step();
  void reset();

  [[nodiscard]] bool is_null(int column) const;
  [[nodiscard]] std::string_view text(int column) const;
  [[nodiscard]] std::int64_t int64(int column) const;
  [[nodiscard]] double real(int column) const;

 private:
  struct Parameter {
    std::optional<std::string> value;
    bool is_bytes = false;
  };
  void execute();

  Connection& connection_;
  std::string sql_;
  int parameter_count_ = 0;
  std::vector<Parameter> parameters_;
  std::optional<std::string> prepared_name_;  // "" : sent unnamed (the connection's cache was full)
  pg_result* result_ = nullptr;
  int row_ = -1;
  int rows_ = 0;
  bool executed_ = false;
  mutable std::vector<std::optional<std::string>> decoded_bytes_;  // per column, of the current row
};

}  // namespace crm::host::postgresql
