#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "store/database.hpp"

namespace crm::host::testing {

// The backend this test process runs against: PostgreSQL when the suite's
// server is up (CRM_TEST_POSTGRESQL_URL_FILE names the file holding its URL,
// set by the ".postgresql" variants of the tests), SQLite otherwise.
inline bool on_postgresql() {
  const char* file = std::getenv("CRM_TEST_POSTGRESQL_URL_FILE");
  return file != nullptr && *file != '\0';
}

// A store for one test: the file `dir / name` on SQLite; on PostgreSQL a new,
// empty database of its own on the suite's server (the server is thrown away
// at the end of the run, so nothing is dropped).
inline std::string test_store_locator(const std::filesystem::path& dir, const std::string& name = "crm.db") {
  if (!on_postgresql()) {
    return (dir / name).string();
  }
  std::ifstream file(std::getenv("CRM_TEST_POSTGRESQL_URL_FILE"));
  std::string server_url;
  if (!std::getline(file, server_url) || server_url.empty()) {
    throw std::runtime_error(fmt::format("CRM_TEST_POSTGRESQL_URL_FILE={} holds no URL: the test server did not start",
                                         std::getenv("CRM_TEST_POSTGRESQL_URL_FILE")));
  }
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  const std::string database = fmt::format("crm_{}_{}_{}", ::getpid(), salt % 100000, ++counter);
  Database admin(server_url);
  admin.exec(fmt::format("CREATE DATABASE {}", database));
  return server_url.substr(0, server_url.rfind('/') + 1) + database;
}

}  // namespace crm::host::testing
