// http::Server over cpprestsdk's http_listener, kept for comparison with the
// Beast server (see server.hpp for why the product does not use it). All of
// cpprestsdk stays in this translation unit.
//
// What http_listener cannot be told, and how this file copes:
// - It reads the request line and headers with no size limit and no deadline,
//   and calls the listener once they are in: max_header_bytes is checked then
//   (431), after the bytes are already held; header_timeout, body_timeout and
//   idle_timeout are not applied while it reads.
// - It cannot bind port 0 and report the port: a free port is found first.
// - Its threads are cpprestsdk's process-wide pool, sized once per process.
// - Headers reach the handler in its map's order, not in the order sent.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <cpprest/http_listener.h>
#include <memory>
#include <mutex>
#include <optional>
#include <pplx/threadpool.h>
#include <stdexcept>
#include <string>

#include "http/request_target.hpp"
#include "http/server.hpp"

namespace crm::host::http {
namespace {

namespace listener = web::http::experimental::listener;

std::uint16_t free_port(const std::string& host) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  const auto endpoint = resolver.resolve(host, "0", boost::asio::ip::tcp::resolver::passive).begin()->endpoint();
  boost::asio::ip::tcp::acceptor acceptor(io, endpoint);
  return acceptor.local_endpoint().port();
}

void size_thread_pool_once(std::size_t threads) {
  static std::once_flag once;
  std::call_once(once, [threads] {
    if (threads == 0) return;
    try {
      crossplat::threadpool::initialize_with_threads(threads);
    } catch (const std::exception&) {
      // Another part of the process used cpprestsdk first: its pool stays as sized.
    }
  });
}

class CpprestServer final : public Server {
 public:
  CpprestServer(const ServerOptions& options, Handler handler) : options_(options), handler_(std::move(handler)) {}

  ~CpprestServer() override { stop(std::chrono::milliseconds(0)); }

  void start() override {
    if (listener_) throw std::logic_error("http server: started twice");
    const std::string address = options_.host + ":" + std::to_string(options_.port);
    const bool tls = !options_.tls_certificate_file.empty();
    if (tls == options_.tls_private_key_file.empty()) {
      throw std::runtime_error("http server on " + address +
                               ": TLS needs both a certificate file and a private key file");
    }
    size_thread_pool_once(options_.worker_threads);
    try {
      port_ = options_.port != 0 ? options_.port : free_port(options_.host);
      listener::http_listener_config config;
      config.set_timeout(std::chrono::duration_cast<std::chrono::seconds>(options_.body_timeout));
      if (tls) {
        config.set_ssl_context_callback([this](boost::asio::ssl::context& context) {
          context.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                              boost::asio::ssl::context::no_sslv3);
          context.use_certificate_chain_file(options_.tls_certificate_file);
          context.use_private_key_file(options_.tls_private_key_file, boost::asio::ssl::context::pem);
        });
      }
      const std::string uri = std::string(tls ? "https" : "http") + "://" + options_.host + ":" + std::to_string(port_);
      listener_ = std::make_unique<listener::http_listener>(web::uri(uri), config);
      listener_->support([this](const web::http::http_request& request) { serve(request); });
      listener_->open().wait();
    } catch (const std::exception& error) {
      listener_.reset();
      throw std::runtime_error("http server cannot listen on " + address + ": " + error.what());
    }
  }

  [[nodiscard]] std::uint16_t port() const override { return port_; }

  void stop(std::chrono::milliseconds drain) override {
    if (!listener_ || stopped_) return;
    stopped_ = true;
    {
      // http_listener::close() drops the connections of requests in flight
      // (their replies fail), so the drain waits for them first.
      std::unique_lock lock(mutex_);
      in_flight_changed_.wait_for(lock, drain, [this] { return in_flight_ == 0; });
    }
    try {
      listener_->close().wait();
    } catch (const std::exception&) {
      // Closing a listener whose connections are already gone: nothing left to do.
    }
  }

  [[nodiscard]] std::string_view implementation() const override { return "cpprestsdk"; }

 private:
  // Never blocks a thread of cpprestsdk's pool on its own tasks (the body,
  // the reply): with every pool thread waiting, nothing would complete them.
  void serve(web::http::http_request request) {
    {
      const std::lock_guard lock(mutex_);
      ++in_flight_;
    }
    auto converted = std::make_shared<Request>();
    if (auto refusal = convert_head(request, *converted)) return reply(request, std::move(*refusal));
    request.extract_vector().then([this, request, converted](pplx::task<std::vector<unsigned char>> body) mutable {
      try {
        const auto bytes = body.get();
        if (bytes.size() > options_.max_body_bytes) return reply(request, detail::problem_response(413));
        converted->body.assign(bytes.begin(), bytes.end());
      } catch (const std::exception&) {
        return reply(request, detail::problem_response(400));  // cut short or malformed
      }
      reply(request, detail::call_handler(handler_, *converted));
    });
  }

  void reply(web::http::http_request& request, Response response) {
    web::http::http_response message(static_cast<web::http::status_code>(response.status));
    for (const auto& [name, value] : response.headers) message.headers().add(name, value);
    if (!response.content_type.empty()) {
      message.set_body(std::move(response.body), response.content_type);
    } else if (!response.body.empty()) {
      message.set_body(std::move(response.body));
    }
    request.reply(message).then([this](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (const std::exception&) {
        // The client went away: nobody is left to answer.
      }
      {
        const std::lock_guard lock(mutex_);
        --in_flight_;
      }
      in_flight_changed_.notify_all();
    });
  }

  // Fills the request line and headers; a refusal when they break a limit.
  std::optional<Response> convert_head(web::http::http_request& request, Request& converted) const {
    converted.method = request.method();
    converted.target = request.request_uri().resource().to_string();
    converted.remote_address = request.remote_address();
    if (!detail::parse_target(converted.target, converted.path, converted.query)) {
      return detail::problem_response(400);
    }
    std::size_t header_bytes = converted.method.size() + converted.target.size() + 12;
    for (const auto& [name, value] : request.headers()) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      header_bytes += name.size() + value.size() + 4;
      converted.headers.emplace_back(std::move(lower), value);
    }
    if (header_bytes > options_.max_header_bytes) return detail::problem_response(431);
    if (request.headers().content_length() > options_.max_body_bytes) return detail::problem_response(413);
    return std::nullopt;
  }

  ServerOptions options_;
  Handler handler_;
  std::unique_ptr<listener::http_listener> listener_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  std::mutex mutex_;
  std::condition_variable in_flight_changed_;
  int in_flight_ = 0;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<Server> make_cpprest_server(const ServerOptions& options, Handler handler) {
  return std::make_unique<CpprestServer>(options, std::move(handler));
}

}  // namespace crm::host::http
