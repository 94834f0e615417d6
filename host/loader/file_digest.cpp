#include "loader/file_digest.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <openssl/evp.h>
#include <stdexcept>

namespace crm::host {
namespace {

struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextFree>;

std::string to_hex(const unsigned char* bytes, unsigned int length) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(static_cast<std::size_t>(length) * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kDigits[bytes[i] >> 4U];
    hex += kDigits[bytes[i] & 0x0FU];
  }
  return hex;
}

DigestContext new_sha256_context() {
  DigestContext context(EVP_MD_CTX_new());
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL could not start a SHA-256 digest");
  }
  return context;
}

std::string finish(EVP_MD_CTX* context) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context, digest.data(), &length) != 1) {
    throw std::runtime_error("OpenSSL could not finish a SHA-256 digest");
  }
  return to_hex(digest.data(), length);
}

// Enough of a hash to tell two apart in a message without a 64-digit wall.
std::string prefix_of(const std::string& hex) {
  return hex.substr(0, 12) + "…";
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  const DigestContext context = new_sha256_context();
  if (EVP_DigestUpdate(context.get(), bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("OpenSSL could not hash");
  }
  return finish(context.get());
}

std::string sha256_file_hex(const std::filesystem::path& file) {
  std::ifstream input(file, std::ios::binary);
  if (!input) {
    throw std::runtime_error(fmt::format("cannot open {} to hash it", file.string()));
  }
  const DigestContext context = new_sha256_context();
  std::array<char, 65536> chunk{};
  while (input) {
    input.read(chunk.data(), chunk.size());
    const std::streamsize read = input.gcount();
    if (read > 0 && EVP_DigestUpdate(context.get(), chunk.data(), static_cast<std::size_t>(read)) != 1) {
      throw std::runtime_error("OpenSSL could not hash");
    }
  }
  if (input.bad()) {
    throw std::runtime_error(fmt::format("cannot read {} to hash it", file.string()));
  }
  return finish(context.get());
}

std::string pinned_file_problem(const std::filesystem::path& file, const Manifest& manifest,
                                const nlohmann::json& plugin_settings) {
  if (!plugin_settings.is_object()) {
    return {};
  }
  std::string actual;  // hashed once, and only when a pin asks for it
  for (const ManifestPlugin& plugin : manifest.plugins) {
    const auto settings = plugin_settings.find(plugin.id);
    if (settings == plugin_settings.end() || !settings->is_object() || !settings->contains("sha256") ||
        !(*settings)["sha256"].is_string()) {
      continue;
    }
    std::string expected = (*settings)["sha256"].get<std::string>();
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (actual.empty()) {
      try {
        actual = sha256_file_hex(file);
      } catch (const std::runtime_error& e) {
        return fmt::format("plugins.{}.sha256 pins this library, but {}; fix the file's permissions", plugin.id,
                           e.what());
      }
    }
    if (actual != expected) {
      return fmt::format(
          "plugins.{}.sha256 pins {} but {} has SHA-256 {}; install the file that was pinned, or pin the new one "
          "(sha256sum {})",
          plugin.id, prefix_of(expected), file.string(), prefix_of(actual), file.string());
    }
  }
  return {};
}

}  // namespace crm::host
