#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace crm::connectors {

// The three IMAP operations the connector needs, over libcurl (TLS through
// STARTTLS when the server offers it, or required). One connection is reused
// for a whole sync. A message that was unread before the sync is unread
// after it. Throws crm::RetriableError when the
// server cannot be reached, crm::ConfigError when the login is refused.
class ImapClient {
 public:
  ImapClient(std::string url, std::string mailbox, const std::string& username, const std::string& password,
             bool require_tls, long timeout_ms);
  ImapClient(const ImapClient&) = delete;
  ImapClient& operator=(const ImapClient&) = delete;
  ~ImapClient();

  std::uint64_t uid_validity();
  std::vector<std::uint64_t> uids_from(std::uint64_t first_uid);
  std::string fetch(std::uint64_t uid);

 private:
  std::string command(const std::string& request);

  struct Handle;
  std::unique_ptr<Handle> handle_;
  std::string mailbox_url_;
  std::string mailbox_;
};

}  // namespace crm::connectors
