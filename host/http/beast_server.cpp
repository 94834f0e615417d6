// http::Server over Boost.Beast and Boost.Asio: one io_context run by
// worker_threads threads, one strand per connection, the handler called on
// the connection's strand. Every read and write runs under a deadline of the
// tcp_stream, so a client that trickles its headers (slow loris), stalls its
// body or idles on a kept-alive connection is cut off.

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/request_target.hpp"
#include "http/server.hpp"

namespace crm::host::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// After an error response the server stops reading, but the client may still
// be sending (a body over the limit). Closing with unread bytes makes the
// kernel reset the connection, and the client may lose the response before
// reading it; so the server shuts its side down and discards what arrives,
// for a bounded time and amount (nginx's lingering close).
constexpr std::chrono::milliseconds kLingerTime{1'000};
constexpr std::size_t kLingerBytes = 1024 * 1024;
constexpr std::size_t kReadChunkBytes = 4096;

class Session {
 public:
  virtual ~Session() = default;
  // Both post to the session's strand; any thread may call them.
  virtual void close_if_idle() = 0;
  virtual void close_now() = 0;
};

// What the server and its sessions share; sessions hold it by shared_ptr so
// that a session destroyed with the io_context still finds its registry.
struct Shared {
  ServerOptions options;
  Handler handler;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable sessions_changed;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;  // guarded by mutex
  std::uint64_t next_session_id = 0;                                   // guarded by mutex

  void forget(std::uint64_t id) {
    {
      const std::lock_guard lock(mutex);
      sessions.erase(id);
    }
    sessions_changed.notify_all();
  }

  std::vector<std::shared_ptr<Session>> live_sessions() {
    const std::lock_guard lock(mutex);
    std::vector<std::shared_ptr<Session>> live;
    for (const auto& [id, weak] : sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    return live;
  }
};

std::string to_string(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return text + ":" + std::to_string(endpoint.port());
}

bool is_parse_error(const beast::error_code& error) {
  return error.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         error != bhttp::error::end_of_stream && error != bhttp::error::partial_message;
}

bool holds_line_break(const std::string& text) {
  return text.find_first_of("\r\n") != std::string::npos;
}

template <class Stream>
class Connection final : public Session, public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Connection(std::shared_ptr<Shared> shared, Stream stream, std::string remote_address, std::uint64_t id)
      : shared_(std::move(shared)), stream_(std::move(stream)), remote_address_(std::move(remote_address)), id_(id) {}

  ~Connection() override { shared_->forget(id_); }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void close_if_idle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->lowest().cancel();
    });
  }

  void close_now() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& options() const { return shared_->options; }

  void begin() {
    if constexpr (kTls) {
      lowest().expires_after(options().header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](const beast::error_code& error) {
                                if (error) return self->close();
                                self->wait_for_request(true);
                              });
    } else {
      wait_for_request(true);
    }
  }

  // Waits for the first bytes of a request: header_timeout on a new
  // connection, idle_timeout between requests of a kept-alive one.
  void wait_for_request(bool first) {
    idle_ = true;
    if (shared_->stopping) return close();
    if (buffer_.size() > 0) return read_header();  // pipelined
    lowest().expires_after(first ? options().header_timeout : options().idle_timeout);
    stream_.async_read_some(
        asio::buffer(chunk_), [self = this->shared_from_this()](const beast::error_code& error, std::size_t bytes) {
          if (error) return self->close();
          beast::ostream(self->buffer_).write(self->chunk_.data(), static_cast<std::streamsize>(bytes));
          self->read_header();
        });
  }

  void read_header() {
    idle_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(options().max_body_bytes);
    lowest().expires_after(options().header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const beast::error_code& error, std::size_t) { self->on_header(error); });
  }

  // A failed read: the status to answer with, or nullopt to close without one
  // (the client went away or timed out: nobody is reading).
  static std::optional<int> status_for(const beast::error_code& error) {
    if (error == bhttp::error::header_limit) return 431;
    if (error == bhttp::error::body_limit) return 413;
    if (is_parse_error(error)) return 400;
    return std::nullopt;
  }

  void on_header(const beast::error_code& error) {
    if (error) return fail(error);
    const auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes) return respond_and_close(413);
    if (parser_->is_done()) return handle();
    const auto& header = parser_->get();
    const auto expect = header[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      lowest().expires_after(options().body_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](const beast::error_code& write_error, std::size_t) {
                          if (write_error) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    lowest().expires_after(options().body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](const beast::error_code& error, std::size_t) {
                        if (error) return self->fail(error);
                        self->handle();
                      });
  }

  void fail(const beast::error_code& error) {
    if (const auto status = status_for(error)) return respond_and_close(*status);
    close();
  }

  void handle() {
    auto message = parser_->release();
    parser_.reset();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    if (!detail::parse_target(request.target, request.path, request.query)) return respond_and_close(400);
    request.headers.reserve(std::distance(message.begin(), message.end()));
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote_address = remote_address_;
    Response response = detail::call_handler(shared_->handler, request);
    const bool keep_alive = message.keep_alive() && !shared_->stopping;
    write(std::move(response), keep_alive, false);
  }

  void respond_and_close(int status) { write(detail::problem_response(status), false, true); }

  void write(Response response, bool keep_alive, bool linger) {
    idle_ = false;
    bool valid = response.status >= 100 && response.status <= 999 && !holds_line_break(response.content_type);
    for (const auto& [name, value] : response.headers) valid = valid && !holds_line_break(name + value);
    if (!valid) response = detail::problem_response(500);
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(response.status));
    if (!response.content_type.empty()) response_.set(bhttp::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) response_.insert(name, value);
    response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    lowest().expires_after(options().body_timeout);
    bhttp::async_write(
        stream_, response_,
        [self = this->shared_from_this(), keep_alive, linger](const beast::error_code& error, std::size_t) {
          if (error) return self->close();
          if (keep_alive && !self->shared_->stopping) return self->wait_for_request(false);
          self->finish(linger);
        });
  }

  // Ends a connection after its last response.
  void finish(bool linger) {
    if constexpr (kTls) {
      lowest().expires_after(kLingerTime);
      stream_.async_shutdown([self = this->shared_from_this()](const beast::error_code&) { self->close(); });
    } else {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      if (!linger) return close();
      lowest().expires_after(kLingerTime);
      discard();
    }
  }

  void discard() {
    stream_.async_read_some(asio::buffer(chunk_),
                            [self = this->shared_from_this()](const beast::error_code& error, std::size_t bytes) {
                              self->lingered_bytes_ += bytes;
                              if (error || self->lingered_bytes_ > kLingerBytes) return self->close();
                              self->discard();
                            });
  }

  void close() {
    idle_ = false;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  std::shared_ptr<Shared> shared_;
  Stream stream_;
  std::string remote_address_;
  std::uint64_t id_;
  beast::flat_buffer buffer_;
  std::array<char, kReadChunkBytes> chunk_{};  // the first bytes of a request; what a lingering close discards
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  bool idle_ = true;  // waiting for a request to begin: a draining server closes such connections
  std::size_t lingered_bytes_ = 0;
};

class BeastServer final : public Server {
 public:
  BeastServer(const ServerOptions& options, Handler handler) : shared_(std::make_shared<Shared>()) {
    shared_->options = options;
    shared_->handler = std::move(handler);
  }

  ~BeastServer() override { stop(std::chrono::milliseconds(0)); }

  void start() override {
    if (started_) throw std::logic_error("http server: started twice");
    const ServerOptions& options = shared_->options;
    const std::string address = options.host + ":" + std::to_string(options.port);
    if (options.tls_certificate_file.empty() != options.tls_private_key_file.empty()) {
      throw std::runtime_error("http server on " + address +
                               ": TLS needs both a certificate file and a private key file");
    }
    if (!options.tls_certificate_file.empty()) {
      tls_context_.emplace(asio::ssl::context::tls_server);
      tls_context_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                asio::ssl::context::no_tlsv1_1);
      beast::error_code error;
      tls_context_->use_certificate_chain_file(options.tls_certificate_file, error);
      if (error) {
        throw std::runtime_error("http server: cannot use TLS certificate file " + options.tls_certificate_file + ": " +
                                 error.message());
      }
      tls_context_->use_private_key_file(options.tls_private_key_file, asio::ssl::context::pem, error);
      if (error) {
        // The message names the file, never its content.
        throw std::runtime_error("http server: cannot use TLS private key file " + options.tls_private_key_file + ": " +
                                 error.message());
      }
    }
    try {
      tcp::resolver resolver(io_);
      const auto endpoints = resolver.resolve(options.host, std::to_string(options.port),
                                              tcp::resolver::passive | tcp::resolver::numeric_service);
      const tcp::endpoint endpoint = endpoints.begin()->endpoint();
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen(asio::socket_base::max_listen_connections);
      port_ = acceptor_.local_endpoint().port();
    } catch (const std::exception& error) {
      throw std::runtime_error("http server cannot listen on " + address + ": " + error.what());
    }
    started_ = true;
    accept();
    std::size_t threads = options.worker_threads;
    if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  [[nodiscard]] std::uint16_t port() const override { return port_; }

  void stop(std::chrono::milliseconds drain) override {
    if (!started_ || stopped_) return;
    stopped_ = true;
    shared_->stopping = true;
    // The acceptor lives on its strand; closing it there refuses new connections from now on.
    std::promise<void> closed;
    asio::post(acceptor_.get_executor(), [this, &closed] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
      closed.set_value();
    });
    closed.get_future().wait();
    for (const auto& session : shared_->live_sessions()) session->close_if_idle();
    const auto no_sessions = [this] { return shared_->sessions.empty(); };
    {
      std::unique_lock lock(shared_->mutex);
      shared_->sessions_changed.wait_for(lock, drain, no_sessions);
    }
    for (const auto& session : shared_->live_sessions()) session->close_now();
    {
      // A handler still running keeps its session: it is waited for, as a
      // thread cannot be stopped in the middle of a handler.
      std::unique_lock lock(shared_->mutex);
      shared_->sessions_changed.wait(lock, no_sessions);
    }
    work_.reset();
    io_.stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  [[nodiscard]] std::string_view implementation() const override { return "beast"; }

 private:
  void accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](const beast::error_code& error, tcp::socket socket) {
      if (shared_->stopping || error == asio::error::operation_aborted) return;
      if (error) {
        // Out of descriptors (EMFILE) and the like: retrying at once would spin.
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](const beast::error_code& wait_error) {
          if (!wait_error && !shared_->stopping) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  void admit(tcp::socket socket) {
    beast::error_code error;
    const auto remote = socket.remote_endpoint(error);
    if (error) return;
    socket.set_option(tcp::no_delay(true), error);
    std::uint64_t id = 0;
    {
      const std::lock_guard lock(shared_->mutex);
      if (shared_->sessions.size() >= shared_->options.max_connections) return;  // the socket closes here
      id = shared_->next_session_id++;
      shared_->sessions.emplace(id, std::weak_ptr<Session>());
    }
    std::shared_ptr<Session> session;
    if (tls_context_) {
      using TlsStream = beast::ssl_stream<beast::tcp_stream>;
      auto connection = std::make_shared<Connection<TlsStream>>(
          shared_, TlsStream(beast::tcp_stream(std::move(socket)), *tls_context_), to_string(remote), id);
      connection->run();
      session = std::move(connection);
    } else {
      auto connection = std::make_shared<Connection<beast::tcp_stream>>(shared_, beast::tcp_stream(std::move(socket)),
                                                                        to_string(remote), id);
      connection->run();
      session = std::move(connection);
    }
    const std::lock_guard lock(shared_->mutex);
    if (auto found = shared_->sessions.find(id); found != shared_->sessions.end()) found->second = session;
  }

  std::shared_ptr<Shared> shared_;
  std::optional<asio::ssl::context> tls_context_;  // before io_: connections still queued in io_ use it
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  tcp::acceptor acceptor_{asio::make_strand(io_)};
  asio::steady_timer retry_timer_{acceptor_.get_executor()};
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Server> make_beast_server(const ServerOptions& options, Handler handler) {
  return std::make_unique<BeastServer>(options, std::move(handler));
}

}  // namespace crm::host::http
