#include "loader/host_services.hpp"

#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>

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

// Resolves an RFC 6901 pointer for the typed getters; null counts as absent so
// that an optional setting left null reads like one left out.
crm_status find_value(const nlohmann::json& config, crm_str json_pointer, const nlohmann::json*& value) {
  const std::string pointer(view(json_pointer));
  nlohmann::json::json_pointer parsed;
  try {
    parsed = nlohmann::json::json_pointer(pointer);
  } catch (const nlohmann::json::exception&) {
    return CRM_STATUS_INVALID_ARGUMENT;
  }
  // An array index past size_t's range ("/hosts/99999999999999999999") makes
  // nlohmann throw out_of_range from contains() itself: no such element.
  try {
    if (!config.contains(parsed)) {
      return CRM_STATUS_NOT_FOUND;
    }
    value = &config.at(parsed);
  } catch (const nlohmann::json::out_of_range&) {
    return CRM_STATUS_NOT_FOUND;
  } catch (const nlohmann::json::exception&) {
    return CRM_STATUS_INVALID_ARGUMENT;
  }
  return value->is_null() ? CRM_STATUS_NOT_FOUND : CRM_STATUS_OK;
}

// 2^63 as a double: the first value past int64_t's range.
constexpr double kInt64Limit = 9223372036854775808.0;

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

std::optional<std::string> InMemoryStateStore::read_state(std::string_view plugin_id, std::string_view key) {
  const std::lock_guard lock(mutex_);
  const auto found = state_.find(std::pair<std::string, std::string>(plugin_id, key));
  return found == state_.end() ? std::nullopt : std::optional<std::string>(found->second);
}

std::optional<std::string> InMemoryStateStore::next_state_key(std::string_view plugin_id, std::string_view after_key) {
  const std::lock_guard lock(mutex_);
  const auto found = state_.upper_bound(std::pair<std::string, std::string>(plugin_id, after_key));
  if (found == state_.end() || found->first.first != plugin_id) {
    return std::nullopt;
  }
  return found->first.second;
}

void InMemoryStateStore::write_state(std::string_view plugin_id, std::string_view key,
                                     std::optional<std::string_view> value) {
  const std::lock_guard lock(mutex_);
  std::pair<std::string, std::string> name(plugin_id, key);
  if (value) {
    state_[std::move(name)] = std::string(*value);
  } else {
    state_.erase(name);
  }
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
  table_.config_get_string = &PluginServices::config_get_string;
  table_.config_get_int = &PluginServices::config_get_int;
  table_.config_get_number = &PluginServices::config_get_number;
  table_.config_get_bool = &PluginServices::config_get_bool;
  table_.config_get_array_length = &PluginServices::config_get_array_length;
  table_.state_get = &PluginServices::state_get;
  table_.state_put = &PluginServices::state_put;
  table_.state_delete = &PluginServices::state_delete;
  table_.state_next = &PluginServices::state_next;
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

crm_status PluginServices::state_get(crm_host_context* context, crm_str key, crm_buffer* out) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "state_get", [&] {
    const std::string_view name = view(key);
    if (name.empty()) {
      return CRM_STATUS_INVALID_ARGUMENT;
    }
    {
      const std::lock_guard lock(services.pending_mutex_);
      if (services.pending_state_ != nullptr) {
        const auto held = services.pending_state_->find(name);
        if (held != services.pending_state_->end()) {
          return held->second ? write_buffer(*held->second, out) : CRM_STATUS_NOT_FOUND;
        }
      }
    }
    const auto value = services.deps_.state.read_state(services.plugin_id_, name);
    return value ? write_buffer(*value, out) : CRM_STATUS_NOT_FOUND;
  });
}

crm_status PluginServices::write_state(crm_str key, std::optional<std::string_view> value) {
  if (view(key).empty()) {
    return CRM_STATUS_INVALID_ARGUMENT;
  }
  {
    const std::lock_guard lock(pending_mutex_);
    if (pending_state_ != nullptr) {
      (*pending_state_)[std::string(view(key))] = value ? std::optional<std::string>(*value) : std::nullopt;
      return CRM_STATUS_OK;
    }
  }
  deps_.state.write_state(plugin_id_, view(key), value);
  return CRM_STATUS_OK;
}

crm_status PluginServices::state_put(crm_host_context* context, crm_str key, crm_str value) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "state_put",
                  [&] { return services.write_state(key, view(value)); });
}

crm_status PluginServices::state_delete(crm_host_context* context, crm_str key) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "state_delete",
                  [&] { return services.write_state(key, std::nullopt); });
}

crm_status PluginServices::state_next(crm_host_context* context, crm_str after_key, crm_buffer* key_out) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, "state_next", [&] {
    const std::lock_guard lock(services.pending_mutex_);
    const PendingState* pending = services.pending_state_;
    // The first stored key after `after_key` that this call has not deleted...
    std::optional<std::string> stored;
    std::string from(view(after_key));
    while ((stored = services.deps_.state.next_state_key(services.plugin_id_, from))) {
      const auto held = pending == nullptr ? PendingState::const_iterator{} : pending->find(*stored);
      if (pending == nullptr || held == pending->end() || held->second) {
        break;
      }
      from = *stored;
    }
    // ... or the first key this call wrote after it, whichever comes first.
    if (pending != nullptr) {
      auto held = pending->upper_bound(view(after_key));
      while (held != pending->end() && !held->second) {
        ++held;
      }
      if (held != pending->end() && (!stored || held->first < *stored)) {
        stored = held->first;
      }
    }
    return stored ? write_buffer(*stored, key_out) : CRM_STATUS_NOT_FOUND;
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

template <class Read>
crm_status PluginServices::typed_get(crm_host_context* context, const char* service, crm_str json_pointer, void* out,
                                     Read&& read) {
  PluginServices& services = self(context);
  return shielded(services.deps_.logger, services.plugin_id_, service, [&] {
    const nlohmann::json* value = nullptr;
    if (out == nullptr) {
      return CRM_STATUS_INVALID_ARGUMENT;
    }
    if (const crm_status found = find_value(services.config_, json_pointer, value); found != CRM_STATUS_OK) {
      return found;
    }
    return read(*value);
  });
}

crm_status PluginServices::config_get_string(crm_host_context* context, crm_str json_pointer, crm_buffer* out) {
  return typed_get(context, "config_get_string", json_pointer, out, [&](const nlohmann::json& value) {
    return value.is_string() ? write_buffer(value.get_ref<const std::string&>(), out) : CRM_STATUS_WRONG_TYPE;
  });
}

crm_status PluginServices::config_get_int(crm_host_context* context, crm_str json_pointer, std::int64_t* out) {
  return typed_get(context, "config_get_int", json_pointer, out, [&](const nlohmann::json& value) {
    if (value.is_number_integer() && !value.is_number_unsigned()) {
      *out = value.get<std::int64_t>();
      return CRM_STATUS_OK;
    }
    if (value.is_number_unsigned()) {
      const auto unsigned_value = value.get<std::uint64_t>();
      if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return CRM_STATUS_WRONG_TYPE;
      }
      *out = static_cast<std::int64_t>(unsigned_value);
      return CRM_STATUS_OK;
    }
    // JSON Schema counts 5.0 as an integer; so does this getter, within int64_t.
    if (value.is_number_float()) {
      const double number = value.get<double>();
      if (std::isfinite(number) && std::trunc(number) == number && number >= -kInt64Limit && number < kInt64Limit) {
        *out = static_cast<std::int64_t>(number);
        return CRM_STATUS_OK;
      }
    }
    return CRM_STATUS_WRONG_TYPE;
  });
}

crm_status PluginServices::config_get_number(crm_host_context* context, crm_str json_pointer, double* out) {
  return typed_get(context, "config_get_number", json_pointer, out, [&](const nlohmann::json& value) {
    if (!value.is_number()) {
      return CRM_STATUS_WRONG_TYPE;
    }
    *out = value.get<double>();
    return CRM_STATUS_OK;
  });
}

crm_status PluginServices::config_get_bool(crm_host_context* context, crm_str json_pointer, bool* out) {
  return typed_get(context, "config_get_bool", json_pointer, out, [&](const nlohmann::json& value) {
    if (!value.is_boolean()) {
      return CRM_STATUS_WRONG_TYPE;
    }
    *out = value.get<bool>();
    return CRM_STATUS_OK;
  });
}

crm_status PluginServices::config_get_array_length(crm_host_context* context, crm_str json_pointer, std::size_t* out) {
  return typed_get(context, "config_get_array_length", json_pointer, out, [&](const nlohmann::json& value) {
    if (!value.is_array()) {
      return CRM_STATUS_WRONG_TYPE;
    }
    *out = value.size();
    return CRM_STATUS_OK;
  });
}

bool PluginServices::is_cancelled(crm_host_context* context) {
  return self(context).deps_.cancelled.load();
}

}  // namespace crm::host
