#include "packs/pack_signing.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <system_error>

#include "loader/file_digest.hpp"
#include "packs/pack_format.hpp"

namespace crm::host {
namespace {

constexpr std::string_view kSignatureContext = "crmhost-pack-signature-v1\n";
constexpr std::size_t kSignatureBytes = 64;
constexpr std::size_t kPublicKeyBytes = 32;
constexpr std::uint64_t kMaxKeyFileBytes = 64 * 1024;

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
struct ContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using SigningContext = std::unique_ptr<EVP_MD_CTX, ContextFree>;

// OpenSSL's last error, for a message; the queue is cleared so the next call starts clean.
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return "no detail from OpenSSL";
  }
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

Key read_key(const std::filesystem::path& file, bool is_private) {
  const std::string pem = read_file_bytes(file, kMaxKeyFileBytes);
  const Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    throw PackError("OpenSSL could not allocate");
  }
  Key key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                     : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    throw PackError(fmt::format("{}: not a PEM {} key ({}); make one with crmhost pack keygen", file.string(),
                                is_private ? "private" : "public",
                                is_private ? "BEGIN PRIVATE KEY" : "BEGIN PUBLIC KEY"));
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    throw PackError(fmt::format("{}: a {} key, not Ed25519; packs are signed with Ed25519 (crmhost pack keygen)",
                                file.string(), OBJ_nid2sn(EVP_PKEY_id(key.get()))));
  }
  return key;
}

std::string fingerprint_of(EVP_PKEY* key) {
  std::array<unsigned char, kPublicKeyBytes> raw{};
  std::size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &length) != 1 || length != kPublicKeyBytes) {
    throw PackError(fmt::format("OpenSSL could not read the public key ({})", openssl_error()));
  }
  return "sha256:" + sha256_hex(std::string_view(reinterpret_cast<const char*>(raw.data()), length)).substr(0, 32);
}

std::string signed_message(std::string_view pack_manifest) {
  std::string message(kSignatureContext);
  message += pack_manifest;
  return message;
}

std::string pem_of(EVP_PKEY* key, bool is_private) {
  const Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) {
    throw PackError("OpenSSL could not allocate");
  }
  const int written = is_private ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                                 : PEM_write_bio_PUBKEY(bio.get(), key);
  if (written != 1) {
    throw PackError(fmt::format("OpenSSL could not write the key ({})", openssl_error()));
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// Creates `file` with `mode`, never over an existing file, and writes `text` to it.
void write_new_file(const std::filesystem::path& file, const std::string& text, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int error = errno;
    throw PackError(fmt::format("{}: cannot create ({}){}", file.string(), std::generic_category().message(error),
                                error == EEXIST ? "; keygen never overwrites a key, choose another --out" : ""));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t written = ::write(fd, text.data() + done, text.size() - done);
    if (written <= 0) {
      const int error = errno;
      ::close(fd);
      throw PackError(fmt::format("{}: cannot write ({})", file.string(), std::generic_category().message(error)));
    }
    done += static_cast<std::size_t>(written);
  }
  // The mode asked for, whatever the umask.
  ::fchmod(fd, mode);
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

KeyPairFiles generate_key_pair(const std::filesystem::path& private_key_file) {
  KeyPairFiles files{private_key_file, std::filesystem::path(private_key_file.string() + ".pub"), {}};
  std::error_code error;
  if (std::filesystem::exists(files.public_key, error)) {
    throw PackError(fmt::format("{}: already exists; keygen never overwrites a key, choose another --out",
                                files.public_key.string()));
  }
  const std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* raw_key = nullptr;
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 || EVP_PKEY_keygen(context.get(), &raw_key) != 1) {
    throw PackError(fmt::format("OpenSSL could not make an Ed25519 key ({})", openssl_error()));
  }
  const Key key(raw_key);
  write_new_file(files.private_key, pem_of(key.get(), true), 0600);
  write_new_file(files.public_key, pem_of(key.get(), false), 0644);
  files.fingerprint = fingerprint_of(key.get());
  return files;
}

std::string sign_pack_manifest(std::string_view pack_manifest, const std::filesystem::path& private_key_file) {
  const Key key = read_key(private_key_file, true);
  const SigningContext context(EVP_MD_CTX_new());
  const std::string message = signed_message(pack_manifest);
  std::array<unsigned char, kSignatureBytes> signature{};
  std::size_t length = signature.size();
  // Ed25519 hashes internally: no digest is named, and the one-shot call is the only one it supports.
  if (!context || EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(context.get(), signature.data(), &length, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      length != kSignatureBytes) {
    throw PackError(fmt::format("OpenSSL could not sign with {} ({})", private_key_file.string(), openssl_error()));
  }
  return std::string(reinterpret_cast<const char*>(signature.data()), length);
}

bool verify_pack_manifest(std::string_view pack_manifest, std::string_view signature,
                          const std::filesystem::path& public_key_file) {
  const Key key = read_key(public_key_file, false);
  if (signature.size() != kSignatureBytes) {
    return false;
  }
  const SigningContext context(EVP_MD_CTX_new());
  const std::string message = signed_message(pack_manifest);
  if (!context || EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    throw PackError(fmt::format("OpenSSL could not verify with {} ({})", public_key_file.string(), openssl_error()));
  }
  const int verified =
      EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return verified == 1;
}

std::string public_key_fingerprint(const std::filesystem::path& public_key_file) {
  return fingerprint_of(read_key(public_key_file, false).get());
}

std::string private_key_fingerprint(const std::filesystem::path& private_key_file) {
  return fingerprint_of(read_key(private_key_file, true).get());
}

}  // namespace crm::host
