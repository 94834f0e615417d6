#pragma once

#include <atomic>
#include <string>

#include "app/session.hpp"

namespace crm::host {

struct ServeOptions {
  // "HOST:PORT" ("[::1]:8080" for IPv6); "" : the configuration's service.listen, else 127.0.0.1:8080.
  std::string listen;
};

// `crmhost serve`: the scheduler, the REST API, /metrics and the health
// checks, until `stop_requested` turns true (SIGTERM or SIGINT). Then it stops
// accepting requests, lets the running job stop between its steps and the
// requests in flight finish (at most ~8 s), and returns 0. Throws ConfigError
// for a bad listen address or service section, StoreError when the store is
// refused, std::runtime_error when the address cannot be bound.
int run_service(Session& session, const ServeOptions& options, const std::atomic<bool>& stop_requested);

}  // namespace crm::host
