#include "loader/installed_packs.hpp"

#include <algorithm>

namespace crm::host {

std::vector<std::filesystem::path> with_installed_packs(const std::vector<std::filesystem::path>& plugin_dirs) {
  std::vector<std::filesystem::path> directories;
  for (const std::filesystem::path& directory : plugin_dirs) {
    directories.push_back(directory);
    std::error_code error;
    const std::filesystem::path packs = directory / kPacksFolder;
    if (!std::filesystem::is_directory(packs, error)) {
      continue;
    }
    std::vector<std::filesystem::path> current_versions;
    for (const auto& entry : std::filesystem::directory_iterator(packs, error)) {
      const std::filesystem::path current = entry.path() / kCurrentLink;
      if (std::filesystem::is_directory(current, error)) {
        current_versions.push_back(current);
      }
    }
    std::sort(current_versions.begin(), current_versions.end());
    directories.insert(directories.end(), current_versions.begin(), current_versions.end());
  }
  return directories;
}

}  // namespace crm::host
