#include "loader/worker_codec.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "crm/record_layout.hpp"

namespace crm::host::worker {
namespace {

// Lists longer than these are lies that would otherwise walk plugin memory for ever.
constexpr std::size_t kMaxNames = 4096;
constexpr std::size_t kMaxRecordTypes = 64;
constexpr std::size_t kMaxSets = 1024;
// A batch larger than this is not a batch but a broken count.
constexpr std::uint64_t kMaxBatchBytes = std::uint64_t{8} << 30;

// Reads the first `declared` bytes of a plugin's struct into a zeroed host struct.
template <class T>
T read_prefix(const void* source, std::uint32_t declared) {
  T copy{};
  std::memcpy(static_cast<void*>(&copy), source, std::min<std::size_t>(declared, sizeof(T)));
  return copy;
}

std::uint32_t struct_size_of(const void* source) {
  std::uint32_t size = 0;
  std::memcpy(&size, source, sizeof size);
  return size;
}

std::optional<std::string> text(const char* value) {
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

std::optional<std::vector<std::string>> names(const char* const* list) {
  if (list == nullptr) {
    return std::nullopt;
  }
  std::vector<std::string> result;
  for (std::size_t i = 0; i < kMaxNames && list[i] != nullptr; ++i) {
    result.emplace_back(list[i]);
  }
  return result;
}

void put_text(Writer& writer, const std::optional<std::string>& value) {
  writer.boolean(value.has_value());
  if (value) {
    writer.bytes(*value);
  }
}

std::optional<std::string> get_text(Reader& reader) {
  if (!reader.boolean()) {
    return std::nullopt;
  }
  return std::string(reader.bytes());
}

void put_names(Writer& writer, const std::optional<std::vector<std::string>>& value) {
  writer.boolean(value.has_value());
  if (value) {
    writer.u64(value->size());
    for (const std::string& name : *value) {
      writer.bytes(name);
    }
  }
}

std::optional<std::vector<std::string>> get_names(Reader& reader) {
  if (!reader.boolean()) {
    return std::nullopt;
  }
  const std::uint64_t count = std::min<std::uint64_t>(reader.u64(), kMaxNames);
  std::vector<std::string> result;
  for (std::uint64_t i = 0; i < count; ++i) {
    result.emplace_back(reader.bytes());
  }
  return result;
}

DescribedPlugin describe_plugin(const crm_plugin_descriptor* raw) {
  DescribedPlugin plugin;
  if (raw == nullptr) {
    return plugin;
  }
  plugin.present = true;
  plugin.struct_size = struct_size_of(raw);
  const auto descriptor = read_prefix<crm_plugin_descriptor>(raw, plugin.struct_size);
  plugin.kind = descriptor.kind;
  plugin.id = text(descriptor.id);
  plugin.version = text(descriptor.version);
  plugin.description = text(descriptor.description);
  plugin.config_schema_json = text(descriptor.config_schema_json);
  plugin.capabilities = descriptor.capabilities;
  plugin.has_create = descriptor.create != nullptr;
  plugin.has_destroy = descriptor.destroy != nullptr;
  plugin.has_kind_api = descriptor.kind_api != nullptr;
  if (descriptor.kind_api == nullptr) {
    return plugin;
  }
  plugin.api_struct_size = struct_size_of(descriptor.kind_api);
  if (descriptor.kind == CRM_KIND_SCORER) {
    const auto api = read_prefix<crm_scorer_api>(descriptor.kind_api, plugin.api_struct_size);
    plugin.required_features = names(api.required_features);
    plugin.reason_codes = names(api.reason_codes);
    plugin.output_columns = names(api.output_columns);
    plugin.has_score = api.score != nullptr;
    plugin.has_train = api.train != nullptr;
    plugin.has_save_model = api.save_model != nullptr;
    plugin.has_load_model = api.load_model != nullptr;
  } else if (descriptor.kind == CRM_KIND_CONNECTOR) {
    const auto api = read_prefix<crm_connector_api>(descriptor.kind_api, plugin.api_struct_size);
    plugin.record_type_count = api.record_type_count;
    if (api.record_types != nullptr) {
      plugin.record_types.emplace(api.record_types,
                                  api.record_types + std::min<std::size_t>(api.record_type_count, kMaxRecordTypes));
    }
    plugin.has_fetch = api.fetch != nullptr;
    plugin.has_reprocess = api.reprocess != nullptr;
  } else if (descriptor.kind == CRM_KIND_CHANNEL) {
    const auto api = read_prefix<crm_channel_api>(descriptor.kind_api, plugin.api_struct_size);
    plugin.max_message_bytes = api.max_message_bytes;
    plugin.messages_per_minute = api.messages_per_minute;
    plugin.recipient_messages_per_minute = api.recipient_messages_per_minute;
    plugin.recipient_messages_per_hour = api.recipient_messages_per_hour;
    plugin.has_send = api.send != nullptr;
  }
  return plugin;
}

void check_span(const SharedArena& arena, std::uint64_t offset, std::uint64_t bytes, const char* what) {
  if (offset > arena.size() || bytes > arena.size() - offset) {
    throw ProtocolError(fmt::format("the worker placed {} outside its shared memory", what));
  }
}

}  // namespace

LibraryDescription describe_library(const crm_library* library) {
  LibraryDescription description;
  if (library == nullptr) {
    return description;
  }
  description.struct_size = struct_size_of(library);
  const auto contents = read_prefix<crm_library>(library, description.struct_size);
  description.abi_version = contents.abi_version;
  description.plugin_count = contents.plugin_count;
  description.has_plugins = contents.plugins != nullptr;
  if (contents.plugins != nullptr) {
    const std::uint64_t count = std::min<std::uint64_t>(contents.plugin_count, kMaxPluginsPerLibrary);
    for (std::uint64_t i = 0; i < count; ++i) {
      description.plugins.push_back(describe_plugin(contents.plugins[i]));
    }
  }
  return description;
}

std::string encode_description(const LibraryDescription& description) {
  Writer writer;
  writer.u32(description.struct_size).u32(description.abi_version).u64(description.plugin_count);
  writer.boolean(description.has_plugins).u64(description.plugins.size());
  for (const DescribedPlugin& plugin : description.plugins) {
    writer.boolean(plugin.present).u32(plugin.struct_size).u32(plugin.kind);
    put_text(writer, plugin.id);
    put_text(writer, plugin.version);
    put_text(writer, plugin.description);
    put_text(writer, plugin.config_schema_json);
    writer.u64(plugin.capabilities).boolean(plugin.has_create).boolean(plugin.has_destroy);
    writer.boolean(plugin.has_kind_api).u32(plugin.api_struct_size);
    put_names(writer, plugin.required_features);
    put_names(writer, plugin.reason_codes);
    put_names(writer, plugin.output_columns);
    writer.boolean(plugin.has_score).boolean(plugin.has_train).boolean(plugin.has_save_model);
    writer.boolean(plugin.has_load_model);
    writer.boolean(plugin.record_types.has_value());
    if (plugin.record_types) {
      writer.u64(plugin.record_types->size());
      for (const std::uint32_t type : *plugin.record_types) {
        writer.u32(type);
      }
    }
    writer.u64(plugin.record_type_count).boolean(plugin.has_fetch).boolean(plugin.has_reprocess);
    writer.u32(plugin.max_message_bytes).u32(plugin.messages_per_minute);
    writer.u32(plugin.recipient_messages_per_minute).u32(plugin.recipient_messages_per_hour);
    writer.boolean(plugin.has_send);
  }
  return writer.take();
}

LibraryDescription decode_description(std::string_view payload) {
  Reader reader(payload);
  LibraryDescription description;
  description.struct_size = reader.u32();
  description.abi_version = reader.u32();
  description.plugin_count = reader.u64();
  description.has_plugins = reader.boolean();
  const std::uint64_t described = std::min<std::uint64_t>(reader.u64(), kMaxPluginsPerLibrary);
  for (std::uint64_t i = 0; i < described; ++i) {
    DescribedPlugin plugin;
    plugin.present = reader.boolean();
    plugin.struct_size = reader.u32();
    plugin.kind = reader.u32();
    plugin.id = get_text(reader);
    plugin.version = get_text(reader);
    plugin.description = get_text(reader);
    plugin.config_schema_json = get_text(reader);
    plugin.capabilities = reader.u64();
    plugin.has_create = reader.boolean();
    plugin.has_destroy = reader.boolean();
    plugin.has_kind_api = reader.boolean();
    plugin.api_struct_size = reader.u32();
    plugin.required_features = get_names(reader);
    plugin.reason_codes = get_names(reader);
    plugin.output_columns = get_names(reader);
    plugin.has_score = reader.boolean();
    plugin.has_train = reader.boolean();
    plugin.has_save_model = reader.boolean();
    plugin.has_load_model = reader.boolean();
    if (reader.boolean()) {
      const std::uint64_t count = std::min<std::uint64_t>(reader.u64(), kMaxRecordTypes);
      plugin.record_types.emplace();
      for (std::uint64_t t = 0; t < count; ++t) {
        plugin.record_types->push_back(reader.u32());
      }
    }
    plugin.record_type_count = reader.u64();
    plugin.has_fetch = reader.boolean();
    plugin.has_reprocess = reader.boolean();
    plugin.max_message_bytes = reader.u32();
    plugin.messages_per_minute = reader.u32();
    plugin.recipient_messages_per_minute = reader.u32();
    plugin.recipient_messages_per_hour = reader.u32();
    plugin.has_send = reader.boolean();
    description.plugins.push_back(std::move(plugin));
  }
  return description;
}

void encode_score_layout(Writer& writer, const ScoreLayout& layout) {
  writer.u64(layout.customer_count).u64(layout.feature_count).u64(layout.output_column_count).i64(layout.as_of_ms);
  writer.u64(layout.ids).u64(layout.names).u64(layout.columns).u64(layout.scores).u64(layout.contributions);
  writer.u64(layout.reasons).u64(layout.output_columns).u64(layout.labels).i32(layout.horizon_days).u64(layout.end);
}

ScoreLayout decode_score_layout(Reader& reader) {
  ScoreLayout layout;
  layout.customer_count = reader.u64();
  layout.feature_count = reader.u64();
  layout.output_column_count = reader.u64();
  layout.as_of_ms = reader.i64();
  layout.ids = reader.u64();
  layout.names = reader.u64();
  layout.columns = reader.u64();
  layout.scores = reader.u64();
  layout.contributions = reader.u64();
  layout.reasons = reader.u64();
  layout.output_columns = reader.u64();
  layout.labels = reader.u64();
  layout.horizon_days = reader.i32();
  layout.end = reader.u64();
  return layout;
}

namespace {

// {offset, size} pairs followed by the bytes of `count` strings, from `offset` on; returns the end.
std::uint64_t place_strings(SharedArena* arena, std::uint64_t offset, const crm_str* strings, std::size_t count) {
  const std::uint64_t pairs = offset;
  std::uint64_t bytes = offset + count * 2 * sizeof(std::uint64_t);
  for (std::size_t i = 0; i < count; ++i) {
    if (arena != nullptr) {
      const std::uint64_t pair[2] = {bytes, strings[i].size};
      std::memcpy(arena->base() + pairs + i * sizeof pair, pair, sizeof pair);
      if (strings[i].size > 0) {
        std::memcpy(arena->base() + bytes, strings[i].data, strings[i].size);
      }
    }
    bytes += strings[i].size;
  }
  return align16(bytes);
}

void view_strings(const SharedArena& arena, std::uint64_t offset, std::uint64_t count, std::vector<crm_str>& out) {
  out.resize(count);
  check_span(arena, offset, count * 2 * sizeof(std::uint64_t), "strings");
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t pair[2] = {0, 0};
    std::memcpy(pair, arena.base() + offset + i * sizeof pair, sizeof pair);
    check_span(arena, pair[0], pair[1], "a string");
    out[i] = crm_str{arena.base() + pair[0], pair[1]};
  }
}

}  // namespace

ScoreLayout place_score_call(SharedArena& arena, const crm_score_input& input, const crm_score_output* output,
                             std::size_t output_column_count, const double* labels, std::int32_t horizon_days) {
  ScoreLayout layout;
  const std::uint64_t n = input.customer_count;
  const std::uint64_t k = input.feature_count;
  layout.customer_count = n;
  layout.feature_count = k;
  layout.as_of_ms = input.as_of_ms;
  layout.horizon_days = horizon_days;
  layout.ids = SharedArena::kControlBytes;
  layout.names = place_strings(nullptr, layout.ids, input.customer_ids, n);
  layout.columns = place_strings(nullptr, layout.names, input.feature_names, k);
  std::uint64_t end = align16(layout.columns + k * n * sizeof(double));
  const std::uint64_t column_bytes = n * sizeof(double);
  if (output != nullptr) {
    layout.scores = end;
    end = align16(end + column_bytes);
    if (output->contributions != nullptr) {
      layout.contributions = end;
      end = align16(end + k * column_bytes);
    }
    if (output->reasons != nullptr) {
      layout.reasons = end;
      end = align16(end + n * sizeof(std::uint64_t));
    }
    if (output->output_columns != nullptr && output_column_count > 0) {
      layout.output_column_count = output_column_count;
      layout.output_columns = end;
      end = align16(end + output_column_count * column_bytes);
    }
  }
  if (labels != nullptr) {
    layout.labels = end;
    end = align16(end + column_bytes);
  }
  layout.end = end;
  arena.reserve(end);
  place_strings(&arena, layout.ids, input.customer_ids, n);
  place_strings(&arena, layout.names, input.feature_names, k);
  for (std::uint64_t f = 0; f < k && n > 0; ++f) {
    std::memcpy(arena.base() + layout.columns + f * column_bytes, input.feature_columns[f], column_bytes);
  }
  if (output != nullptr && n > 0) {
    std::memcpy(arena.base() + layout.scores, output->scores, column_bytes);
    if (layout.contributions != 0) {
      std::memcpy(arena.base() + layout.contributions, output->contributions, k * column_bytes);
    }
    if (layout.reasons != 0) {
      std::memcpy(arena.base() + layout.reasons, output->reasons, n * sizeof(std::uint64_t));
    }
    for (std::uint64_t c = 0; c < layout.output_column_count; ++c) {
      std::memcpy(arena.base() + layout.output_columns + c * column_bytes, output->output_columns[c], column_bytes);
    }
  }
  if (labels != nullptr && n > 0) {
    std::memcpy(arena.base() + layout.labels, labels, column_bytes);
  }
  return layout;
}

void take_score_output(const SharedArena& arena, const ScoreLayout& layout, crm_score_output& output) {
  const std::uint64_t n = layout.customer_count;
  const std::uint64_t column_bytes = n * sizeof(double);
  if (n == 0) {
    return;
  }
  std::memcpy(output.scores, arena.base() + layout.scores, column_bytes);
  if (layout.contributions != 0) {
    std::memcpy(output.contributions, arena.base() + layout.contributions, layout.feature_count * column_bytes);
  }
  if (layout.reasons != 0) {
    std::memcpy(output.reasons, arena.base() + layout.reasons, n * sizeof(std::uint64_t));
  }
  for (std::uint64_t c = 0; c < layout.output_column_count; ++c) {
    std::memcpy(output.output_columns[c], arena.base() + layout.output_columns + c * column_bytes, column_bytes);
  }
}

void view_score_call(const SharedArena& arena, const ScoreLayout& layout, ScoreCallView& view) {
  const std::uint64_t n = layout.customer_count;
  const std::uint64_t k = layout.feature_count;
  check_span(arena, 0, layout.end, "a scoring call");
  view_strings(arena, layout.ids, n, view.ids);
  view_strings(arena, layout.names, k, view.names);
  view.columns.resize(k);
  for (std::uint64_t f = 0; f < k; ++f) {
    view.columns[f] = reinterpret_cast<const double*>(arena.base() + layout.columns + f * n * sizeof(double));
  }
  view.output_columns.resize(layout.output_column_count);
  for (std::uint64_t c = 0; c < layout.output_column_count; ++c) {
    view.output_columns[c] = reinterpret_cast<double*>(arena.base() + layout.output_columns + c * n * sizeof(double));
  }
  view.input = crm_score_input{};
  view.input.struct_size = sizeof(crm_score_input);
  view.input.customer_count = n;
  view.input.customer_ids = view.ids.data();
  view.input.feature_count = k;
  view.input.feature_names = view.names.data();
  view.input.feature_columns = view.columns.data();
  view.input.as_of_ms = layout.as_of_ms;
  view.output = crm_score_output{};
  view.output.struct_size = sizeof(crm_score_output);
  view.output.scores = reinterpret_cast<double*>(arena.base() + layout.scores);
  view.output.contributions =
      layout.contributions == 0 ? nullptr : reinterpret_cast<double*>(arena.base() + layout.contributions);
  view.output.reasons = layout.reasons == 0 ? nullptr : reinterpret_cast<std::uint64_t*>(arena.base() + layout.reasons);
  view.output.output_columns = layout.output_columns == 0 ? nullptr : view.output_columns.data();
}

namespace {

struct PlacedSet {
  std::uint32_t type;
  std::uint32_t record_size;
  std::uint64_t count;
  std::uint64_t records;  // 0: NULL
};

constexpr std::uint64_t kBatchHeaderBytes = 6 * sizeof(std::uint64_t);

// The text fields of a record type whose sets are large enough for the host to read (others it refuses unread).
const RecordLayout* readable_layout(const crm_record_set& set) {
  const RecordLayout* layout = record_layout(set.type);
  return layout != nullptr && set.record_size >= layout->size ? layout : nullptr;
}

}  // namespace

std::string place_batch(SharedArena& arena, const crm_batch& batch) {
  const std::size_t set_count = batch.sets == nullptr ? 0 : batch.set_count;
  if (set_count > kMaxSets) {
    return fmt::format("the batch claims {} record sets; a batch has at most one per record type", set_count);
  }
  // First pass: how much room the batch needs, refusing counts no memory could hold. The record
  // blocks come first, then every string they point at, then the cursor.
  std::uint64_t end = align16(SharedArena::kControlBytes + kBatchHeaderBytes + set_count * sizeof(PlacedSet));
  std::uint64_t string_bytes = 0;
  std::vector<PlacedSet> placed(set_count);
  for (std::size_t s = 0; s < set_count; ++s) {
    const crm_record_set& set = batch.sets[s];
    placed[s] = PlacedSet{set.type, set.record_size, set.count, 0};
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(set.count), set.record_size, &bytes) ||
        bytes > kMaxBatchBytes) {
      return fmt::format(
          "record set {} claims {} records of {} bytes, more than any batch holds; the plugin's "
          "count is wrong",
          s, set.count, set.record_size);
    }
    if (set.records == nullptr) {
      continue;
    }
    placed[s].records = end;
    end = align16(end + bytes);
    if (const RecordLayout* layout = readable_layout(set); layout != nullptr) {
      const auto* records = static_cast<const unsigned char*>(set.records);
      for (std::uint64_t i = 0; i < set.count; ++i) {
        for (const RecordField& field : *layout) {
          if (field.kind != FieldKind::text) {
            continue;
          }
          crm_str value{};
          std::memcpy(&value, records + i * set.record_size + field.offset, sizeof value);
          if (value.size > kMaxBatchBytes) {
            return fmt::format("{} record {} has a {} of {} bytes; the plugin's size is wrong", layout->name, i,
                               field.name, value.size);
          }
          string_bytes += value.data == nullptr ? 0 : value.size;
        }
      }
    }
    if (end + string_bytes > kMaxBatchBytes) {
      return "the batch is larger than a worker carries (8 GiB); send smaller batches";
    }
  }
  std::uint64_t strings = end;
  const std::uint64_t cursor_offset = strings + string_bytes;
  arena.reserve(cursor_offset + batch.next_cursor.size);

  // Second pass: copy, turning every string pointer into an offset in the arena.
  char* const base = arena.base();
  for (std::size_t s = 0; s < set_count; ++s) {
    const crm_record_set& set = batch.sets[s];
    if (placed[s].records == 0) {
      continue;
    }
    std::memcpy(base + placed[s].records, set.records, set.count * set.record_size);
    const RecordLayout* layout = readable_layout(set);
    if (layout == nullptr) {
      continue;
    }
    for (std::uint64_t i = 0; i < set.count; ++i) {
      char* record = base + placed[s].records + i * set.record_size;
      for (const RecordField& field : *layout) {
        if (field.kind != FieldKind::text) {
          continue;
        }
        crm_str value{};
        std::memcpy(&value, record + field.offset, sizeof value);
        // A size without bytes (a NULL pointer) is read as unknown, as the host's writer reads it in-process.
        crm_str moved{nullptr, value.data == nullptr ? 0 : value.size};
        if (moved.size > 0) {
          std::memcpy(base + strings, value.data, value.size);
          moved.data = reinterpret_cast<const char*>(static_cast<std::uintptr_t>(strings));
          strings += value.size;
        }
        std::memcpy(record + field.offset, &moved, sizeof moved);
      }
    }
  }
  if (batch.next_cursor.size > 0) {
    std::memcpy(base + cursor_offset, batch.next_cursor.data, batch.next_cursor.size);
  }
  const std::uint64_t header[6] = {set_count,
                                   batch.sets == nullptr ? 0 : std::uint64_t{1},
                                   cursor_offset,
                                   batch.next_cursor.size,
                                   batch.has_more ? std::uint64_t{1} : 0,
                                   batch.source_records};
  std::memcpy(base + SharedArena::kControlBytes, header, sizeof header);
  if (!placed.empty()) {
    std::memcpy(base + SharedArena::kControlBytes + sizeof header, placed.data(), placed.size() * sizeof(PlacedSet));
  }
  return {};
}

void take_batch(const SharedArena& arena, HostBatch& storage, crm_batch& out) {
  std::uint64_t header[6] = {};
  check_span(arena, SharedArena::kControlBytes, sizeof header, "a batch");
  std::memcpy(header, arena.base() + SharedArena::kControlBytes, sizeof header);
  const std::uint64_t set_count = header[0];
  if (set_count > kMaxSets) {
    throw ProtocolError("the worker sent a batch with more record sets than any batch has");
  }
  std::vector<PlacedSet> placed(set_count);
  check_span(arena, SharedArena::kControlBytes + sizeof header, set_count * sizeof(PlacedSet), "a batch");
  if (set_count > 0) {
    std::memcpy(placed.data(), arena.base() + SharedArena::kControlBytes + sizeof header,
                set_count * sizeof(PlacedSet));
  }
  storage.sets.clear();
  storage.records.resize(set_count);
  for (std::uint64_t s = 0; s < set_count; ++s) {
    const PlacedSet& set = placed[s];
    crm_record_set view{set.type, set.record_size, static_cast<std::size_t>(set.count), nullptr};
    if (set.records != 0) {
      std::uint64_t bytes = 0;
      if (__builtin_mul_overflow(set.count, static_cast<std::uint64_t>(set.record_size), &bytes)) {
        throw ProtocolError("the worker sent a record set larger than memory");
      }
      check_span(arena, set.records, bytes, "records");
      std::vector<std::uint64_t>& copy = storage.records[s];
      copy.assign((bytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t), 0);
      if (bytes > 0) {
        std::memcpy(copy.data(), arena.base() + set.records, bytes);
      }
      auto* records = reinterpret_cast<char*>(copy.data());
      view.records = records;
      const bool aligned = set.record_size % alignof(std::uint64_t) == 0;
      if (const RecordLayout* layout = readable_layout(view); layout != nullptr && aligned) {
        for (std::uint64_t i = 0; i < set.count; ++i) {
          char* record = records + i * set.record_size;
          for (const RecordField& field : *layout) {
            if (field.kind != FieldKind::text) {
              continue;
            }
            crm_str value{};
            std::memcpy(&value, record + field.offset, sizeof value);
            if (value.size > 0) {
              const auto offset = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(value.data));
              check_span(arena, offset, value.size, "a string");
              value.data = arena.base() + offset;
            } else {
              value.data = nullptr;
            }
            std::memcpy(record + field.offset, &value, sizeof value);
          }
        }
      } else if (layout != nullptr) {
        throw ProtocolError(
            fmt::format("the worker sent {} records of {} bytes, not a multiple of 8", layout->name, set.record_size));
      }
    }
    storage.sets.push_back(view);
  }
  out.set_count = static_cast<std::size_t>(set_count);
  out.sets = header[1] == 0 ? nullptr : storage.sets.data();
  check_span(arena, header[2], header[3], "the cursor");
  storage.cursor.assign(arena.base() + header[2], header[3]);
  out.next_cursor = crm_str{storage.cursor.empty() ? nullptr : storage.cursor.data(), storage.cursor.size()};
  out.has_more = header[4] != 0;
  out.source_records = header[5];
}

void encode_message(Writer& writer, const crm_channel_message& message) {
  const auto str = [](crm_str value) { return std::string_view(value.data == nullptr ? "" : value.data, value.size); };
  writer.u32(message.severity).bytes(str(message.idempotency_key)).bytes(str(message.title));
  writer.bytes(str(message.text)).bytes(str(message.markdown));
  writer.u64(message.recipient_count);
  for (std::size_t i = 0; i < message.recipient_count; ++i) {
    writer.bytes(str(message.recipients[i]));
  }
  writer.u64(message.link_count);
  for (std::size_t i = 0; i < message.link_count; ++i) {
    writer.bytes(str(message.links[i].label)).bytes(str(message.links[i].url));
  }
  writer.i64(message.created_ms).bytes(str(message.event)).bytes(str(message.labels_json));
}

void decode_message(Reader& reader, MessageView& view) {
  const auto str = [](std::string_view value) { return crm_str{value.data(), value.size()}; };
  crm_channel_message& message = view.message;
  message = crm_channel_message{};
  message.struct_size = sizeof(crm_channel_message);
  message.severity = reader.u32();
  message.idempotency_key = str(reader.bytes());
  message.title = str(reader.bytes());
  message.text = str(reader.bytes());
  message.markdown = str(reader.bytes());
  const std::uint64_t recipients = reader.u64();
  view.recipients.clear();
  for (std::uint64_t i = 0; i < recipients; ++i) {
    view.recipients.push_back(str(reader.bytes()));
  }
  const std::uint64_t links = reader.u64();
  view.links.clear();
  for (std::uint64_t i = 0; i < links; ++i) {
    const crm_str label = str(reader.bytes());
    view.links.push_back(crm_link{label, str(reader.bytes())});
  }
  message.recipients = view.recipients.data();
  message.recipient_count = view.recipients.size();
  message.links = view.links.data();
  message.link_count = view.links.size();
  message.created_ms = reader.i64();
  message.event = str(reader.bytes());
  message.labels_json = str(reader.bytes());
}

}  // namespace crm::host::worker
