#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "crm/host.h"

namespace crm::host {

// Where the host keeps what plugins ask it to keep: checkpoints and
// quarantined records. The SQLite store implements it; tests may use memory.
class PluginStateStore {
 public:
  PluginStateStore() = default;
  PluginStateStore(const PluginStateStore&) = delete;
  PluginStateStore& operator=(const PluginStateStore&) = delete;
  virtual ~PluginStateStore() = default;

  virtual std::optional<std::string> read_checkpoint(std::string_view plugin_id) = 0;
  virtual void write_checkpoint(std::string_view plugin_id, std::string_view cursor, std::int64_t now_ms) = 0;
  virtual void quarantine(std::string_view plugin_id, std::string_view raw_record, std::string_view reason,
                          std::int64_t now_ms) = 0;
  // Plugin state (crm/host.h, state_*): one ordered key/value map per plugin
  // id; keys order bytewise.
  virtual std::optional<std::string> read_state(std::string_view plugin_id, std::string_view key) = 0;
  // The smallest key of `plugin_id` greater than `after_key`.
  virtual std::optional<std::string> next_state_key(std::string_view plugin_id, std::string_view after_key) = 0;
  // Stores `value` under `key`, or removes the key when `value` is nullopt.
  virtual void write_state(std::string_view plugin_id, std::string_view key, std::optional<std::string_view> value) = 0;
};

class InMemoryStateStore final : public PluginStateStore {
 public:
  struct QuarantinedRecord {
    std::string plugin_id;
    std::string raw_record;
    std::string reason;
    std::int64_t created_ms;
  };

  std::optional<std::string> read_checkpoint(std::string_view plugin_id) override;
  void write_checkpoint(std::string_view plugin_id, std::string_view cursor, std::int64_t now_ms) override;
  void quarantine(std::string_view plugin_id, std::string_view raw_record, std::string_view reason,
                  std::int64_t now_ms) override;
  [[nodiscard]] std::vector<QuarantinedRecord> quarantined() const;
  std::optional<std::string> read_state(std::string_view plugin_id, std::string_view key) override;
  std::optional<std::string> next_state_key(std::string_view plugin_id, std::string_view after_key) override;
  void write_state(std::string_view plugin_id, std::string_view key, std::optional<std::string_view> value) override;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> checkpoints_;
  std::map<std::pair<std::string, std::string>, std::string, std::less<>> state_;
  std::vector<QuarantinedRecord> quarantined_;
};

// Everything the host services of one plugin instance need. The crm_host
// table handed to that plugin points at it as its opaque context.
struct HostServicesDeps {
  Logger& logger;
  const Clock& clock;
  PluginStateStore& state;
  const std::atomic<bool>& cancelled;
};

class PluginServices {
 public:
  // `config` has secrets as references; `secrets` maps their JSON pointers to values.
  PluginServices(HostServicesDeps deps, std::string plugin_id, nlohmann::json config,
                 std::map<std::string, std::string> secrets);
  PluginServices(const PluginServices&) = delete;
  PluginServices& operator=(const PluginServices&) = delete;
  ~PluginServices() = default;

  // The table to pass to every call into this plugin. Stable for this object's lifetime.
  [[nodiscard]] const crm_host* table() const { return &table_; }
  [[nodiscard]] const std::string& plugin_id() const { return plugin_id_; }
  [[nodiscard]] const std::string& config_text() const { return config_text_; }

  // While set, report_bad_record hands records here instead of the state
  // store, so that a sync can quarantine them in its batch's transaction.
  using BadRecordSink = std::function<void(std::string_view raw_record, std::string_view reason)>;
  void set_bad_record_sink(BadRecordSink sink) { bad_record_sink_ = std::move(sink); }

  // Plugin state writes held back by a sync, key -> value (nullopt: deleted),
  // to be committed in the transaction of the batch of the call that made them.
  using PendingState = std::map<std::string, std::optional<std::string>, std::less<>>;
  // While set (not null), state_put and state_delete go to `pending` and
  // state reads see them first; the caller owns `pending` and must unset it
  // before it goes away.
  void hold_state_writes(PendingState* pending) {
    const std::lock_guard lock(pending_mutex_);
    pending_state_ = pending;
  }

 private:
  static PluginServices& self(crm_host_context* context);
  static void log(crm_host_context* context, crm_log_level level, crm_str message);
  static std::int64_t now_ms(crm_host_context* context);
  static crm_status config_get(crm_host_context* context, crm_str json_pointer, crm_buffer* out);
  static crm_status secret_get(crm_host_context* context, crm_str json_pointer, crm_buffer* out);
  static crm_status checkpoint_read(crm_host_context* context, crm_buffer* out);
  static crm_status checkpoint_write(crm_host_context* context, crm_str cursor);
  static crm_status report_bad_record(crm_host_context* context, crm_str raw_record, crm_str reason);
  static bool is_cancelled(crm_host_context* context);
  static crm_status config_get_string(crm_host_context* context, crm_str json_pointer, crm_buffer* out);
  static crm_status config_get_int(crm_host_context* context, crm_str json_pointer, std::int64_t* out);
  static crm_status config_get_number(crm_host_context* context, crm_str json_pointer, double* out);
  static crm_status config_get_bool(crm_host_context* context, crm_str json_pointer, bool* out);
  static crm_status config_get_array_length(crm_host_context* context, crm_str json_pointer, std::size_t* out);
  static crm_status state_get(crm_host_context* context, crm_str key, crm_buffer* out);
  static crm_status state_put(crm_host_context* context, crm_str key, crm_str value);
  static crm_status state_delete(crm_host_context* context, crm_str key);
  static crm_status state_next(crm_host_context* context, crm_str after_key, crm_buffer* key_out);
  crm_status write_state(crm_str key, std::optional<std::string_view> value);
  template <class Read>
  static crm_status typed_get(crm_host_context* context, const char* service, crm_str json_pointer, void* out,
                              Read&& read);

  HostServicesDeps deps_;
  std::string plugin_id_;
  nlohmann::json config_;
  std::string config_text_;
  std::map<std::string, std::string> secrets_;
  BadRecordSink bad_record_sink_;
  std::mutex pending_mutex_;  // plugin threads may call the state services at once
  PendingState* pending_state_ = nullptr;
  crm_host table_{};
};

// Writes `value` into a caller's crm_buffer following its size protocol.
crm_status write_buffer(std::string_view value, crm_buffer* out);

}  // namespace crm::host
