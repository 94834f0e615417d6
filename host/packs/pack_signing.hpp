#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace crm::host {

// Ed25519 keys and signatures of plugin packs, through OpenSSL's EVP API.
//
// What is signed: the bytes of "crmhost-pack-signature-v1\n" followed by the
// exact bytes of the pack's pack.json (so a signature made for something else
// never verifies as a pack's). A signature is 64 raw bytes (RFC 8032).
// Keys are PEM files: the private key PKCS#8 ("BEGIN PRIVATE KEY"), the
// public key SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"), as `openssl genpkey
// -algorithm ed25519` and `openssl pkey -pubout` write them.
//
// Every function throws PackError naming the file or what failed. Any thread.

struct KeyPairFiles {
  std::filesystem::path private_key;
  std::filesystem::path public_key;
  std::string fingerprint;  // key_fingerprint() of the public key
};

// Makes a new key pair: the private key at `private_key_file` (created with
// mode 0600, never over an existing file) and the public key beside it, at
// the same path with ".pub" appended.
KeyPairFiles generate_key_pair(const std::filesystem::path& private_key_file);

// The signature of `pack_manifest` (the bytes of pack.json) with the private key in `private_key_file`.
std::string sign_pack_manifest(std::string_view pack_manifest, const std::filesystem::path& private_key_file);

// Whether `signature` is the signature of `pack_manifest` by the public key in `public_key_file`.
bool verify_pack_manifest(std::string_view pack_manifest, std::string_view signature,
                          const std::filesystem::path& public_key_file);

// "sha256:" and the first 32 hex digits of the SHA-256 of the raw 32-byte
// public key: names a key in messages and in pack.json.
std::string public_key_fingerprint(const std::filesystem::path& public_key_file);
std::string private_key_fingerprint(const std::filesystem::path& private_key_file);

}  // namespace crm::host
