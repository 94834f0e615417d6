// The C++ layer's guarantees: UTF-8-safe truncation, exceptions turned into
// status classes, and the buffer protocol of host services.
#include <gtest/gtest.h>
#include <string>

#include "crm/plugin.hpp"

namespace {

TEST(CrmErrorSet, TruncatesAtACharacterBoundary) {
  char storage[8];
  crm_error error{storage, sizeof storage};
  // "投诉" is 6 bytes; with room for 7 bytes "ab" + "投" fits, "诉" would be cut in half.
  EXPECT_EQ(crm_error_set(&error, CRM_STATUS_DATA, "ab投诉"), CRM_STATUS_DATA);
  EXPECT_STREQ(storage, "ab投");
  EXPECT_EQ(crm_error_set(nullptr, CRM_STATUS_FATAL, "ignored"), CRM_STATUS_FATAL);
  crm_error empty{nullptr, 0};
  EXPECT_EQ(crm_error_set(&empty, CRM_STATUS_CONFIG, "ignored"), CRM_STATUS_CONFIG);
}

TEST(CppLayerGuard, MapsExceptionsToStatusClasses) {
  crm::ErrorBuffer error;
  EXPECT_EQ(crm::detail::guard(error.get(), [] { throw crm::ConfigError("url is required"); }), CRM_STATUS_CONFIG);
  EXPECT_EQ(error.message(), "url is required");
  EXPECT_EQ(crm::detail::guard(error.get(), [] { throw crm::RetriableError("503"); }), CRM_STATUS_RETRIABLE);
  EXPECT_EQ(crm::detail::guard(error.get(), [] { throw crm::DataError("row 3"); }), CRM_STATUS_DATA);
  EXPECT_EQ(crm::detail::guard(error.get(), [] { throw std::out_of_range("index 9"); }), CRM_STATUS_FATAL);
  EXPECT_EQ(error.message(), "unexpected exception: index 9");
  EXPECT_EQ(crm::detail::guard(error.get(), [] { throw 42; }), CRM_STATUS_FATAL);
  EXPECT_EQ(error.message(), "unexpected exception of unknown type");
  EXPECT_EQ(crm::detail::guard(error.get(), [] {}), CRM_STATUS_OK);
}

// A host whose config value is longer than the layer's first buffer.
std::string g_long_value;

crm_status long_config_get(crm_host_context* /*context*/, crm_str /*pointer*/, crm_buffer* out) {
  out->size = g_long_value.size();
  if (out->capacity < g_long_value.size()) {
    return CRM_STATUS_BUFFER_TOO_SMALL;
  }
  g_long_value.copy(out->data, g_long_value.size());
  return CRM_STATUS_OK;
}

crm_status not_found(crm_host_context* /*context*/, crm_str /*pointer*/, crm_buffer* /*out*/) {
  return CRM_STATUS_NOT_FOUND;
}

TEST(CppLayerHost, GrowsItsBufferToTheSizeTheHostAsksFor) {
  g_long_value = "\"" + std::string(5000, 'x') + "\"";
  crm_host table{};
  table.struct_size = sizeof table;
  table.config_get = long_config_get;
  table.secret_get = not_found;
  const crm::Host host(&table);
  EXPECT_EQ(host.config("/long"), g_long_value);
  EXPECT_EQ(host.secret("/missing"), std::nullopt);
}

}  // namespace

TEST(Utf8Truncation, NeverCutsInsideACharacterAndKeepsTheMarkerWithinTheLimit) {
  const std::string text = "客户流失预警 churn";  // 6 three-byte characters, a space, 5 ASCII
  EXPECT_EQ(crm::utf8_prefix(text, 100), text);
  EXPECT_EQ(crm::utf8_prefix(text, 3), "客");
  EXPECT_EQ(crm::utf8_prefix(text, 5), "客");  // the second character does not fit whole
  EXPECT_EQ(crm::utf8_prefix(text, 2), "");
  for (std::size_t limit = 1; limit <= text.size(); ++limit) {
    const std::string cut = crm::truncate_utf8(text, limit, "…");
    EXPECT_LE(cut.size(), limit);
    // Every lead byte is followed by all its continuation bytes.
    for (std::size_t i = 0; i < cut.size();) {
      const auto lead = static_cast<unsigned char>(cut[i]);
      const std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
      ASSERT_LE(i + length, cut.size()) << "cut inside a character at limit " << limit;
      i += length;
    }
  }
  EXPECT_EQ(crm::truncate_utf8(text, 8, "…"), "客…");  // 5 bytes left for text hold one character, not 1.67
  EXPECT_EQ(crm::truncate_utf8(text, 0, "…"), text);   // 0: no limit
}
