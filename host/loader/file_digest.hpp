#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "loader/manifest.hpp"

namespace crm::host {

// The SHA-256 of `bytes`, as 64 lowercase hex digits (what sha256sum prints).
std::string sha256_hex(std::string_view bytes);

// The SHA-256 of a file's contents, as 64 lowercase hex digits. Reads the file
// in chunks; throws std::runtime_error naming the file when it cannot be read.
std::string sha256_file_hex(const std::filesystem::path& file);

// Why the library `file` may not be mapped because a plugin it declares is
// pinned (plugins.<id>.sha256 in `plugin_settings`) to another SHA-256, or
// because it cannot be read to check the pin; "" when no plugin of it is
// pinned or every pin matches. Reads the file only: no code of it runs, so the
// loader calls this before dlopen. Any thread.
std::string pinned_file_problem(const std::filesystem::path& file, const Manifest& manifest,
                                const nlohmann::json& plugin_settings);

}  // namespace crm::host
