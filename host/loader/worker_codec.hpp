#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crm/channel.h"
#include "crm/connector.h"
#include "crm/plugin.h"
#include "crm/scorer.h"
#include "loader/worker_protocol.hpp"

// How the plugin API's values cross between the host and a plugin worker:
// the descriptors of a library (read once, rebuilt in the host), connector
// batches and scoring columns (placed in the SharedArena, so no record is
// copied through the socket) and channel messages (inline).
namespace crm::host::worker {

// One plugin descriptor as the worker read it: only the bytes its
// struct_size covers, the rest zero, exactly as the in-process loader reads it.
struct DescribedPlugin {
  bool present = false;  // the library's pointer was not NULL
  std::uint32_t struct_size = 0;
  std::uint32_t kind = 0;
  std::optional<std::string> id, version, description, config_schema_json;  // nullopt: NULL
  std::uint64_t capabilities = 0;
  bool has_create = false;
  bool has_destroy = false;
  bool has_kind_api = false;
  std::uint32_t api_struct_size = 0;
  // scorer (nullopt: NULL array)
  std::optional<std::vector<std::string>> required_features, reason_codes, output_columns;
  bool has_score = false, has_train = false, has_save_model = false, has_load_model = false;
  // connector
  std::optional<std::vector<std::uint32_t>> record_types;
  std::uint64_t record_type_count = 0;
  bool has_fetch = false, has_reprocess = false;
  // channel
  std::uint32_t max_message_bytes = 0, messages_per_minute = 0;
  std::uint32_t recipient_messages_per_minute = 0, recipient_messages_per_hour = 0;
  bool has_send = false;
};

struct LibraryDescription {
  std::uint32_t struct_size = 0;
  std::uint32_t abi_version = 0;
  std::uint64_t plugin_count = 0;
  bool has_plugins = false;
  std::vector<DescribedPlugin> plugins;
};

// The most plugins one library may describe; more is taken for a lying count.
inline constexpr std::uint64_t kMaxPluginsPerLibrary = 1024;

// Worker side: reads `library` (plugin memory; a lie in it may fault the worker, never the host).
LibraryDescription describe_library(const crm_library* library);
std::string encode_description(const LibraryDescription& description);
LibraryDescription decode_description(std::string_view payload);

// ---- scoring and training: columns in the arena ----

// Where a scoring (or training) call's blocks sit in the arena. The host lays
// them out and fills the inputs; the plugin writes the outputs in place.
struct ScoreLayout {
  std::uint64_t customer_count = 0;
  std::uint64_t feature_count = 0;
  std::uint64_t output_column_count = 0;
  std::int64_t as_of_ms = 0;
  std::uint64_t ids = 0;             // customer_count {offset, size} pairs, then the bytes
  std::uint64_t names = 0;           // feature_count pairs, then the bytes
  std::uint64_t columns = 0;         // feature_count * customer_count doubles, feature-major
  std::uint64_t scores = 0;          // customer_count doubles
  std::uint64_t contributions = 0;   // 0: not asked
  std::uint64_t reasons = 0;         // 0: not asked
  std::uint64_t output_columns = 0;  // 0: none; else output_column_count * customer_count doubles
  std::uint64_t labels = 0;          // training only: customer_count doubles
  std::int32_t horizon_days = 0;     // training only
  std::uint64_t end = 0;             // bytes of the arena the layout needs
};
void encode_score_layout(Writer& writer, const ScoreLayout& layout);
ScoreLayout decode_score_layout(Reader& reader);

// Host side: lays out `input` (and, for scoring, `output`'s arrays) and copies them into the arena.
ScoreLayout place_score_call(SharedArena& arena, const crm_score_input& input, const crm_score_output* output,
                             std::size_t output_column_count, const double* labels, std::int32_t horizon_days);
// Host side: copies what the plugin wrote in the arena back to the caller's output.
void take_score_output(const SharedArena& arena, const ScoreLayout& layout, crm_score_output& output);

// Worker side: the input and output views of a layout, pointing into the arena.
struct ScoreCallView {
  std::vector<crm_str> ids;
  std::vector<crm_str> names;
  std::vector<const double*> columns;
  std::vector<double*> output_columns;
  crm_score_input input{};
  crm_score_output output{};
};
void view_score_call(const SharedArena& arena, const ScoreLayout& layout, ScoreCallView& view);

// ---- connector batches: records in the arena ----

// Worker side: copies the batch (record structs and every string they point
// at) into the arena. Returns "" or why the batch cannot be carried (a lie:
// a count no memory holds, a string with a size but no bytes).
std::string place_batch(SharedArena& arena, const crm_batch& batch);

// What take_batch keeps of a batch in host memory: the record structs (and the
// cursor) are copied out of the arena before they are checked, so nothing the
// worker writes later changes what the host checked; the strings stay in the
// arena, bounds-checked, where only their bytes could still change.
struct HostBatch {
  std::vector<crm_record_set> sets;
  std::vector<std::vector<std::uint64_t>> records;  // 8-byte aligned copies, one per set
  std::string cursor;
};
// Host side: the batch in the arena as a crm_batch valid in this process, pointing into
// `storage` and the arena: valid until the next call. Throws ProtocolError for anything
// out of bounds.
void take_batch(const SharedArena& arena, HostBatch& storage, crm_batch& out);

// ---- channel messages, inline ----
void encode_message(Writer& writer, const crm_channel_message& message);

// Worker side: a decoded message whose strings point into the frame's payload.
struct MessageView {
  std::vector<crm_str> recipients;
  std::vector<crm_link> links;
  crm_channel_message message{};
};
void decode_message(Reader& reader, MessageView& view);

}  // namespace crm::host::worker
