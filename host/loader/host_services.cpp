#include "loader/host_services.hpp"

#include <cstring>
#include <fmt/format.h>

namespace crm::host {
namespace {

std::string_view view(crm_str text) {
  return text.data == nullptr ? std::string_view{} : std::string_view(text.data, text.size);
}

LogLevel to_log_level(crm_log_level level) {
  if (level >= CRM_LOG_ERROR) return LogLevel::error;
  if (level >= CRM_LOG_WARN) return LogLevel::warn;
  if (level >= CRM_LOG_INFO) return LogLevel::info;
  return LogLevel::debug;
}

// Host services are called from plugin code through C function pointers; no
// exception may escape them.
template <class Body>
crm_status shielded(Logger& logger, const std::string& plugin_id, const char* service, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    logger.log(LogLevel::error, plugin_id, fmt::format("host service {} failed: {}", service, e.what()));
  } catch (...) {
    logger.log(LogLevel::error, plugin_id, fmt::format("host service {} failed", service));
  }
  return CRM_STATUS_FATAL;
}

}  // namespace

crm_status write_buffer(std::string_view value, crm_buffer* out) {
  if (out == nullptr) {
    return CRM_STATUS_BUFFER_TOO_SMALL;
  }
  out->size = value.size();
  if (value.empty()) {
    return CRM_STATUS_OK;
  }
  if (out->data == nullptr || value.size() > out->capacity) {
    return CRM_STATUS_BUFFER_TOO_SMALL;
  }
  std::memcpy(out->data, value.data(), value.size());
  return CRM_STATUS_OK;
}

std::optional<std::string> InMemoryStateStore::read_checkpoint(std::string_view plugin_id) {
  const std::lock_guard lock(mutex_);
  const auto found = checkpoints_.find(plugin_id);
  return found == checkpoints_.end() ? std::nullopt : std::optional<std::string>(found->second);
}

void InMemoryStateStore::write_checkpoint(std::string_view plugin_id, std::string_view cursor, std::int64_t) {
  const std::lock_guard lock(mutex_);
  checkpoints_[std::string(plugin_id)] = std::string(cursor);
}

void InMemoryStateStore::quarantine(std::string_view plugin_id, std::string_view raw_record, std::string_view reason,
                                    std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  quarantined_.push_back({std::string(plugin_id), std::string(raw_record), std::string(reason), now_ms});
}

std::vector<InMemoryStateStore::QuarantinedRecord> InMemoryStateStore::quarantined() const {
  const std::lock_guard lock(mutex_);
  return quarantined_;
}

PluginServices::PluginServices(HostServicesDeps deps, std::string plugin_id, nlohmann::json config,
                               std::map<std::string, std::string> secrets)
    : deps_(deps),
      plugin_id_(std::move(plugin_id)),
      config_(std::move(config)),
      config_text_(config_.dump()),
      secrets_(std::move(secrets)) {
  table_.struct_size = sizeof(crm_host);
  table_.abi_version = CRM_ABI_VERSION;
  table_.context = reinterpret_cast<crm_host_context*>(this);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  table_.log = &PluginServices::log;
  table_.now_ms = &PluginServices::now_ms;
  table_.config_get = &PluginServices::config_get;
  table_.secret_get = &PluginServices::secret_get;
  table_.checkpoint_read = &PluginServices::checkpoint_read;
  table_.checkpoint_write = &PluginServices::checkpoint_write;
  table_.report_bad_record = &PluginServices::report_bad_record;
  table_.is_cancelled = &PluginServices::is_cancelled;
}

PluginServices& PluginServices::self(crm_host_context* context) {
  return *reinterpret_cast<PluginServices*>(context);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

void PluginServices::log(crm_host_context* context, crm_log_level level, crm_str message) {
  PluginServices& services = self(context);
  shielded(services.deps_.logger, services.plugin_id_, "log", [&] {
    services.deps_.logger.log(to_log_level(level), services.plugin_id_, view(message));
    return CRM_STATUS_OK;
  });
}

std::int64_t PluginServices::now_ms(crm_host_context* context) {
  return self(context).deps_.clock.now_ms();
}

crm_status PluginServices::config_get(crm_host_context* context, crm_str json_pointer, crm_buffer* out) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "config_get", [&] {
    const std::string pointer(view(json_pointer));
    if (pointer.empty()) {
      return write_buffer(services.config_text_, out);
    }
    nlohmann::json::json_pointer parsed;
    try {
      parsed = nlohmann::json::json_pointer(pointer);
    } catch (const nlohmann::json::exception&) {
      return CRM_STATUS_NOT_FOUND;
    }
    if (!services.config_.contains(parsed)) {
      return CRM_STATUS_NOT_FOUND;
    }
    return write_buffer(services.config_.at(parsed).dump(), out);
  });
}

crm_status PluginServices::secret_get(crm_host_context* context, crm_str json_pointer, crm_buffer* out) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "secret_get", [&] {
    const auto found = services.secrets_.find(std::string(view(json_pointer)));
    if (found == services.secrets_.end()) {
      return CRM_STATUS_NOT_FOUND;
    }
    return write_buffer(found->second, out);
  });
}

crm_status PluginServices::checkpoint_read(crm_host_context* context, crm_buffer* out) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "checkpoint_read", [&] {
    const auto cursor = services.deps_.state.read_checkpoint(services.plugin_id_);
    return cursor ? write_buffer(*cursor, out) : CRM_STATUS_NOT_FOUND;
  });
}

crm_status PluginServices::checkpoint_write(crm_host_context* context, crm_str cursor) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "checkpoint_write", [&] {
    services.deps_.state.write_checkpoint(services.plugin_id_, view(cursor), services.deps_.clock.now_ms());
    return CRM_STATUS_OK;
  });
}

crm_status PluginServices::report_bad_record(crm_host_context* context, crm_str raw_record, crm_str reason) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "report_bad_record", [&] {
    if (services.bad_record_sink_) {
      services.bad_record_sink_(view(raw_record), view(reason));
      return CRM_STATUS_OK;
    }
    services.deps_.state.quarantine(services.plugin_id_, view(raw_record), view(reason), services.deps_.clock.now_ms());
    services.deps_.logger.log(LogLevel::warn, services.plugin_id_,
                              fmt::format("quarantined a record: {}", view(reason)));
    return CRM_STATUS_OK;
  });
}

bool PluginServices::is_cancelled(crm_host_context* context) {
  return self(context).deps_.cancelled.load();
}

}  // namespace crm::host
