#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

namespace crm::host {

// Where `crmhost plugins install` puts packs inside a plugin directory:
//   DIR/packs/<pack name>/<version>/   the files of one installed version
//   DIR/packs/<pack name>/current      symlink to the version in use
//   DIR/packs/<pack name>/previous     symlink to the version before it (rollback)
inline constexpr std::string_view kPacksFolder = "packs";
inline constexpr std::string_view kCurrentLink = "current";
inline constexpr std::string_view kPreviousLink = "previous";

// The plugin directories to scan: each of `plugin_dirs` followed by the
// `current` version of every pack installed in it (packs in name order). Only
// packs whose `current` resolves to a folder are listed. Any thread.
std::vector<std::filesystem::path> with_installed_packs(const std::vector<std::filesystem::path>& plugin_dirs);

}  // namespace crm::host
