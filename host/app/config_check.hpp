#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "app/session.hpp"

namespace crm::host {

// Every problem of a configuration, and what became of each plugin found.
struct ConfigCheck {
  std::filesystem::path path;
  std::vector<std::string> problems;                 // empty: valid
  bool file_valid = true;                            // false: the file itself is invalid
  std::map<std::string, std::string> plugin_states;  // plugin id (or file name) -> loaded, disabled, refused
  std::size_t plugins_found = 0;
  std::size_t plugins_configured = 0;  // entries of the configuration's "plugins" and "instances" sections
};

// Checks the configuration the options find the way the jobs would (the
// file's own checks, then every plugin's section against its schema),
// without opening or creating the store and without starting any plugin (no
// create call: nothing connects anywhere). Throws ConfigError when there is
// no configuration to check.
ConfigCheck check_config(const SessionOptions& options, const std::atomic<bool>& cancelled);

}  // namespace crm::host
