// A trivial handler behind http::Server, for bench/http_server_bench.sh: every
// request gets the same ~2 KB JSON body (a customer's 360 view in shape), so
// that wrk measures the server and nothing else. Prints "port N" once it
// listens, serves until SIGINT or SIGTERM, then stops.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "http/server.hpp"

namespace {

std::string customer_body() {
  std::string body = R"({"id":42,"source":"erp","external_id":"C-000042","name":"Shenzhen Precision Parts Co., Ltd.",)"
                     R"("tier":"gold","owner":"coo","band":"red","score":42.9,"value_class":"high","reasons":[)";
  for (int i = 0; i < 18; ++i) {
    if (i > 0) body += ",";
    body += R"({"feature":"recency_days","value":)" + std::to_string(90 + i) +
            R"(,"weight":-0.21,"text":"No order for )" + std::to_string(90 + i) + R"( days, usually every 30"})";
  }
  body += R"(],"orders":{"count":118,"total_cents":98231400,"last":"2026-08-30"},"alerts":[]})";
  return body + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serve a fixed ~2 KB JSON body with one http::Server implementation"};
  std::string implementation = "beast";
  std::size_t threads = 2;
  std::uint16_t port = 0;
  std::string write_body;
  app.add_option("--implementation", implementation, "beast or cpprestsdk")
      ->check(CLI::IsMember({"beast", "cpprestsdk"}));
  app.add_option("--threads", threads, "worker threads");
  app.add_option("--port", port, "port on 127.0.0.1 (0: any free one)");
  app.add_option("--write-body", write_body, "write the body to this file and exit (for nginx)");
  CLI11_PARSE(app, argc, argv);

  const std::string body = customer_body();
  if (!write_body.empty()) {
    std::ofstream(write_body, std::ios::binary) << body;
    return 0;
  }
  // Blocked before the server's threads exist, so that they inherit the mask
  // and only sigwait below receives the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  crm::host::http::ServerOptions options;
  options.port = port;
  options.worker_threads = threads;
  auto server = crm::host::http::make_server(
      options,
      [&body](const crm::host::http::Request&) {
        crm::host::http::Response response;
        response.body = body;
        return response;
      },
      implementation == "beast" ? crm::host::http::Implementation::beast : crm::host::http::Implementation::cpprestsdk);
  server->start();
  std::cout << "port " << server->port() << " body_bytes " << body.size() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  server->stop(std::chrono::milliseconds(2000));
  return 0;
}
