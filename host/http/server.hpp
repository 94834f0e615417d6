#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crm::host::http {

// One HTTP request as a handler sees it: fully read, within the server's limits.
struct Request {
  std::string method;                                        // "GET", "POST"...
  std::string target;                                        // as sent: "/api/v1/customers?band=red"
  std::string path;                                          // percent-decoded path of the target: "/api/v1/customers"
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in the order sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in the order sent
  std::string body;
  std::string remote_address;  // "127.0.0.1:53422"

  // The first header named `name` (lower case), or nullopt.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  // The first query parameter named `name`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> query_value(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Location, Set-Cookie...)
  std::string body;
};

// Called on one of the server's worker threads, concurrently with other calls:
// a handler must be thread-safe. It must not throw; a handler that throws gets
// a bare 500 with no detail (the exception text is never sent).
using Handler = std::function<Response(const Request&)>;

// What the server refuses and when it gives up on a client. Defaults suit a
// service behind a reverse proxy or on a trusted network.
struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;                         // 0: any free port (see Server::port())
  std::size_t worker_threads = 0;                    // 0: the number of cores
  std::size_t max_body_bytes = 10 * 1024 * 1024;     // larger bodies get 413
  std::size_t max_header_bytes = 16 * 1024;          // request line and headers; larger get 431
  std::chrono::milliseconds header_timeout{10'000};  // to receive the request line and headers
  std::chrono::milliseconds body_timeout{30'000};    // to receive the body once headers are in
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive connection without a request
  std::size_t max_connections = 10'000;              // beyond: accepted and closed at once
  // TLS when both are set (PEM files); plain HTTP otherwise.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
};

// An HTTP/1.1 server: listens when started, calls the handler for each
// complete request, answers malformed requests with 400 by itself, and stops
// cleanly. Thread-safe: start/stop from any one thread.
class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts serving; throws std::runtime_error naming the address when it cannot bind.
  virtual void start() = 0;
  // The port bound (useful with port 0); valid after start().
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // Stops accepting connections, lets requests in flight finish for at most
  // `drain`, then closes every connection and joins the worker threads.
  virtual void stop(std::chrono::milliseconds drain) = 0;
  // Which implementation serves: "beast" or "cpprestsdk".
  [[nodiscard]] virtual std::string_view implementation() const = 0;
};

// The two implementations of Server. Beast holds under the tests of
// tests/host/http (limits, timeouts, slow clients, 1,000 connections, drain).
// cpprestsdk's http_listener does not, and is kept only for comparison: it
// reads headers with no deadline and no size bound (a slow-loris client keeps
// its connection), takes "HTTP/9.Z" and "Content-Length: banana" for valid
// requests, answers a too-large Content-Length only after receiving the whole
// body, and drops requests in flight when closed (so its stop() keeps
// accepting connections while it drains).
enum class Implementation { beast, cpprestsdk };

// The server the product uses: Boost.Beast.
std::unique_ptr<Server> make_server(const ServerOptions& options, Handler handler);
// A server of the implementation named, for tests and benchmarks that compare them.
std::unique_ptr<Server> make_server(const ServerOptions& options, Handler handler, Implementation implementation);

}  // namespace crm::host::http
