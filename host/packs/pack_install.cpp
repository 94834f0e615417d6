#include "packs/pack_install.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sys/stat.h>
#include <system_error>

#include "loader/file_digest.hpp"
#include "loader/installed_packs.hpp"
#include "loader/manifest.hpp"
#include "packs/pack_signing.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kFormat = "crmhost-pack";
constexpr int kFormatVersion = 1;

std::string name_problem(const std::string& name) {
  static const std::regex kName("^[a-z0-9_-][a-z0-9_.-]{0,63}$");
  return std::regex_match(name, kName) ? std::string() : "must be 1 to 64 of [a-z0-9_.-], not starting with a dot";
}

std::string version_problem(const std::string& version) {
  static const std::regex kVersion("^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,63}$");
  if (!std::regex_match(version, kVersion)) {
    return "must be 1 to 64 of [A-Za-z0-9._+-], not starting with a dot";
  }
  if (version == kCurrentLink || version == kPreviousLink) {
    return fmt::format("may not be \"{}\", the name of a link beside the versions", version);
  }
  return {};
}

nlohmann::json manifest_json(const PackManifest& manifest) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const PackPlugin& plugin : manifest.plugins) {
    plugins.push_back(
        {{"id", plugin.id}, {"kind", plugin.kind}, {"version", plugin.version}, {"library", plugin.library}});
  }
  nlohmann::json files = nlohmann::json::array();
  for (const PackFile& file : manifest.files) {
    files.push_back({{"name", file.name}, {"size", file.size}, {"sha256", file.sha256}});
  }
  return {{"format", kFormat},
          {"format_version", kFormatVersion},
          {"name", manifest.name},
          {"version", manifest.version},
          {"signer", manifest.signer},
          {"plugins", plugins},
          {"files", files}};
}

// pack.json's fields, checked; `where` prefixes each problem ("PACK: pack.json").
PackManifest parse_manifest(const nlohmann::json& document, const std::string& where) {
  const auto refuse = [&](const std::string& problem) { return PackError(fmt::format("{}: {}", where, problem)); };
  if (!document.is_object()) {
    throw refuse("is not a JSON object");
  }
  if (document.value("format", std::string()) != kFormat) {
    throw refuse(fmt::format("\"format\" is not \"{}\"; this is not a crmhost pack", kFormat));
  }
  if (!document.contains("format_version") || !document["format_version"].is_number_integer()) {
    throw refuse("has no integer \"format_version\"");
  }
  if (document["format_version"].get<std::int64_t>() != kFormatVersion) {
    throw refuse(fmt::format("format_version {} is not the {} this host reads; upgrade crmhost",
                             document["format_version"].dump(), kFormatVersion));
  }
  const auto text = [&](const nlohmann::json& object, const char* field, const std::string& at) {
    if (!object.contains(field) || !object[field].is_string()) {
      throw refuse(fmt::format("{}\"{}\" is missing or not a string", at, field));
    }
    return object[field].get<std::string>();
  };
  PackManifest manifest;
  manifest.name = text(document, "name", "");
  if (const std::string problem = name_problem(manifest.name); !problem.empty()) {
    throw refuse(fmt::format("name \"{}\" {}", manifest.name, problem));
  }
  manifest.version = text(document, "version", "");
  if (const std::string problem = version_problem(manifest.version); !problem.empty()) {
    throw refuse(fmt::format("version \"{}\" {}", manifest.version, problem));
  }
  manifest.signer = text(document, "signer", "");
  if (!document.contains("plugins") || !document["plugins"].is_array()) {
    throw refuse("\"plugins\" is missing or not an array");
  }
  for (const nlohmann::json& plugin : document["plugins"]) {
    if (!plugin.is_object()) {
      throw refuse("an entry of \"plugins\" is not an object");
    }
    manifest.plugins.push_back(PackPlugin{text(plugin, "id", "plugins[]: "), text(plugin, "kind", "plugins[]: "),
                                          text(plugin, "version", "plugins[]: "),
                                          text(plugin, "library", "plugins[]: ")});
  }
  if (!document.contains("files") || !document["files"].is_array() || document["files"].empty()) {
    throw refuse("\"files\" is missing, not an array, or empty");
  }
  static const std::regex kSha256("^[0-9a-f]{64}$");
  std::set<std::string> names;
  for (const nlohmann::json& file : document["files"]) {
    if (!file.is_object()) {
      throw refuse("an entry of \"files\" is not an object");
    }
    PackFile entry;
    entry.name = text(file, "name", "files[]: ");
    const std::string at = fmt::format("files[\"{}\"]: ", entry.name);
    if (const std::string problem = pack_entry_name_problem(entry.name); !problem.empty()) {
      throw refuse(fmt::format("{}the name {}", at, problem));
    }
    if (entry.name == kPackManifestName || entry.name == kPackSignatureName) {
      throw refuse(fmt::format("{}lists the pack's own {}", at, entry.name));
    }
    if (!names.insert(entry.name).second) {
      throw refuse(fmt::format("{}is listed twice", at));
    }
    if (!file.contains("size") || !file["size"].is_number_unsigned() ||
        file["size"].get<std::uint64_t>() > kMaxPackBytes) {
      throw refuse(fmt::format("{}\"size\" is missing, negative or too large", at));
    }
    entry.size = file["size"].get<std::uint64_t>();
    entry.sha256 = text(file, "sha256", at);
    if (!std::regex_match(entry.sha256, kSha256)) {
      throw refuse(fmt::format("{}\"sha256\" is not 64 lowercase hex digits", at));
    }
    manifest.files.push_back(std::move(entry));
  }
  for (const PackFile& file : manifest.files) {
    const fs::path name(file.name);
    if (name.extension() == ".so" && names.count(fs::path(name).replace_extension(".json").string()) == 0) {
      throw refuse(fmt::format("the library {} has no manifest {} beside it", file.name,
                               fs::path(name).replace_extension(".json").string()));
    }
  }
  return manifest;
}

// Writes `bytes` into a new file `file` (mode 0644) and flushes it to disk.
void write_file_durably(const fs::path& file, const std::string& bytes) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw PackError(fmt::format("{}: cannot create ({})", file.string(), std::generic_category().message(errno)));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t written = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (written <= 0) {
      const int error = errno;
      ::close(fd);
      throw PackError(fmt::format("{}: cannot write ({})", file.string(), std::generic_category().message(error)));
    }
    done += static_cast<std::size_t>(written);
  }
  const bool flushed = ::fchmod(fd, 0644) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!flushed) {
    throw PackError(fmt::format("{}: cannot flush to disk", file.string()));
  }
}

void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Creates `folder` (and missing parents) as mode 0755: the loader refuses plugin folders others may write.
void make_folder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error || !fs::is_directory(folder)) {
    throw PackError(fmt::format("{}: cannot create the folder ({})", folder.string(), error.message()));
  }
}

// Points `link` at `target` (a sibling's name) by renaming a new symlink over
// it: a reader sees the old or the new target, never none.
void switch_link(const fs::path& link, const std::string& target) {
  const fs::path temporary = link.parent_path() / fmt::format(".{}.{}.tmp", link.filename().string(), ::getpid());
  std::error_code error;
  fs::remove(temporary, error);
  if (::symlink(target.c_str(), temporary.c_str()) != 0 || ::rename(temporary.c_str(), link.c_str()) != 0) {
    const int code = errno;
    fs::remove(temporary, error);
    throw PackError(
        fmt::format("{}: cannot point it at {} ({})", link.string(), target, std::generic_category().message(code)));
  }
  sync_folder(link.parent_path());
}

std::optional<std::string> link_target(const fs::path& link) {
  std::error_code error;
  if (!fs::is_symlink(link, error)) {
    return std::nullopt;
  }
  const fs::path target = fs::read_symlink(link, error);
  if (error) {
    return std::nullopt;
  }
  return target.filename().string();
}

// Whether `folder` holds exactly the pack's files with their hashes.
bool holds_exactly(const fs::path& folder, const VerifiedPack& pack) {
  std::set<std::string> expected;
  for (const PackFile& file : pack.manifest.files) {
    expected.insert(file.name);
    std::error_code error;
    if (!fs::is_regular_file(folder / file.name, error) || fs::is_symlink(folder / file.name, error)) {
      return false;
    }
    try {
      if (sha256_file_hex(folder / file.name) != file.sha256) {
        return false;
      }
    } catch (const std::runtime_error&) {
      return false;
    }
  }
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (expected.count(entry.path().filename().string()) == 0) {
      return false;
    }
  }
  return !error;
}

}  // namespace

PackManifest build_pack(const PackBuildOptions& options) {
  const fs::path& dir = options.plugin_dir;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw PackError(fmt::format("{}: not a folder; name the folder that holds the built plugins", dir.string()));
  }
  std::vector<fs::path> libraries;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file()) {
      libraries.push_back(entry.path());
    }
  }
  std::sort(libraries.begin(), libraries.end());
  if (libraries.empty()) {
    throw PackError(fmt::format("{}: holds no plugin library (NAME.so); build the plugins first", dir.string()));
  }
  PackManifest manifest;
  std::vector<PackEntry> files;
  std::set<std::string> versions;
  for (const fs::path& library : libraries) {
    const fs::path manifest_path = fs::path(library).replace_extension(".json");
    Manifest plugins;
    try {
      plugins = read_manifest(manifest_path);
    } catch (const ManifestError& e) {
      throw PackError(fmt::format("{}: the library's manifest cannot be packed: {}", manifest_path.string(), e.what()));
    }
    for (const ManifestPlugin& plugin : plugins.plugins) {
      manifest.plugins.push_back(PackPlugin{plugin.id, plugin.kind, plugin.version, library.filename().string()});
      versions.insert(plugin.version);
    }
    for (const fs::path& file : {library, manifest_path}) {
      files.push_back(PackEntry{file.filename().string(), read_file_bytes(file, kMaxPackBytes), 0});
    }
  }
  manifest.name = options.name;
  if (manifest.name.empty()) {
    if (manifest.plugins.size() != 1) {
      throw PackError(
          fmt::format("{}: holds {} plugins; name the pack with --name", dir.string(), manifest.plugins.size()));
    }
    manifest.name = manifest.plugins.front().id;
  }
  if (const std::string problem = name_problem(manifest.name); !problem.empty()) {
    throw PackError(fmt::format("the pack name \"{}\" {}", manifest.name, problem));
  }
  manifest.version = options.version;
  if (manifest.version.empty()) {
    if (versions.size() != 1) {
      throw PackError(
          fmt::format("{}: its plugins have different versions; give the pack's with --version", dir.string()));
    }
    manifest.version = *versions.begin();
  }
  if (const std::string problem = version_problem(manifest.version); !problem.empty()) {
    throw PackError(fmt::format("the pack version \"{}\" {}", manifest.version, problem));
  }
  for (const PackEntry& file : files) {
    if (const std::string problem = pack_entry_name_problem(file.name); !problem.empty()) {
      throw PackError(fmt::format("{}: cannot be packed: the name {}", (dir / file.name).string(), problem));
    }
    manifest.files.push_back(PackFile{file.name, file.bytes.size(), sha256_hex(file.bytes)});
  }
  manifest.signer = private_key_fingerprint(options.private_key);
  const std::string manifest_text = manifest_json(manifest).dump(2) + "\n";
  std::vector<PackEntry> entries;
  entries.push_back(PackEntry{std::string(kPackManifestName), manifest_text, 0});
  entries.push_back(
      PackEntry{std::string(kPackSignatureName), sign_pack_manifest(manifest_text, options.private_key), 0});
  entries.insert(entries.end(), files.begin(), files.end());
  const std::string archive = write_pack_archive(entries);

  const fs::path temporary = fs::path(options.output.string() + fmt::format(".{}.tmp", ::getpid()));
  fs::remove(temporary, error);
  write_file_durably(temporary, archive);
  if (::rename(temporary.c_str(), options.output.c_str()) != 0) {
    const int code = errno;
    fs::remove(temporary, error);
    throw PackError(
        fmt::format("{}: cannot write the pack ({})", options.output.string(), std::generic_category().message(code)));
  }
  return manifest;
}

VerifiedPack read_verified_pack(const fs::path& pack, const fs::path& trusted_public_key) {
  const std::string source = pack.string();
  const std::string archive = read_file_bytes(pack, kMaxPackBytes);
  std::vector<PackEntry> entries = read_pack_archive(archive, source);
  const auto find = [&](std::string_view name) {
    return std::find_if(entries.begin(), entries.end(), [&](const PackEntry& entry) { return entry.name == name; });
  };
  const auto manifest_entry = find(kPackManifestName);
  if (manifest_entry == entries.end()) {
    throw PackError(fmt::format("{}: has no {}; this is not a crmhost pack", source, kPackManifestName));
  }
  const auto signature_entry = find(kPackSignatureName);
  if (signature_entry == entries.end()) {
    throw PackError(fmt::format("{}: is not signed (no {}); install only packs signed by a key you trust", source,
                                kPackSignatureName));
  }
  const std::string trusted = public_key_fingerprint(trusted_public_key);
  if (!verify_pack_manifest(manifest_entry->bytes, signature_entry->bytes, trusted_public_key)) {
    // The signer named in pack.json is not trusted here, only used to say which failure this is.
    const nlohmann::json claimed = nlohmann::json::parse(manifest_entry->bytes, nullptr, false);
    const std::string signer = claimed.is_object() ? claimed.value("signer", std::string()) : std::string();
    if (signature_entry->bytes.size() != 64) {
      throw PackError(fmt::format("{}: {} is {} bytes, not a 64-byte Ed25519 signature; refused", source,
                                  kPackSignatureName, signature_entry->bytes.size()));
    }
    if (!signer.empty() && signer != trusted) {
      throw PackError(fmt::format("{}: signed by another key ({}), not by the trusted key {} ({}); refused", source,
                                  signer, trusted_public_key.string(), trusted));
    }
    throw PackError(
        fmt::format("{}: the signature does not match {}: the pack was changed after it was signed, "
                    "or signed by another key than {}; refused",
                    source, kPackManifestName, trusted_public_key.string()));
  }
  const nlohmann::json document = nlohmann::json::parse(manifest_entry->bytes, nullptr, false);
  if (document.is_discarded()) {
    throw PackError(fmt::format("{}: {} is not valid JSON", source, kPackManifestName));
  }
  VerifiedPack verified;
  verified.manifest = parse_manifest(document, fmt::format("{}: {}", source, kPackManifestName));
  for (const PackEntry& entry : entries) {
    if (entry.name == kPackManifestName || entry.name == kPackSignatureName) {
      continue;
    }
    const auto listed = std::find_if(verified.manifest.files.begin(), verified.manifest.files.end(),
                                     [&](const PackFile& file) { return file.name == entry.name; });
    if (listed == verified.manifest.files.end()) {
      throw PackError(fmt::format("{}: entry \"{}\" at byte {} is not listed in {}; refused", source, entry.name,
                                  entry.header_offset, kPackManifestName));
    }
  }
  for (const PackFile& file : verified.manifest.files) {
    const auto entry = find(file.name);
    if (entry == entries.end()) {
      throw PackError(
          fmt::format("{}: {} lists {}, which the pack does not hold; refused", source, kPackManifestName, file.name));
    }
    if (entry->bytes.size() != file.size) {
      throw PackError(fmt::format("{}: {} at byte {} is {} bytes but {} says {}: the pack was changed; refused", source,
                                  file.name, entry->header_offset, entry->bytes.size(), kPackManifestName, file.size));
    }
    if (const std::string actual = sha256_hex(entry->bytes); actual != file.sha256) {
      throw PackError(fmt::format(
          "{}: {} at byte {} has SHA-256 {}… but {} says {}…: the file was changed after "
          "signing; refused",
          source, file.name, entry->header_offset, actual.substr(0, 12), kPackManifestName, file.sha256.substr(0, 12)));
    }
    verified.files.push_back(std::move(*entry));
  }
  return verified;
}

PackInstallResult install_pack(const fs::path& pack, const fs::path& trusted_public_key, const fs::path& plugin_dir) {
  const VerifiedPack verified = read_verified_pack(pack, trusted_public_key);
  PackInstallResult result;
  result.manifest = verified.manifest;
  const fs::path pack_folder = plugin_dir / kPacksFolder / verified.manifest.name;
  result.version_dir = pack_folder / verified.manifest.version;
  result.current_link = pack_folder / kCurrentLink;
  make_folder(pack_folder);
  for (const fs::path& folder : {plugin_dir / kPacksFolder, pack_folder}) {
    ::chmod(folder.c_str(), 0755);
  }

  std::error_code error;
  if (fs::exists(fs::symlink_status(result.version_dir, error))) {
    if (!holds_exactly(result.version_dir, verified)) {
      throw PackError(
          fmt::format("{}: already holds other files for version {} of {}; remove that folder or give "
                      "the new build another version",
                      result.version_dir.string(), verified.manifest.version, verified.manifest.name));
    }
    result.already_installed = true;
  } else {
    const fs::path staging = pack_folder / fmt::format(".staging-{}-{}", verified.manifest.version, ::getpid());
    fs::remove_all(staging, error);
    try {
      make_folder(staging);
      for (const PackEntry& file : verified.files) {
        write_file_durably(staging / file.name, file.bytes);
      }
      ::chmod(staging.c_str(), 0755);
      sync_folder(staging);
      if (::rename(staging.c_str(), result.version_dir.c_str()) != 0) {
        throw PackError(fmt::format("{}: cannot install ({})", result.version_dir.string(),
                                    std::generic_category().message(errno)));
      }
      sync_folder(pack_folder);
    } catch (...) {
      fs::remove_all(staging, error);
      throw;
    }
  }

  const std::optional<std::string> current = link_target(result.current_link);
  if (current && *current != verified.manifest.version) {
    result.previous_version = current;
    switch_link(pack_folder / kPreviousLink, *current);
  }
  switch_link(result.current_link, verified.manifest.version);
  return result;
}

PackRollbackResult rollback_pack(const std::string& name, const fs::path& plugin_dir) {
  if (const std::string problem = name_problem(name); !problem.empty()) {
    throw PackError(fmt::format("the pack name \"{}\" {}", name, problem));
  }
  const fs::path pack_folder = plugin_dir / kPacksFolder / name;
  std::error_code error;
  if (!fs::is_directory(pack_folder, error)) {
    throw PackStateError(fmt::format("no pack {} is installed in {}", name, (plugin_dir / kPacksFolder).string()));
  }
  PackRollbackResult result;
  result.name = name;
  result.current_link = pack_folder / kCurrentLink;
  const std::optional<std::string> current = link_target(result.current_link);
  const std::optional<std::string> previous = link_target(pack_folder / kPreviousLink);
  if (!previous || !fs::is_directory(pack_folder / *previous, error)) {
    throw PackStateError(
        fmt::format("pack {} has no previous version to roll back to (current: {})", name, current.value_or("none")));
  }
  result.from_version = current.value_or("");
  result.to_version = *previous;
  switch_link(result.current_link, *previous);
  if (current) {
    switch_link(pack_folder / kPreviousLink, *current);
  }
  return result;
}

}  // namespace crm::host
