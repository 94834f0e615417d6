#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/controlled_server.hpp"

namespace crm::host::testing {

// The local WeCom double (tests/doubles/wecom_double.py, ../shared/wecom-api.md).
class WecomDouble : public ControlledServer {
 public:
  WecomDouble() : ControlledServer("tests/doubles/wecom_double.py") {}

  // The base URL clients are configured with: ".../cgi-bin/".
  [[nodiscard]] std::string api_base() const { return base_url() + "/cgi-bin/"; }

  // Requests whose path contains `path_part`, oldest first.
  std::vector<nlohmann::json> requests_to(const std::string& path_part) {
    std::vector<nlohmann::json> found;
    for (const nlohmann::json& request : control("requests")) {
      if (request["path"].get<std::string>().find(path_part) != std::string::npos) {
        found.push_back(request);
      }
    }
    return found;
  }
};

}  // namespace crm::host::testing
