#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "packs/pack_format.hpp"

namespace crm::host {

// A pack in the right state is needed and it is not: no pack of that name is
// installed, or it has no previous version to roll back to.
class PackStateError : public PackError {
 public:
  using PackError::PackError;
};

// One file of a pack as pack.json lists it.
struct PackFile {
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex digits
};

// One plugin of a pack, from the manifest of its library (informational: the
// loader reads the manifests themselves).
struct PackPlugin {
  std::string id;
  std::string kind;
  std::string version;
  std::string library;  // NAME.so
};

// pack.json: {"format": "crmhost-pack", "format_version": 1, "name", "version",
// "signer": "sha256:..." (the signing key's fingerprint), "plugins": [...],
// "files": [{"name", "size", "sha256"}]}.
struct PackManifest {
  std::string name;     // [a-z0-9_.-]{1,64}, not starting with a dot
  std::string version;  // [A-Za-z0-9._+-]{1,64}, not starting with a dot, not "current" or "previous"
  std::string signer;
  std::vector<PackPlugin> plugins;
  std::vector<PackFile> files;
};

struct PackBuildOptions {
  std::filesystem::path plugin_dir;   // the libraries (NAME.so) with their manifests (NAME.json)
  std::filesystem::path private_key;  // Ed25519, PEM (crmhost pack keygen)
  std::filesystem::path output;       // the pack file, replaced atomically
  std::string name;                   // "": the id of the only plugin in plugin_dir
  std::string version;                // "": the version every plugin in plugin_dir shares
};

// Makes and signs a pack of every NAME.so in options.plugin_dir with its
// NAME.json. Throws PackError naming the file or option at fault.
PackManifest build_pack(const PackBuildOptions& options);

// A pack whose signature, files, sizes and hashes all verified; held in memory.
struct VerifiedPack {
  PackManifest manifest;
  std::vector<PackEntry> files;  // in pack.json's order, without pack.json and pack.sig
};

// Reads a pack and checks everything before anything is written: the archive's
// structure (pack_format.hpp), that it is signed, that the signature verifies
// with `trusted_public_key`, pack.json's fields, and that the files are
// exactly those pack.json lists with their sizes and SHA-256. Throws PackError,
// one line naming the pack and what is wrong.
VerifiedPack read_verified_pack(const std::filesystem::path& pack, const std::filesystem::path& trusted_public_key);

struct PackInstallResult {
  PackManifest manifest;
  std::filesystem::path version_dir;            // PLUGIN_DIR/packs/<name>/<version>
  std::filesystem::path current_link;           // PLUGIN_DIR/packs/<name>/current, now -> <version>
  std::optional<std::string> previous_version;  // what `current` pointed to before, when another version
  bool already_installed = false;               // this very version was there: only `current` moved
};

// read_verified_pack(), then writes the files into a staging folder, renames it
// to PLUGIN_DIR/packs/<name>/<version>, and switches `current` to it (and
// `previous` to the version it replaced) by renaming a new symlink over the
// old one, so the loader sees either version whole, never a mix. Files are
// mode 0644 and folders 0755, as the loader's ownership check wants. A
// version folder already there with other contents is refused.
PackInstallResult install_pack(const std::filesystem::path& pack, const std::filesystem::path& trusted_public_key,
                               const std::filesystem::path& plugin_dir);

struct PackRollbackResult {
  std::string name;
  std::string from_version;
  std::string to_version;
  std::filesystem::path current_link;
};

// Switches `current` back to `previous` (and `previous` to what was current,
// so a second rollback goes forward again). Throws PackStateError when the
// pack is not installed or has no previous version.
PackRollbackResult rollback_pack(const std::string& name, const std::filesystem::path& plugin_dir);

}  // namespace crm::host
