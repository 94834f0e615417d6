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

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> checkpoints_;
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
  template <class Read>
  static crm_status typed_get(crm_host_context* context, const char* service, crm_str json_pointer, void* out,
                              Read&& read);

  HostServicesDeps deps_;
  std::string plugin_id_;
  nlohmann::json config_;
  std::string config_text_;
  std::map<std::string, std::string> secrets_;
  BadRecordSink bad_record_sink_;
  crm_host table_{};
};

// Writes `value` into a caller's crm_buffer following its size protocol.
crm_status write_buffer(std::string_view value, crm_buffer* out);

}  // namespace crm::host
