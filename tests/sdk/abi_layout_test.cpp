// Freezes the layout of every struct that crosses the plugin boundary (LP64).
// A failure here means an ABI break: append fields at the end instead, and
// bump CRM_ABI_VERSION_MINOR.
#include <cstddef>
#include <gtest/gtest.h>

#include "crm/crm.h"

namespace {

static_assert(sizeof(void*) == 8, "the frozen layout below is for LP64 platforms");

static_assert(sizeof(crm_str) == 16 && offsetof(crm_str, size) == 8);
static_assert(sizeof(crm_buffer) == 24 && offsetof(crm_buffer, capacity) == 8 && offsetof(crm_buffer, size) == 16);
static_assert(sizeof(crm_error) == 16 && offsetof(crm_error, capacity) == 8);

static_assert(offsetof(crm_host, struct_size) == 0);
static_assert(offsetof(crm_host, abi_version) == 4);
static_assert(offsetof(crm_host, context) == 8);
static_assert(offsetof(crm_host, log) == 16);
static_assert(offsetof(crm_host, now_ms) == 24);
static_assert(offsetof(crm_host, config_get) == 32);
static_assert(offsetof(crm_host, secret_get) == 40);
static_assert(offsetof(crm_host, checkpoint_read) == 48);
static_assert(offsetof(crm_host, checkpoint_write) == 56);
static_assert(offsetof(crm_host, report_bad_record) == 64);
static_assert(offsetof(crm_host, is_cancelled) == 72);
static_assert(offsetof(crm_host, config_get_string) == 80);         // 1.2
static_assert(offsetof(crm_host, config_get_int) == 88);            // 1.2
static_assert(offsetof(crm_host, config_get_number) == 96);         // 1.2
static_assert(offsetof(crm_host, config_get_bool) == 104);          // 1.2
static_assert(offsetof(crm_host, config_get_array_length) == 112);  // 1.2
static_assert(offsetof(crm_host, state_get) == 120);                // 1.3
static_assert(offsetof(crm_host, state_put) == 128);                // 1.3
static_assert(offsetof(crm_host, state_delete) == 136);             // 1.3
static_assert(offsetof(crm_host, state_next) == 144);               // 1.3
static_assert(sizeof(crm_host) == 152);

static_assert(offsetof(crm_plugin_descriptor, struct_size) == 0);
static_assert(offsetof(crm_plugin_descriptor, kind) == 4);
static_assert(offsetof(crm_plugin_descriptor, id) == 8);
static_assert(offsetof(crm_plugin_descriptor, version) == 16);
static_assert(offsetof(crm_plugin_descriptor, description) == 24);
static_assert(offsetof(crm_plugin_descriptor, config_schema_json) == 32);
static_assert(offsetof(crm_plugin_descriptor, capabilities) == 40);
static_assert(offsetof(crm_plugin_descriptor, create) == 48);
static_assert(offsetof(crm_plugin_descriptor, destroy) == 56);
static_assert(offsetof(crm_plugin_descriptor, kind_api) == 64);
static_assert(sizeof(crm_plugin_descriptor) == 72);

static_assert(offsetof(crm_library, struct_size) == 0);
static_assert(offsetof(crm_library, abi_version) == 4);
static_assert(offsetof(crm_library, plugin_count) == 8);
static_assert(offsetof(crm_library, plugins) == 16);
static_assert(sizeof(crm_library) == 24);

static_assert(offsetof(crm_scorer_api, struct_size) == 0);
static_assert(offsetof(crm_scorer_api, required_features) == 8);
static_assert(offsetof(crm_scorer_api, score) == 16);
static_assert(offsetof(crm_scorer_api, reason_codes) == 24);    // 1.1
static_assert(offsetof(crm_scorer_api, output_columns) == 32);  // 1.1
static_assert(offsetof(crm_scorer_api, train) == 40);           // 1.1
static_assert(offsetof(crm_scorer_api, save_model) == 48);      // 1.1
static_assert(offsetof(crm_scorer_api, load_model) == 56);      // 1.1
static_assert(sizeof(crm_scorer_api) == 64);

static_assert(offsetof(crm_score_input, struct_size) == 0);
static_assert(offsetof(crm_score_input, customer_count) == 8);
static_assert(offsetof(crm_score_input, customer_ids) == 16);
static_assert(offsetof(crm_score_input, feature_count) == 24);
static_assert(offsetof(crm_score_input, feature_names) == 32);
static_assert(offsetof(crm_score_input, feature_columns) == 40);
static_assert(offsetof(crm_score_input, as_of_ms) == 48);
static_assert(sizeof(crm_score_input) == 56);

static_assert(offsetof(crm_score_output, scores) == 8);
static_assert(offsetof(crm_score_output, contributions) == 16);
static_assert(offsetof(crm_score_output, reasons) == 24);         // 1.1
static_assert(offsetof(crm_score_output, output_columns) == 32);  // 1.1
static_assert(sizeof(crm_score_output) == 40);

static_assert(offsetof(crm_train_input, struct_size) == 0);  // 1.1
static_assert(offsetof(crm_train_input, features) == 8);
static_assert(offsetof(crm_train_input, churned) == 16);
static_assert(offsetof(crm_train_input, horizon_days) == 24);
static_assert(sizeof(crm_train_input) == 32);

// crm/channel.h, since 1.1.
static_assert(sizeof(crm_link) == 32);
static_assert(offsetof(crm_channel_message, struct_size) == 0);
static_assert(offsetof(crm_channel_message, severity) == 4);
static_assert(offsetof(crm_channel_message, idempotency_key) == 8);
static_assert(offsetof(crm_channel_message, title) == 24);
static_assert(offsetof(crm_channel_message, text) == 40);
static_assert(offsetof(crm_channel_message, markdown) == 56);
static_assert(offsetof(crm_channel_message, recipients) == 72);
static_assert(offsetof(crm_channel_message, recipient_count) == 80);
static_assert(offsetof(crm_channel_message, links) == 88);
static_assert(offsetof(crm_channel_message, link_count) == 96);
static_assert(offsetof(crm_channel_message, created_ms) == 104);
static_assert(offsetof(crm_channel_message, event) == 112);
static_assert(offsetof(crm_channel_message, labels_json) == 128);
static_assert(sizeof(crm_channel_message) == 144);
static_assert(offsetof(crm_channel_result, recipient_failed) == 8);
static_assert(offsetof(crm_channel_result, retry_after_ms) == 16);
static_assert(sizeof(crm_channel_result) == 24);
static_assert(offsetof(crm_channel_api, max_message_bytes) == 4);
static_assert(offsetof(crm_channel_api, messages_per_minute) == 8);
static_assert(offsetof(crm_channel_api, send) == 16);
static_assert(offsetof(crm_channel_api, recipient_messages_per_minute) == 24);  // 1.3
static_assert(offsetof(crm_channel_api, recipient_messages_per_hour) == 28);    // 1.3
static_assert(sizeof(crm_channel_api) == 32);

// Constants are part of the ABI too.
static_assert(CRM_STATUS_OK == 0 && CRM_STATUS_CONFIG == 1 && CRM_STATUS_RETRIABLE == 2 && CRM_STATUS_DATA == 3 &&
              CRM_STATUS_FATAL == 4 && CRM_STATUS_NOT_FOUND == 5 && CRM_STATUS_BUFFER_TOO_SMALL == 6 &&
              CRM_STATUS_UNSUPPORTED == 7 && CRM_STATUS_CANCELLED == 8 && CRM_STATUS_WRONG_TYPE == 9 &&
              CRM_STATUS_INVALID_ARGUMENT == 10);
static_assert(CRM_ABI_VERSION_MAJOR == 1 && CRM_ABI_VERSION_MINOR == 4);
// Code that does not choose a target gets the headers' own version.
static_assert(CRM_TARGET_ABI_MINOR == CRM_ABI_VERSION_MINOR && CRM_TARGET_ABI_VERSION == CRM_ABI_VERSION);
static_assert(CRM_KIND_CONNECTOR == 1 && CRM_KIND_SCORER == 2 && CRM_KIND_CHANNEL == 3);
static_assert(CRM_CAP_THREAD_SAFE == 1 && CRM_CAP_EXPLAIN == 2 && CRM_CAP_INCREMENTAL == 4);
static_assert(CRM_ABI_PACK(1, 2) == 0x00010002U && CRM_ABI_MAJOR_OF(0x00030004U) == 3 &&
              CRM_ABI_MINOR_OF(0x00030004U) == 4);

TEST(AbiLayout, HostHasSeesOnlyTheFieldsASizeCovers) {
  crm_host host{};
  host.struct_size = offsetof(crm_host, secret_get);  // as if built by a host that stopped at config_get
  EXPECT_TRUE(CRM_HOST_HAS(&host, crm_host, config_get));
  EXPECT_FALSE(CRM_HOST_HAS(&host, crm_host, secret_get));
  host.struct_size = sizeof(crm_host);
  EXPECT_TRUE(CRM_HOST_HAS(&host, crm_host, is_cancelled));
  // A 1.1 host's table ends at is_cancelled: the 1.2 getters are not there.
  host.struct_size = offsetof(crm_host, config_get_string);
  EXPECT_TRUE(CRM_HOST_HAS(&host, crm_host, is_cancelled));
  EXPECT_FALSE(CRM_HOST_HAS(&host, crm_host, config_get_string));
}

}  // namespace
