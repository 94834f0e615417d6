#include "loader/plugin_host.hpp"

#include <dlfcn.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <map>
#include <regex>
#include <sys/stat.h>

#include "core/config.hpp"
#include "loader/file_digest.hpp"
#include "loader/installed_packs.hpp"
#include "loader/plugin_call_guard.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

// Raised inside the checks to stop at the first problem; carries the reason.
struct Refusal {
  std::string reason;
};

// The bytes of `type` up to and including `field`.
#define CRM_SIZE_THROUGH(type, field) static_cast<std::uint32_t>(offsetof(type, field) + sizeof(type::field))

// ABI 1.0 sizes: the fields every 1.x plugin fills. A later minor may grow
// the structs; a struct smaller than these was not built with any 1.x SDK.
constexpr std::uint32_t kLibraryMinimumSize = CRM_SIZE_THROUGH(crm_library, plugins);
constexpr std::uint32_t kDescriptorMinimumSize = CRM_SIZE_THROUGH(crm_plugin_descriptor, kind_api);
constexpr std::uint32_t kConnectorMinimumSize = CRM_SIZE_THROUGH(crm_connector_api, reprocess);
constexpr std::uint32_t kScorerMinimumSize = CRM_SIZE_THROUGH(crm_scorer_api, score);
// Channels arrived with 1.1: their first size is the 1.1 one.
constexpr std::uint32_t kChannelMinimumSize = CRM_SIZE_THROUGH(crm_channel_api, send);

#undef CRM_SIZE_THROUGH

// Copies a size-tagged struct written by a plugin into this host's layout,
// reading only the bytes the plugin's struct_size covers; the rest stays zero
// ("not supported").
template <class T>
T read_sized(const T* source, std::uint32_t minimum_size, const char* what, std::uint32_t plugin_abi) {
  if (source == nullptr) {
    throw Refusal{fmt::format("{} is NULL; the plugin must return a static {}", what, what)};
  }
  std::uint32_t declared_size = 0;
  std::memcpy(&declared_size, source, sizeof declared_size);
  if (declared_size < minimum_size) {
    throw Refusal{
        fmt::format("{} struct_size {} is smaller than ABI {}.0 requires ({}); rebuild the plugin "
                    "against the SDK headers",
                    what, declared_size, CRM_ABI_VERSION_MAJOR, minimum_size)};
  }
  if (declared_size > sizeof(T)) {
    throw Refusal{
        fmt::format("{} struct_size {} is larger than this host knows ({}) for ABI {}; rebuild the "
                    "plugin against the SDK headers of the ABI it declares",
                    what, declared_size, sizeof(T), abi_text(plugin_abi))};
  }
  T copy{};
  std::memcpy(static_cast<void*>(&copy), static_cast<const void*>(source), declared_size);
  return copy;
}

std::size_t count_names(const char* const* names) {
  std::size_t count = 0;
  while (names != nullptr && names[count] != nullptr) {
    ++count;
  }
  return count;
}

void check_scorer_api(const crm_scorer_api& api) {
  if (count_names(api.reason_codes) > CRM_MAX_REASON_CODES) {
    throw Refusal{fmt::format("it declares {} reason codes, more than the {} a bitmask holds; merge some",
                              count_names(api.reason_codes), CRM_MAX_REASON_CODES)};
  }
  const int training_calls = static_cast<int>(api.train != nullptr) + static_cast<int>(api.save_model != nullptr) +
                             static_cast<int>(api.load_model != nullptr);
  if (training_calls != 0 && training_calls != 3) {
    throw Refusal{"crm_scorer_api fills only some of train, save_model and load_model; fill all three or none"};
  }
}

// A scorer may only ask for features the host computes; checked once it is known to be enabled.
void check_required_features(const crm_scorer_api& api, const std::vector<std::string>& available_features) {
  if (available_features.empty()) {
    return;
  }
  std::vector<std::string> missing;
  for (std::size_t k = 0; k < count_names(api.required_features); ++k) {
    const std::string name = api.required_features[k];
    if (!name.empty() && name.back() == '*') {
      continue;  // a feature family (1.4) may be empty: it never refuses a scorer
    }
    if (std::find(available_features.begin(), available_features.end(), name) == available_features.end()) {
      missing.push_back(name);
    }
  }
  if (!missing.empty()) {
    throw Refusal{
        fmt::format("it needs feature{} {} that this host does not compute; see `crmhost features` for the "
                    "list, or upgrade the host",
                    missing.size() == 1 ? "" : "s", fmt::join(missing, ", "))};
  }
}

std::string check_abi(std::uint32_t plugin_abi) {
  if (CRM_ABI_MAJOR_OF(plugin_abi) != CRM_ABI_VERSION_MAJOR) {
    return fmt::format(
        "built for ABI {}, this host speaks ABI {}: the major versions differ; rebuild the plugin "
        "against SDK {}.x",
        abi_text(plugin_abi), abi_text(CRM_ABI_VERSION), CRM_ABI_VERSION_MAJOR);
  }
  if (CRM_ABI_MINOR_OF(plugin_abi) > CRM_ABI_VERSION_MINOR) {
    return fmt::format(
        "built for ABI {}, newer than this host's ABI {}; upgrade the host or rebuild the plugin "
        "against SDK {}",
        abi_text(plugin_abi), abi_text(CRM_ABI_VERSION), abi_text(CRM_ABI_VERSION));
  }
  return {};
}

// Calls plugin code that must not throw; if it does anyway (C++ plugins
// written without the SDK's layer), the exception stops here.
template <class Call>
auto call_guarded(const char* what, Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    throw Refusal{
        fmt::format("{} threw an exception ({}); a plugin must return a status instead of throwing "
                    "(the SDK's C++ layer does this)",
                    what, e.what())};
  } catch (...) {
    throw Refusal{
        fmt::format("{} threw an exception of unknown type; a plugin must return a status instead of "
                    "throwing (the SDK's C++ layer does this)",
                    what)};
  }
}

std::string status_fix(crm_status status) {
  switch (status) {
    case CRM_STATUS_CONFIG:
      return "fix the plugin's configuration";
    case CRM_STATUS_RETRIABLE:
      return "the plugin will be retried on the next run";
    default:
      return "see the plugin's log lines above";
  }
}

bool valid_id(const char* id) {
  static const std::regex kId("^[a-z0-9_.-]{1,64}$");
  return id != nullptr && std::regex_match(id, kId);
}

std::string text_or_empty(const char* text) {
  return text == nullptr ? std::string() : std::string(text);
}

// Resolves secret references ({"env": "NAME"}) at the given pointers.
std::map<std::string, std::string> resolve_secrets(const nlohmann::json& config,
                                                   const std::vector<nlohmann::json::json_pointer>& pointers,
                                                   const PluginHostOptions& options, const std::string& id) {
  std::map<std::string, std::string> secrets;
  for (const auto& pointer : pointers) {
    const nlohmann::json& reference = config.at(pointer);
    if (!reference.is_object() || reference.size() != 1 || !reference.contains("env") ||
        !reference["env"].is_string()) {
      throw Refusal{
          fmt::format("configuration: {} is a secret and must be given as {{\"env\": \"VARIABLE\"}}, not "
                      "inline; put the value in an environment variable and reference it in plugins.{}.config",
                      pointer.to_string(), id)};
    }
    const std::string variable = reference["env"].get<std::string>();
    std::optional<std::string> value;
    if (options.environment) {
      value = options.environment(variable);
    } else if (const char* found = std::getenv(variable.c_str()); found != nullptr) {  // NOLINT(concurrency-mt-unsafe)
      value = found;
    }
    if (!value) {
      throw Refusal{
          fmt::format("configuration: secret {} refers to environment variable {}, which is not set; set it "
                      "before starting the host",
                      pointer.to_string(), variable)};
    }
    secrets[pointer.to_string()] = *value;
  }
  return secrets;
}

void check_manifest_agrees(const ManifestPlugin& declared, const crm_plugin_descriptor& compiled,
                           const std::string& manifest_name) {
  const auto mismatch = [&](const char* field, const std::string& in_manifest, const std::string& in_library) {
    return Refusal{
        fmt::format("manifest disagrees with the compiled descriptor: {} is {} in {} but {} in the "
                    "library; ship the manifest that was built with this library",
                    field, in_manifest, manifest_name, in_library)};
  };
  const std::string compiled_kind = kind_name(compiled.kind).value_or("?");
  if (declared.kind != compiled_kind) {
    throw mismatch("kind", declared.kind, compiled_kind);
  }
  if (declared.version != compiled.version) {
    throw mismatch("version", declared.version, compiled.version);
  }
  std::vector<std::string> declared_capabilities = declared.capabilities;
  std::sort(declared_capabilities.begin(), declared_capabilities.end());
  std::vector<std::string> compiled_capabilities = capability_names(compiled.capabilities);
  std::sort(compiled_capabilities.begin(), compiled_capabilities.end());
  if (declared_capabilities != compiled_capabilities) {
    throw mismatch("capabilities", nlohmann::json(declared_capabilities).dump(),
                   nlohmann::json(compiled_capabilities).dump());
  }
  nlohmann::json compiled_schema = nullptr;
  if (compiled.config_schema_json != nullptr) {
    try {
      compiled_schema = nlohmann::json::parse(compiled.config_schema_json);
    } catch (const nlohmann::json::parse_error& e) {
      throw Refusal{
          fmt::format("config schema in the library is not valid JSON ({}); fix the plugin's descriptor", e.what())};
    }
  }
  const nlohmann::json declared_schema = declared.config_schema.value_or(nlohmann::json(nullptr));
  if (declared_schema != compiled_schema) {
    throw mismatch("config_schema", "one schema", "another");
  }
}

// Fields the plugin's schema takes from a host setting get the host's value: a number
// configured once for the host (value_classes.a_share) is the one every plugin uses. The
// same field set to another value in the plugin's own section is refused, not overridden.
void take_host_settings(const JsonSchema& schema, const nlohmann::json& host_settings, const std::string& where,
                        nlohmann::json& config) {
  if (!config.is_object()) {
    return;  // the schema check that follows names the problem
  }
  for (const JsonSchema::HostSettingField& field : schema.host_setting_fields()) {
    const std::string path = field.setting.is_string() ? field.setting.get<std::string>() : std::string();
    nlohmann::json::json_pointer setting;
    for (std::size_t start = 0; !path.empty() && start <= path.size();) {
      const std::size_t dot = std::min(path.find('.', start), path.size());
      setting /= path.substr(start, dot - start);
      start = dot + 1;
    }
    if (path.empty() || !host_settings.contains(setting) || host_settings[setting].is_object()) {
      std::string known;
      const nlohmann::json leaves = host_settings.flatten();
      for (const auto& [pointer, leaf] : leaves.items()) {
        std::string dotted = pointer.substr(1);
        std::replace(dotted.begin(), dotted.end(), '/', '.');
        known += (known.empty() ? "" : ", ") + dotted;
      }
      throw Refusal{
          fmt::format("its config schema takes {} from the host setting {}, which this host does not have; "
                      "name one of: {}",
                      field.pointer.to_string(), field.setting.dump(), known)};
    }
    const nlohmann::json& value = host_settings[setting];
    std::string field_name = field.pointer.to_string();
    std::replace(field_name.begin(), field_name.end(), '/', '.');
    if (config.contains(field.pointer) && config[field.pointer] != value) {
      throw Refusal{
          fmt::format("{}.config{} is set by the host configuration's {} ({}); remove it from the "
                      "plugin's section and set {} instead",
                      where, field_name, path, value.dump(), path)};
    }
    config[field.pointer] = value;
  }
}

// Schema violations named by their dotted path under `prefix` ("instances.orders_eu.config.path: ...").
std::string describe_violations_at(const std::vector<SchemaViolation>& violations, const std::string& prefix) {
  std::string text;
  for (const SchemaViolation& violation : violations) {
    std::string path = violation.instance_pointer;
    std::replace(path.begin(), path.end(), '/', '.');
    text += fmt::format("{}{}{}: {}", text.empty() ? "" : "; ", prefix, path == "." ? "" : path, violation.message);
  }
  return text;
}

// One instance a plugin is to have: its name, its section and where that is in the configuration.
struct InstanceSection {
  std::string name;
  nlohmann::json settings;
  std::string where;
  bool configured = false;
};

// The instances of `plugin_id`: each entry of "instances" that runs it, and its own one (named by its
// id) when "plugins" has a section for it or no instance runs it. An entry of "instances" named as the
// plugin itself while "plugins" has that section too takes the name twice: settle_instances refuses it.
std::vector<InstanceSection> instance_sections(const std::string& plugin_id, const PluginHostOptions& options) {
  std::vector<InstanceSection> sections;
  const bool own_section = options.plugin_settings.is_object() && options.plugin_settings.contains(plugin_id);
  if (options.instance_settings.is_object()) {
    for (const auto& [name, section] : options.instance_settings.items()) {
      const bool runs_it = section.is_object() && section.contains("plugin") && section["plugin"] == plugin_id;
      if (runs_it && !(own_section && name == plugin_id)) {
        sections.push_back({name, section, "instances." + name, true});
      }
    }
  }
  if (own_section || sections.empty()) {
    sections.insert(sections.begin(),
                    {plugin_id, own_section ? options.plugin_settings[plugin_id] : nlohmann::json::object(),
                     "plugins." + plugin_id, own_section});
  }
  return sections;
}

// Edits (insert, delete, substitute, swap two neighbours) between two ids.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The plugin ids the records name, sorted, each once.
std::vector<std::string> known_plugin_ids(const std::vector<PluginRecord>& records) {
  std::vector<std::string> known;
  for (const PluginRecord& record : records) {
    const std::string& id = record.plugin_id.empty() ? record.id : record.plugin_id;
    if (!id.empty() && std::find(known.begin(), known.end(), id) == known.end()) {
      known.push_back(id);
    }
  }
  std::sort(known.begin(), known.end());
  return known;
}

// Which known id `id` may be a typo of, or what the known ids are.
std::string typo_hint(const std::string& id, const std::vector<std::string>& known) {
  std::vector<std::string> closest;
  std::size_t best = std::numeric_limits<std::size_t>::max();
  for (const std::string& candidate : known) {
    // Close enough to be a typo: at most two edits, or a third of the id.
    const std::size_t distance = edit_distance(id, candidate);
    if (distance > std::max<std::size_t>(2, id.size() / 3) || distance > best) {
      continue;
    }
    if (distance < best) {
      closest.clear();
      best = distance;
    }
    closest.push_back(candidate);
  }
  if (!closest.empty()) {
    return fmt::format("did you mean {}?", fmt::join(closest, " or "));
  }
  return known.empty() ? std::string("no plugin was found at all; check plugin_dirs and --plugin-dir")
                       : fmt::format("the plugins found are {}", fmt::join(known, ", "));
}

std::string user_name(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);  // NOLINT(concurrency-mt-unsafe): plugins load on one thread
  return entry != nullptr ? fmt::format("{} (uid {})", entry->pw_name, uid) : fmt::format("uid {}", uid);
}

// A library runs in one place: in a worker when any plugin it holds is to be isolated (the safer
// choice when its plugins' settings disagree), in the host's process otherwise.
PluginIsolation library_isolation(const fs::path& file, const Manifest& manifest, const PluginHostOptions& options) {
  // Built with crmhost: a bundled id, in crmhost's own plugin folder (a vendor's library claiming a
  // bundled id elsewhere is not trusted for it).
  static const fs::path kProductDir = default_plugin_dir();
  std::error_code ignored;
  const bool in_product_dir = fs::equivalent(fs::path(file).parent_path(), kProductDir, ignored);
  for (const ManifestPlugin& plugin : manifest.plugins) {
    const nlohmann::json* settings = options.plugin_settings.is_object() && options.plugin_settings.contains(plugin.id)
                                         ? &options.plugin_settings[plugin.id]
                                         : nullptr;
    std::optional<PluginIsolation> chosen;
    if (settings != nullptr && settings->is_object() && settings->contains("isolation") &&
        (*settings)["isolation"].is_string()) {
      chosen = parse_isolation((*settings)["isolation"].get<std::string>());
    }
    if (!chosen) {
      chosen = options.default_isolation;
    }
    if (!chosen) {
      chosen = in_product_dir && is_bundled_plugin(plugin.id) ? PluginIsolation::in_process : PluginIsolation::process;
    }
    if (*chosen == PluginIsolation::process) {
      return PluginIsolation::process;
    }
  }
  return PluginIsolation::in_process;
}

void overlay_deadlines(const nlohmann::json& section, CallDeadlines& deadlines) {
  if (!section.is_object()) {
    return;
  }
  const std::pair<const char*, std::int64_t*> fields[] = {
      {"load", &deadlines.load_ms},   {"create", &deadlines.create_ms},  {"fetch", &deadlines.fetch_ms},
      {"score", &deadlines.score_ms}, {"train", &deadlines.train_ms},    {"model", &deadlines.model_ms},
      {"send", &deadlines.send_ms},   {"destroy", &deadlines.destroy_ms}};
  for (const auto& [name, field] : fields) {
    if (section.contains(name) && section[name].is_number_integer()) {
      *field = section[name].get<std::int64_t>();
    }
  }
}

void overlay_limits(const nlohmann::json& section, WorkerSettings& settings) {
  if (!section.is_object()) {
    return;
  }
  settings.memory_limit_mb = section.value("memory_mb", settings.memory_limit_mb);
  settings.cpu_limit_seconds = section.value("cpu_seconds", settings.cpu_limit_seconds);
  settings.open_files_limit = section.value("open_files", settings.open_files_limit);
}

}  // namespace

std::string_view isolation_name(PluginIsolation isolation) {
  return isolation == PluginIsolation::process ? "process" : "in_process";
}

std::optional<PluginIsolation> parse_isolation(std::string_view name) {
  if (name == "process") {
    return PluginIsolation::process;
  }
  if (name == "in_process") {
    return PluginIsolation::in_process;
  }
  return std::nullopt;
}

bool is_bundled_plugin(std::string_view plugin_id) {
  static const std::vector<std::string_view> kBundled = [] {
    std::vector<std::string_view> ids;
    std::string_view list = CRM_BUNDLED_PLUGIN_IDS;
    while (!list.empty()) {
      const std::size_t comma = std::min(list.find(','), list.size());
      ids.push_back(list.substr(0, comma));
      list.remove_prefix(std::min(comma + 1, list.size()));
    }
    return ids;
  }();
  return std::find(kBundled.begin(), kBundled.end(), plugin_id) != kBundled.end();
}

WorkerSettings worker_settings_for(const WorkerSettings& base, const nlohmann::json& plugin_settings) {
  WorkerSettings settings = base;
  if (plugin_settings.is_object()) {
    overlay_deadlines(plugin_settings.value("deadlines_ms", nlohmann::json::object()), settings.deadlines);
    overlay_limits(plugin_settings.value("limits", nlohmann::json::object()), settings);
  }
  return settings;
}

WorkerSettings parse_worker_settings(const nlohmann::json& plugin_runtime) {
  WorkerSettings settings;
  if (!plugin_runtime.is_object()) {
    return settings;
  }
  if (plugin_runtime.contains("worker") && plugin_runtime["worker"].is_string()) {
    settings.worker_executable = plugin_runtime["worker"].get<std::string>();
  }
  overlay_deadlines(plugin_runtime.value("deadlines_ms", nlohmann::json::object()), settings.deadlines);
  overlay_limits(plugin_runtime.value("limits", nlohmann::json::object()), settings);
  settings.crash_limit = plugin_runtime.value("crash_limit", settings.crash_limit);
  settings.crash_window_ms = plugin_runtime.value("crash_window_s", settings.crash_window_ms / 1000) * 1000;
  settings.restart_backoff_ms = plugin_runtime.value("restart_backoff_ms", settings.restart_backoff_ms);
  settings.cancel_grace_ms = plugin_runtime.value("cancel_grace_ms", settings.cancel_grace_ms);
  return settings;
}

std::optional<PluginIsolation> parse_default_isolation(const nlohmann::json& plugin_runtime) {
  if (plugin_runtime.is_object() && plugin_runtime.contains("isolation") && plugin_runtime["isolation"].is_string()) {
    return parse_isolation(plugin_runtime["isolation"].get<std::string>());
  }
  return std::nullopt;
}
struct PluginHost::CheckedPlugin {
  PluginRecord record;  // id and plugin_id: the plugin's id; file, kind, version, abi
  crm_plugin_descriptor descriptor;
  std::optional<crm_scorer_api> scorer_api;
  std::optional<crm_connector_api> connector_api;
  std::optional<crm_channel_api> channel_api;
  std::optional<JsonSchema> schema;
  const RemoteLibraryImage* image = nullptr;  // the library's descriptors as its worker described them, or null
};

std::string_view plugin_state_name(PluginState state) {
  switch (state) {
    case PluginState::loaded:
      return "loaded";
    case PluginState::refused:
      return "refused";
    case PluginState::disabled:
      return "disabled";
    case PluginState::unconfigured:
      return "unconfigured";
  }
  return "?";
}

LoadedPlugin::LoadedPlugin(PluginRecord record, const crm_plugin_descriptor& descriptor,
                           std::unique_ptr<PluginServices> services)
    : record_(std::move(record)), descriptor_(descriptor), services_(std::move(services)) {}

LoadedPlugin::~LoadedPlugin() {
  const PluginCallScope in_plugin(record_.id, "destroy");
  instance_.reset();
}

std::unique_lock<std::mutex> LoadedPlugin::call_lock() {
  if (has_capability(CRM_CAP_THREAD_SAFE)) {
    return {};
  }
  return std::unique_lock<std::mutex>(call_mutex_);
}

bool LoadedPlugin::stop_after_fatal(const std::string& reason) {
  const std::lock_guard lock(stopped_mutex_);
  if (stopped_reason_) {
    return false;
  }
  stopped_reason_ = reason;
  return true;
}

std::optional<std::string> LoadedPlugin::stopped_reason() const {
  const std::lock_guard lock(stopped_mutex_);
  return stopped_reason_;
}

PluginHost::PluginHost(Logger& logger, const Clock& clock, PluginStateStore& state, const std::atomic<bool>& cancelled)
    : logger_(logger), clock_(clock), state_(state), cancelled_(cancelled) {}

PluginHost::~PluginHost() {
  // Instances go first, newest first; the libraries themselves stay mapped.
  while (!plugins_.empty()) {
    plugins_.pop_back();
  }
}

LoadedPlugin* PluginHost::find(std::string_view id) const {
  for (const auto& plugin : plugins_) {
    if (plugin->id() == id) {
      return plugin.get();
    }
  }
  return nullptr;
}

std::vector<LoadedPlugin*> PluginHost::plugins_of_kind(crm_plugin_kind kind) const {
  std::vector<LoadedPlugin*> found;
  for (const auto& plugin : plugins_) {
    if (plugin->descriptor().kind == kind) {
      found.push_back(plugin.get());
    }
  }
  return found;
}

std::size_t PluginHost::refused_count() const {
  return static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(), [](const PluginRecord& record) {
    return record.state == PluginState::refused;
  }));
}

void PluginHost::refuse(PluginRecord record, std::string reason) {
  if (record.plugin_id.empty()) {
    record.plugin_id = record.id;
  }
  record.state = PluginState::refused;
  record.reason = std::move(reason);
  logger_.log(LogLevel::warn, "host",
              fmt::format("refused plugin '{}' from {}: {}", record.id.empty() ? "?" : record.id, record.file.string(),
                          record.reason));
  records_.push_back(std::move(record));
}

void PluginHost::load(const PluginHostOptions& options) {
  for (const fs::path& directory : with_installed_packs(options.plugin_dirs)) {
    std::error_code error;
    if (!fs::is_directory(directory, error)) {
      logger_.log(LogLevel::warn, "host",
                  fmt::format("plugin directory {} does not exist; skipped", directory.string()));
      continue;
    }
    const std::string folder_problem = options.allow_writable_plugins ? "" : unsafe_plugin_path_problem(directory);
    std::vector<fs::path> libraries;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
      if (entry.path().extension() == ".so") {
        libraries.push_back(entry.path());
      }
    }
    std::sort(libraries.begin(), libraries.end());
    for (const fs::path& library : libraries) {
      load_library(library, options, folder_problem);
    }
  }
  for (const fs::path& file : options.plugin_files) {
    const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
    load_library(file, options, options.allow_writable_plugins ? "" : unsafe_plugin_path_problem(folder));
  }
  const std::vector<std::string> names_taken_twice = settle_instances(options);
  // A mistyped id in the configuration would otherwise leave a plugin on its defaults, silently.
  std::vector<std::string> problems = plugin_settings_problems(options.plugin_settings, records_);
  for (std::string& problem : instance_settings_problems(options.instance_settings, records_)) {
    problems.push_back(std::move(problem));
  }
  if (options.unknown_plugin_ids_are_errors && (!problems.empty() || !names_taken_twice.empty())) {
    std::vector<std::string> all = names_taken_twice;
    all.insert(all.end(), problems.begin(), problems.end());
    throw ConfigError(fmt::format("{}", fmt::join(all, "; ")));
  }
  for (const std::string& problem : problems) {
    logger_.log(LogLevel::warn, "host", problem);
  }
}

std::vector<std::string> PluginHost::settle_instances(const PluginHostOptions& options) {
  std::vector<std::string> names_taken_twice;
  if (!options.instance_settings.is_object()) {
    return names_taken_twice;
  }
  const auto record_of = [this](const std::string& id, const std::string& plugin_id) -> PluginRecord* {
    for (PluginRecord& record : records_) {
      if (record.id == id && record.plugin_id == plugin_id) {
        return &record;
      }
    }
    return nullptr;
  };
  for (const auto& [name, section] : options.instance_settings.items()) {
    if (!section.is_object() || !section.contains("plugin") || !section["plugin"].is_string()) {
      continue;  // instance_settings_problems names it
    }
    const std::string plugin_id = section["plugin"].get<std::string>();
    const bool own_section = options.plugin_settings.is_object() && options.plugin_settings.contains(name);
    PluginRecord* instance = record_of(name, plugin_id);
    if (plugin_id == name && own_section) {
      // instance_sections made only the plugin's own instance of the two.
      const PluginRecord* own = record_of(name, name);
      if (own == nullptr) {
        continue;  // no such plugin: plugin_settings_problems names it
      }
      PluginRecord record = *own;
      const std::string reason = fmt::format(
          "the instance name '{}' is taken twice: by instances.{} and by plugins.{}; rename the instance or remove "
          "one of the two",
          name, name, name);
      names_taken_twice.push_back(reason);
      refuse(std::move(record), reason);
      continue;
    }
    if (instance == nullptr) {
      // The plugin was refused before it had instances: so is this one, saying why.
      for (const PluginRecord& plugin : records_) {
        if (plugin.id == plugin_id && plugin.plugin_id == plugin_id && plugin.state == PluginState::refused) {
          PluginRecord record = plugin;
          record.id = name;
          refuse(std::move(record), fmt::format("its plugin '{}' is refused: {}", plugin_id, plugin.reason));
          break;
        }
      }
      continue;
    }
    const PluginRecord* other = record_of(name, name);
    if (plugin_id == name || other == nullptr || other->state == PluginState::refused ||
        instance->state == PluginState::refused) {
      continue;
    }
    const std::string reason = fmt::format(
        "the instance name '{}' is taken twice: by instances.{} (plugin '{}') and by plugin '{}' under its own "
        "name ({}); rename the instance",
        name, name, plugin_id, name,
        own_section ? fmt::format("plugins.{}", name) : std::string("it has no instances, so it runs as itself"));
    names_taken_twice.push_back(reason);
    const auto live = std::find_if(plugins_.begin(), plugins_.end(), [&](const std::unique_ptr<LoadedPlugin>& plugin) {
      return plugin->id() == name && plugin->plugin_id() == plugin_id;
    });
    if (live != plugins_.end()) {
      plugins_.erase(live);
    }
    instance->state = PluginState::refused;
    instance->reason = reason;
    logger_.log(LogLevel::warn, "host",
                fmt::format("refused plugin '{}' from {}: {}", name, instance->file.string(), reason));
  }
  return names_taken_twice;
}

void PluginHost::load_library(const fs::path& file, const PluginHostOptions& options,
                              const std::string& folder_problem) {
  PluginRecord library_record;
  library_record.file = file;
  const fs::path manifest_path = fs::path(file).replace_extension(".json");
  const std::string manifest_name = manifest_path.filename().string();
  if (!fs::exists(manifest_path)) {
    refuse(library_record, fmt::format("no manifest {} beside the library; install the plugin's plugin.json as {}",
                                       manifest_name, manifest_name));
    return;
  }
  Manifest manifest;
  try {
    manifest = read_manifest(manifest_path);
  } catch (const ManifestError& e) {
    refuse(library_record, fmt::format("bad manifest: {}; fix {}", e.what(), manifest_name));
    return;
  }
  // Until the library itself answers, refusals name every plugin its manifest declares.
  const auto refuse_library = [&](const std::string& reason) {
    for (const ManifestPlugin& plugin : manifest.plugins) {
      PluginRecord record = library_record;
      record.id = plugin.id;
      record.kind = plugin.kind;
      record.version = plugin.version;
      record.abi = manifest.abi;
      refuse(record, reason);
    }
  };

  // Code that another user could have changed does not run (checked before mapping it).
  if (!options.allow_writable_plugins) {
    for (const std::string& problem :
         {folder_problem, unsafe_plugin_path_problem(file), unsafe_plugin_path_problem(manifest_path)}) {
      if (!problem.empty()) {
        refuse_library(problem);
        return;
      }
    }
  }

  // Refuse an incompatible plugin before mapping it: no code of it runs.
  if (const std::string problem = check_abi(manifest.abi_version); !problem.empty()) {
    refuse_library(problem);
    return;
  }

  // A pinned library (plugins.<id>.sha256) must hash as pinned before it is mapped, here or in a worker.
  if (const std::string problem = pinned_file_problem(file, manifest, options.plugin_settings); !problem.empty()) {
    refuse_library(problem);
    return;
  }

  const auto abi_problem = [&](std::uint32_t library_abi) -> std::string {
    if (std::string problem = check_abi(library_abi); !problem.empty()) {
      return problem;
    }
    if (library_abi != manifest.abi_version) {
      return fmt::format(
          "the library reports ABI {} but {} says {}; ship the manifest that was built with "
          "this library",
          abi_text(library_abi), manifest_name, manifest.abi);
    }
    return {};
  };
  const PluginIsolation isolation = library_isolation(file, manifest, options);
  library_record.isolation = isolation_name(isolation);
  std::unique_ptr<RemoteLibraryImage> image;
  boost::dll::shared_library library;
  std::uint32_t library_abi = 0;
  const crm_library* raw_library = nullptr;
  if (isolation == PluginIsolation::process) {
    // The host never maps the library: a worker does, and describes what it holds.
    OpenedRemoteLibrary opened = open_remote_library(file, options.worker, abi_problem);
    if (opened.abi_version != 0) {
      library_record.abi = abi_text(opened.abi_version);
    }
    if (!opened.refusal.empty()) {
      refuse_library(opened.refusal);
      return;
    }
    library_abi = opened.abi_version;
    image = std::move(opened.image);
    raw_library = image->library();
  } else {
    // RTLD_NODELETE: the code stays mapped after dlclose, so nothing a plugin
    // made (objects, deleters, thread-locals) can outlive it.
    const auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    boost::dll::fs::error_code load_error;
    dlerror();  // NOLINT(concurrency-mt-unsafe): plugins load on one thread
    {
      // Mapping a library runs its constructors: plugin code.
      const PluginCallScope in_plugin(file.filename().string(), "load");
      library.load(boost::dll::fs::path(file.string()), mode, load_error);
    }
    if (load_error || !library.is_loaded()) {
      const char* detail = dlerror();  // NOLINT(concurrency-mt-unsafe)
      refuse_library(fmt::format("not a loadable shared library ({}); rebuild it as a shared library for this platform",
                                 detail != nullptr ? detail : load_error.message()));
      return;
    }
  }

  try {
    if (!image) {
      if (!library.has(CRM_ABI_VERSION_SYMBOL)) {
        throw Refusal{
            fmt::format("missing entry point {}(); export it with CRM_DEFINE_LIBRARY (C) or "
                        "CRM_EXPORT_PLUGINS (C++)",
                        CRM_ABI_VERSION_SYMBOL)};
      }
      const auto abi_version_fn = library.get<std::uint32_t()>(CRM_ABI_VERSION_SYMBOL);
      library_abi = call_guarded(CRM_ABI_VERSION_SYMBOL, [&] {
        const PluginCallScope in_plugin(file.filename().string(), CRM_ABI_VERSION_SYMBOL);
        return abi_version_fn();
      });
      library_record.abi = abi_text(library_abi);
      if (std::string problem = abi_problem(library_abi); !problem.empty()) {
        throw Refusal{problem};
      }
      if (!library.has(CRM_LIBRARY_SYMBOL)) {
        throw Refusal{
            fmt::format("missing entry point {}(); export it with CRM_DEFINE_LIBRARY (C) or "
                        "CRM_EXPORT_PLUGINS (C++)",
                        CRM_LIBRARY_SYMBOL)};
      }
      const auto library_fn = library.get<const crm_library*()>(CRM_LIBRARY_SYMBOL);
      raw_library = call_guarded(CRM_LIBRARY_SYMBOL, [&] {
        const PluginCallScope in_plugin(file.filename().string(), CRM_LIBRARY_SYMBOL);
        return library_fn();
      });
    }
    const crm_library contents = read_sized(raw_library, kLibraryMinimumSize, "crm_library", library_abi);
    if (contents.abi_version != library_abi) {
      throw Refusal{fmt::format("crm_library.abi_version {} differs from {}() ({}); build the library with one SDK",
                                abi_text(contents.abi_version), CRM_ABI_VERSION_SYMBOL, abi_text(library_abi))};
    }
    if (contents.plugin_count == 0 || contents.plugins == nullptr) {
      throw Refusal{"the library declares no plugins; list at least one descriptor in its crm_library"};
    }

    std::vector<std::string> compiled_ids;
    for (std::size_t i = 0; i < contents.plugin_count; ++i) {
      const crm_plugin_descriptor* raw = contents.plugins[i];
      if (raw != nullptr && raw->struct_size >= offsetof(crm_plugin_descriptor, id) + sizeof(raw->id) &&
          raw->id != nullptr) {
        compiled_ids.emplace_back(raw->id);
      }
      load_plugin(file, manifest, raw, options, image.get());
    }
    for (const ManifestPlugin& declared : manifest.plugins) {
      if (std::find(compiled_ids.begin(), compiled_ids.end(), declared.id) == compiled_ids.end()) {
        PluginRecord record = library_record;
        record.id = declared.id;
        record.kind = declared.kind;
        record.version = declared.version;
        refuse(record, fmt::format("declared in {} but the library does not contain it; ship the manifest that was "
                                   "built with this library",
                                   manifest_name));
      }
    }
  } catch (const Refusal& refusal) {
    refuse_library(refusal.reason);
  }
  if (image) {
    images_.push_back(std::move(image));
  }
}

void PluginHost::load_plugin(const fs::path& file, const Manifest& manifest, const crm_plugin_descriptor* raw,
                             const PluginHostOptions& options, const RemoteLibraryImage* image) {
  PluginRecord record;
  record.file = file;
  record.abi = manifest.abi;
  record.isolation = isolation_name(image != nullptr ? PluginIsolation::process : PluginIsolation::in_process);
  const std::string manifest_name = fs::path(file).replace_extension(".json").filename().string();
  // Name the plugin in a refusal whenever its descriptor gives away a valid id.
  if (raw != nullptr && raw->struct_size >= offsetof(crm_plugin_descriptor, id) + sizeof(raw->id) &&
      valid_id(raw->id)) {
    record.id = raw->id;
    for (const ManifestPlugin& declared : manifest.plugins) {
      if (declared.id == record.id) {
        record.kind = declared.kind;
        record.version = declared.version;
      }
    }
  }
  try {
    const crm_plugin_descriptor descriptor =
        read_sized(raw, kDescriptorMinimumSize, "crm_plugin_descriptor", manifest.abi_version);
    if (!valid_id(descriptor.id)) {
      throw Refusal{"descriptor id is missing or not [a-z0-9_.-]{1,64}; give the plugin a valid id"};
    }
    record.id = descriptor.id;
    record.plugin_id = record.id;
    record.version = text_or_empty(descriptor.version);
    const auto kind = kind_name(descriptor.kind);
    if (!kind) {
      throw Refusal{
          fmt::format("unknown plugin kind {}; this host knows connector, scorer and channel", descriptor.kind)};
    }
    record.kind = *kind;
    if (descriptor.version == nullptr || descriptor.description == nullptr || descriptor.create == nullptr ||
        descriptor.destroy == nullptr || descriptor.kind_api == nullptr) {
      throw Refusal{
          "descriptor lacks a required field (version, description, create, destroy or kind_api); fill "
          "every required field of crm_plugin_descriptor"};
    }
    const auto declared = std::find_if(manifest.plugins.begin(), manifest.plugins.end(),
                                       [&](const ManifestPlugin& plugin) { return plugin.id == record.id; });
    if (declared == manifest.plugins.end()) {
      throw Refusal{
          fmt::format("the library holds plugin '{}' but {} does not declare it; ship the manifest that was "
                      "built with this library",
                      record.id, manifest_name)};
    }
    check_manifest_agrees(*declared, descriptor, manifest_name);
    const auto same_plugin = [&](const std::unique_ptr<LoadedPlugin>& plugin) {
      return plugin->plugin_id() == record.plugin_id;
    };
    if (const auto existing = std::find_if(plugins_.begin(), plugins_.end(), same_plugin); existing != plugins_.end()) {
      throw Refusal{
          fmt::format("duplicate id: plugin '{}' is already loaded from {}; remove one of the two "
                      "libraries or give one plugin another id",
                      record.id, (*existing)->record().file.string())};
    }

    std::optional<crm_scorer_api> scorer_api;
    if (descriptor.kind == CRM_KIND_SCORER) {
      scorer_api = read_sized(static_cast<const crm_scorer_api*>(descriptor.kind_api), kScorerMinimumSize,
                              "crm_scorer_api", manifest.abi_version);
      if (scorer_api->score == nullptr || scorer_api->required_features == nullptr) {
        throw Refusal{"crm_scorer_api lacks score or required_features; fill both"};
      }
      check_scorer_api(*scorer_api);
    }

    std::optional<crm_connector_api> connector_api;
    if (descriptor.kind == CRM_KIND_CONNECTOR) {
      connector_api = read_sized(static_cast<const crm_connector_api*>(descriptor.kind_api), kConnectorMinimumSize,
                                 "crm_connector_api", manifest.abi_version);
      if (connector_api->fetch == nullptr || connector_api->record_types == nullptr ||
          connector_api->record_type_count == 0) {
        throw Refusal{"crm_connector_api lacks fetch or record_types; fill both"};
      }
    }

    std::optional<crm_channel_api> channel_api;
    if (descriptor.kind == CRM_KIND_CHANNEL) {
      channel_api = read_sized(static_cast<const crm_channel_api*>(descriptor.kind_api), kChannelMinimumSize,
                               "crm_channel_api", manifest.abi_version);
      if (channel_api->send == nullptr) {
        throw Refusal{"crm_channel_api lacks send; fill it"};
      }
    }

    CheckedPlugin checked{record, descriptor, scorer_api, connector_api, channel_api, std::nullopt, image};
    if (declared->config_schema) {
      try {
        checked.schema.emplace(*declared->config_schema);
      } catch (const SchemaError& e) {
        throw Refusal{
            fmt::format("its config schema cannot be checked: {}; use the JSON Schema subset in README.md", e.what())};
      }
    }
    for (const InstanceSection& section : instance_sections(record.id, options)) {
      create_instance(checked, section.name, section.settings, section.where, section.configured, options);
    }
  } catch (const Refusal& refusal) {
    refuse(std::move(record), refusal.reason);
  }
}

void PluginHost::create_instance(const CheckedPlugin& plugin, const std::string& name, const nlohmann::json& settings,
                                 const std::string& where, bool configured, const PluginHostOptions& options) {
  PluginRecord record = plugin.record;
  record.id = name;
  const crm_plugin_descriptor& descriptor = plugin.descriptor;
  try {
    if (name != record.plugin_id && !valid_id(name.c_str())) {
      throw Refusal{fmt::format("{}: an instance name must be [a-z0-9_.-]{{1,64}}; rename the instance", where)};
    }
    if (settings.is_object() && settings.value("enabled", true) == false) {
      record.state = PluginState::disabled;
      record.reason = fmt::format("disabled in the configuration ({}.enabled)", where);
      logger_.log(LogLevel::debug, "host",
                  fmt::format("plugin '{}' from {} is disabled", record.id, record.file.string()));
      records_.push_back(std::move(record));
      return;
    }
    if (plugin.scorer_api) {
      check_required_features(*plugin.scorer_api, options.available_features);
    }
    nlohmann::json config =
        settings.is_object() && settings.contains("config") ? settings["config"] : nlohmann::json::object();
    std::map<std::string, std::string> secrets;
    if (plugin.schema) {
      const JsonSchema& schema = *plugin.schema;
      take_host_settings(schema, options.host_settings, where, config);
      schema.apply_defaults(config);
      if (!options.config_dir.empty()) {
        for (const auto& pointer : schema.annotated_pointers(config, "x-crm-path")) {
          if (config[pointer].is_string() && fs::path(config[pointer].get<std::string>()).is_relative()) {
            config[pointer] = (options.config_dir / config[pointer].get<std::string>()).lexically_normal().string();
          }
        }
      }
      const auto secret_pointers = schema.secret_pointers(config);
      secrets = resolve_secrets(config, secret_pointers, options, record.id);
      nlohmann::json resolved = config;
      for (const auto& pointer : secret_pointers) {
        resolved[pointer] = secrets[pointer.to_string()];
      }
      if (const auto violations = schema.validate(resolved); !violations.empty()) {
        // A plugin's own section names the field by JSON pointer, as it always has; an instance by its
        // full dotted path, which is where the user looks.
        const std::string described = where.starts_with("instances.")
                                          ? describe_violations_at(violations, where + ".config")
                                          : describe_violations(violations);
        if (!configured) {
          record.state = PluginState::unconfigured;
          record.reason =
              fmt::format("needs configuration ({}); add {}.config to the host configuration", described, where);
          logger_.log(LogLevel::debug, "host", fmt::format("plugin '{}' is not configured", record.id));
          records_.push_back(std::move(record));
          return;
        }
        record.config_invalid = true;
        throw Refusal{
            fmt::format("configuration breaks the plugin's schema: {}; fix {}.config in the host "
                        "configuration",
                        described, where)};
      }
    }
    for (const auto& [pointer, value] : secrets) {
      logger_.add_secret(value);
    }
    if (!options.create_instances) {
      record.state = PluginState::loaded;
      records_.push_back(std::move(record));
      return;
    }

    auto services = std::make_unique<PluginServices>(HostServicesDeps{logger_, clock_, state_, cancelled_}, record.id,
                                                     config, std::move(secrets));
    ErrorBuffer error;
    crm_plugin_instance* instance = nullptr;
    const std::string& config_text = services->config_text();
    const WorkerSettings worker_settings = worker_settings_for(options.worker, settings);
    RemotePlugin* remote = nullptr;
    crm_status status = CRM_STATUS_FATAL;
    if (plugin.image != nullptr) {
      const std::size_t output_columns = plugin.scorer_api ? count_names(plugin.scorer_api->output_columns) : 0;
      auto made = std::make_unique<RemotePlugin>(record.file, record.plugin_id.empty() ? record.id : record.plugin_id,
                                                 record.id, worker_settings, output_columns);
      status = call_guarded("create", [&] {
        const PluginCallScope in_plugin(record.id, "create");
        return made->create(services->table(), config_text, error.get());
      });
      if (status == CRM_STATUS_OK) {
        remote = made.release();
        instance = remote->as_instance();
      }
    } else {
      status = call_guarded("create", [&] {
        const PluginCallScope in_plugin(record.id, "create", worker_settings.deadlines.create_ms);
        return descriptor.create(services->table(), crm_str{config_text.data(), config_text.size()}, &instance,
                                 error.get());
      });
    }
    if (status != CRM_STATUS_OK) {
      if (instance != nullptr) {
        const PluginCallScope in_plugin(record.id, "destroy");
        descriptor.destroy(instance);
      }
      record.create_status = status;
      throw Refusal{fmt::format("init failed ({} error): {}; {}", status_name(status), logger_.redact(error.message()),
                                status_fix(status))};
    }
    record.state = PluginState::loaded;
    auto loaded = std::make_unique<LoadedPlugin>(record, descriptor, std::move(services));
    loaded->scorer_api_ = plugin.scorer_api;
    loaded->connector_api_ = plugin.connector_api;
    loaded->channel_api_ = plugin.channel_api;
    loaded->instance_ = InstanceHandle(&loaded->descriptor_, instance);
    loaded->remote_ = remote;
    loaded->deadlines_ = worker_settings.deadlines;
    logger_.log(LogLevel::debug, "host",
                fmt::format("loaded {} '{}' {} from {}{}", record.kind, record.id, record.version, record.file.string(),
                            name == record.plugin_id ? "" : fmt::format(" (an instance of '{}')", record.plugin_id)));
    plugins_.push_back(std::move(loaded));
    records_.push_back(std::move(record));
  } catch (const Refusal& refusal) {
    refuse(std::move(record), refusal.reason);
  }
}

std::vector<std::string> plugin_settings_problems(const nlohmann::json& plugin_settings,
                                                  const std::vector<PluginRecord>& records) {
  std::vector<std::string> problems;
  if (!plugin_settings.is_object()) {
    return problems;
  }
  const std::vector<std::string> known = known_plugin_ids(records);
  for (const auto& [id, settings] : plugin_settings.items()) {
    if (std::find(known.begin(), known.end(), id) != known.end()) {
      continue;
    }
    problems.push_back(fmt::format("plugins.{}: no plugin found has this id; {} (fix the id, or remove the entry)", id,
                                   typo_hint(id, known)));
  }
  return problems;
}

std::vector<std::string> instance_settings_problems(const nlohmann::json& instance_settings,
                                                    const std::vector<PluginRecord>& records) {
  std::vector<std::string> problems;
  if (!instance_settings.is_object()) {
    return problems;
  }
  const std::vector<std::string> known = known_plugin_ids(records);
  for (const auto& [name, section] : instance_settings.items()) {
    if (!valid_id(name.c_str())) {
      problems.push_back(fmt::format("instances.{}: an instance name must be [a-z0-9_.-]{{1,64}}; rename it", name));
      continue;
    }
    if (!section.is_object() || !section.contains("plugin") || !section["plugin"].is_string()) {
      problems.push_back(
          fmt::format("instances.{}: no \"plugin\"; name the plugin the instance runs (`crmhost plugins`)", name));
      continue;
    }
    const std::string plugin_id = section["plugin"].get<std::string>();
    if (std::find(known.begin(), known.end(), plugin_id) == known.end()) {
      problems.push_back(
          fmt::format("instances.{}.plugin: no plugin found has the id '{}'; {} (fix the id, or remove "
                      "the instance)",
                      name, plugin_id, typo_hint(plugin_id, known)));
    }
  }
  return problems;
}

std::string unsafe_plugin_path_problem(const fs::path& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return {};  // what cannot be read is refused by the steps that read it, with their own reasons
  }
  const char* what = S_ISDIR(status.st_mode) ? "plugin folder" : "plugin file";
  const uid_t host_user = ::geteuid();
  if (status.st_uid != 0 && status.st_uid != host_user) {
    return fmt::format(
        "{} {} is owned by {}, neither root nor the user running crmhost, {}, so that user could change the code "
        "crmhost runs; chown it, or set allow_writable_plugins in the configuration",
        what, path.string(), user_name(status.st_uid), user_name(host_user));
  }
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return fmt::format(
        "{} {} is writable by other users (mode {:04o}), so they could change the code crmhost runs; chmod go-w "
        "it, or set allow_writable_plugins in the configuration",
        what, path.string(), status.st_mode & 07777);
  }
  return {};
}

fs::path default_plugin_dir() {
  boost::dll::fs::error_code error;
  const boost::dll::fs::path executable = boost::dll::program_location(error);
  if (error) {
    return fs::path("plugins");
  }
  std::error_code ignored;
  return fs::weakly_canonical(fs::path(executable.parent_path().string()) / ".." / "plugins", ignored);
}

}  // namespace crm::host
