// `pack keygen`, `pack build`, `plugins install` and `plugins rollback`: signed
// plugin packs, made by vendors and installed by admins (host/packs/).
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command_line.hpp"
#include "cli/exit_codes.hpp"
#include "loader/plugin_host.hpp"
#include "packs/pack_install.hpp"
#include "packs/pack_signing.hpp"

namespace crm::host {
namespace {

// A refused pack or key is refused input: kExitConfig, as an invalid
// configuration is; a pack not installed or without a previous version is kExitNotFound.
int report_pack_error(const PackError& error, bool as_json) {
  const int code = dynamic_cast<const PackStateError*>(&error) != nullptr ? kExitNotFound : kExitConfig;
  if (as_json) {
    print_json({{"error", {{"code", code}, {"message", error.what()}}}});
  } else {
    std::cerr << "crmhost: " << error.what() << '\n';
  }
  return code;
}

// Where packs install: the command's --plugin-dir, else the last global
// --plugin-dir, else the default plugin folder (../plugins beside crmhost).
std::filesystem::path install_dir(const std::string& own, const CommandLine& line) {
  if (!own.empty()) {
    return own;
  }
  if (!line.session.plugin_dirs.empty()) {
    return line.session.plugin_dirs.back();
  }
  return default_plugin_dir();
}

nlohmann::json files_json(const PackManifest& manifest) {
  nlohmann::json files = nlohmann::json::array();
  for (const PackFile& file : manifest.files) {
    files.push_back({{"name", file.name}, {"size", file.size}, {"sha256", file.sha256}});
  }
  return files;
}

nlohmann::json plugins_json(const PackManifest& manifest) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const PackPlugin& plugin : manifest.plugins) {
    plugins.push_back(
        {{"id", plugin.id}, {"kind", plugin.kind}, {"version", plugin.version}, {"library", plugin.library}});
  }
  return plugins;
}

void print_files(const PackManifest& manifest) {
  for (const PackFile& file : manifest.files) {
    std::cout << fmt::format("  {:<32} {:>10} bytes  sha256 {}\n", file.name, file.size, file.sha256);
  }
}

void add_keygen(CLI::App& pack, Commands& commands) {
  struct Args {
    std::string out;
    bool as_json = false;
  };
  auto args = std::make_shared<Args>();
  auto* keygen = pack.add_subcommand(
      "keygen", "Make an Ed25519 key pair for signing packs: the private key (mode 0600) and KEYFILE.pub beside it");
  keygen->add_option("--out", args->out, "Where the private key goes; the public key goes to the same path + .pub")
      ->required();
  keygen->add_flag("--json", args->as_json, "Print where the keys went as JSON");
  commands.add(keygen, [args] {
    try {
      const KeyPairFiles files = generate_key_pair(args->out);
      if (args->as_json) {
        print_json({{"private_key", files.private_key.string()},
                    {"public_key", files.public_key.string()},
                    {"fingerprint", files.fingerprint}});
      } else {
        std::cout << fmt::format(
            "private key: {} (mode 0600; keep it secret, sign with crmhost pack build --key)\n"
            "public key:  {} (give it to admins: crmhost plugins install PACK --trust {})\n"
            "fingerprint: {}\n",
            files.private_key.string(), files.public_key.string(), files.public_key.string(), files.fingerprint);
      }
      return kExitOk;
    } catch (const PackError& e) {
      return report_pack_error(e, args->as_json);
    }
  });
}

void add_build(CLI::App& pack, Commands& commands) {
  struct Args {
    PackBuildOptions options;
    std::string dir;
    std::string key;
    std::string out;
    bool as_json = false;
  };
  auto args = std::make_shared<Args>();
  auto* build = pack.add_subcommand(
      "build", "Make a signed pack of the plugin libraries (NAME.so) in DIR with their manifests (NAME.json)");
  build->add_option("DIR", args->dir, "The folder of built plugins")->required();
  build->add_option("--key", args->key, "The Ed25519 private key (crmhost pack keygen)")->required();
  build->add_option("--out", args->out, "The pack file to write (replaced atomically)")->required();
  build->add_option("--name", args->options.name, "The pack's name (default: the id of its only plugin)");
  build->add_option("--version", args->options.version, "The pack's version (default: the version its plugins share)");
  build->add_flag("--json", args->as_json, "Print what was packed as JSON");
  commands.add(build, [args] {
    try {
      PackBuildOptions options = args->options;
      options.plugin_dir = args->dir;
      options.private_key = args->key;
      options.output = args->out;
      const PackManifest manifest = build_pack(options);
      if (args->as_json) {
        print_json({{"pack", options.output.string()},
                    {"name", manifest.name},
                    {"version", manifest.version},
                    {"signer", manifest.signer},
                    {"plugins", plugins_json(manifest)},
                    {"files", files_json(manifest)}});
      } else {
        std::cout << fmt::format("built pack {} {} into {}, signed by {}\n", manifest.name, manifest.version,
                                 options.output.string(), manifest.signer);
        print_files(manifest);
      }
      return kExitOk;
    } catch (const PackError& e) {
      return report_pack_error(e, args->as_json);
    }
  });
}

void add_install(CLI::App& plugins, CommandLine& line, Commands& commands) {
  struct Args {
    std::string pack;
    std::string trust;
    std::string plugin_dir;
    bool as_json = false;
  };
  auto args = std::make_shared<Args>();
  auto* install = plugins.add_subcommand(
      "install",
      "Verify a signed pack (signature, every file's size and SHA-256) and install it as the current version");
  install->add_option("PACK", args->pack, "The pack file (crmhost pack build)")->required();
  install->add_option("--trust", args->trust, "The vendor's Ed25519 public key (PEM) the pack must be signed with")
      ->required();
  install->add_option("--plugin-dir", args->plugin_dir,
                      "Install into DIR/packs/NAME/VERSION (default: the last global --plugin-dir, else the default "
                      "plugin folder)");
  install->add_flag("--json", args->as_json, "Print what was installed where as JSON");
  commands.add(install, [&line, args] {
    try {
      const PackInstallResult result = install_pack(args->pack, args->trust, install_dir(args->plugin_dir, line));
      if (args->as_json) {
        print_json({{"name", result.manifest.name},
                    {"version", result.manifest.version},
                    {"signer", result.manifest.signer},
                    {"installed_to", result.version_dir.string()},
                    {"current", result.current_link.string()},
                    {"previous_version",
                     result.previous_version ? nlohmann::json(*result.previous_version) : nlohmann::json(nullptr)},
                    {"already_installed", result.already_installed},
                    {"plugins", plugins_json(result.manifest)},
                    {"files", files_json(result.manifest)}});
      } else {
        std::cout << fmt::format("installed pack {} {} (signed by {}) into {}; {} -> {}{}\n", result.manifest.name,
                                 result.manifest.version, result.manifest.signer, result.version_dir.string(),
                                 result.current_link.string(), result.manifest.version,
                                 result.previous_version ? fmt::format(" (was {})", *result.previous_version) : "");
        print_files(result.manifest);
      }
      return kExitOk;
    } catch (const PackError& e) {
      return report_pack_error(e, args->as_json);
    }
  });
}

void add_rollback(CLI::App& plugins, CommandLine& line, Commands& commands) {
  struct Args {
    std::string name;
    std::string plugin_dir;
    bool as_json = false;
  };
  auto args = std::make_shared<Args>();
  auto* rollback = plugins.add_subcommand(
      "rollback", "Switch an installed pack back to its previous version (again: forward to the one rolled back)");
  rollback->add_option("NAME", args->name, "The pack's name")->required();
  rollback->add_option("--plugin-dir", args->plugin_dir,
                       "The plugin folder it was installed into (default as for plugins install)");
  rollback->add_flag("--json", args->as_json, "Print the switch as JSON");
  commands.add(rollback, [&line, args] {
    try {
      const PackRollbackResult result = rollback_pack(args->name, install_dir(args->plugin_dir, line));
      if (args->as_json) {
        print_json({{"name", result.name},
                    {"from_version", result.from_version},
                    {"to_version", result.to_version},
                    {"current", result.current_link.string()}});
      } else {
        std::cout << fmt::format("rolled pack {} back from {} to {}; {} -> {}\n", result.name, result.from_version,
                                 result.to_version, result.current_link.string(), result.to_version);
      }
      return kExitOk;
    } catch (const PackError& e) {
      return report_pack_error(e, args->as_json);
    }
  });
}

}  // namespace

void add_pack_commands(CLI::App& app, CommandLine& line, Commands& commands) {
  auto* pack = app.add_subcommand("pack", "Make signed plugin packs: keygen, build");
  pack->require_subcommand(1);
  add_keygen(*pack, commands);
  add_build(*pack, commands);
  // Installing is an admin's step on plugins, beside `crmhost plugins` (registered before this).
  CLI::App* plugins = app.get_subcommand("plugins");
  add_install(*plugins, line, commands);
  add_rollback(*plugins, line, commands);
}

}  // namespace crm::host
