// The typed configuration getters of SDK 1.2 (crm/host.h), through the host's
// real services table, from C (the function pointers) and from the C++ layer
// (crm::Host): every type, every status, RFC 6901 escapes and array items.
#include "loader/host_services.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>

#include "crm/plugin.hpp"
#include "store/store.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/test_host.hpp"

namespace crm::host {
namespace {

class TypedConfigTest : public ::testing::Test {
 protected:
  TypedConfigTest()
      : services_(HostServicesDeps{test_.logger(), test_.clock(), test_.state(), test_.cancelled()}, "probe",
                  nlohmann::json::parse(R"({
                    "name": "Zhōngguó 中国", "empty": "", "port": 587, "big": 18446744073709551615,
                    "whole": 5.0, "ratio": 0.25, "negative": -12, "on": true, "nothing": null,
                    "hosts": ["a.example", "b.example"], "smtp": {"port": 25}, "a/b": 1, "m~n": 2,
                    "token": {"env": "SMTP_TOKEN"}})"),
                  {{"/token", "s3cret"}}),
        table_(services_.table()) {}

  crm_status get_int(const char* pointer, std::int64_t* out) {
    return table_->config_get_int(table_->context, crm_str{pointer, std::strlen(pointer)}, out);
  }
  crm_status get_string(const char* pointer, crm_buffer* out) {
    return table_->config_get_string(table_->context, crm_str{pointer, std::strlen(pointer)}, out);
  }

  testing::TestHost test_;
  PluginServices services_;
  const crm_host* table_;
};

TEST_F(TypedConfigTest, TheHostTableIsThe12OneWithEveryGetter) {
  EXPECT_EQ(table_->abi_version, CRM_ABI_VERSION);
  EXPECT_TRUE(CRM_HOST_HAS(table_, crm_host, config_get_array_length));
  EXPECT_NE(table_->config_get_string, nullptr);
  EXPECT_NE(table_->config_get_int, nullptr);
  EXPECT_NE(table_->config_get_number, nullptr);
  EXPECT_NE(table_->config_get_bool, nullptr);
  EXPECT_NE(table_->config_get_array_length, nullptr);
}

TEST_F(TypedConfigTest, IntegersFromC) {
  std::int64_t value = -1;
  EXPECT_EQ(get_int("/port", &value), CRM_STATUS_OK);
  EXPECT_EQ(value, 587);
  EXPECT_EQ(get_int("/negative", &value), CRM_STATUS_OK);
  EXPECT_EQ(value, -12);
  EXPECT_EQ(get_int("/whole", &value), CRM_STATUS_OK);  // 5.0 is an integer, as in JSON Schema
  EXPECT_EQ(value, 5);
  EXPECT_EQ(get_int("/smtp/port", &value), CRM_STATUS_OK);
  EXPECT_EQ(value, 25);
  EXPECT_EQ(get_int("/a~1b", &value), CRM_STATUS_OK);  // "~1" is "/"
  EXPECT_EQ(value, 1);
  EXPECT_EQ(get_int("/m~0n", &value), CRM_STATUS_OK);  // "~0" is "~"
  EXPECT_EQ(value, 2);
  value = 77;
  EXPECT_EQ(get_int("/ratio", &value), CRM_STATUS_WRONG_TYPE);
  EXPECT_EQ(get_int("/big", &value), CRM_STATUS_WRONG_TYPE);  // beyond int64_t
  EXPECT_EQ(get_int("/name", &value), CRM_STATUS_WRONG_TYPE);
  EXPECT_EQ(get_int("/on", &value), CRM_STATUS_WRONG_TYPE);
  EXPECT_EQ(value, 77) << "out is untouched unless OK";
  EXPECT_EQ(get_int("/missing", &value), CRM_STATUS_NOT_FOUND);
  EXPECT_EQ(get_int("/nothing", &value), CRM_STATUS_NOT_FOUND);  // null counts as absent
  EXPECT_EQ(get_int("/hosts/7", &value), CRM_STATUS_NOT_FOUND);
  EXPECT_EQ(get_int("port", &value), CRM_STATUS_INVALID_ARGUMENT);  // not RFC 6901
  EXPECT_EQ(get_int("/m~2n", &value), CRM_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(get_int("/port", nullptr), CRM_STATUS_INVALID_ARGUMENT);
}

// nlohmann throws out_of_range from contains() for an index past size_t; the
// shielded service turned that into FATAL (and an ERROR line) for a plain miss.
TEST_F(TypedConfigTest, AnArrayIndexOfAnySizeOrFormThatIsNotThereIsNotFound) {
  std::int64_t value = 0;
  crm_buffer buffer{};
  std::size_t length = 0;
  for (const char* pointer :
       {"/hosts/99999999999999999999", "/hosts/18446744073709551616", "/hosts/18446744073709551615",
        "/hosts/99999999999999999999/port", "/hosts/-", "/hosts/01", "/hosts/x", "/hosts/+1", "/hosts/-1"}) {
    EXPECT_EQ(get_int(pointer, &value), CRM_STATUS_NOT_FOUND) << pointer;
    EXPECT_EQ(get_string(pointer, &buffer), CRM_STATUS_NOT_FOUND) << pointer;
    EXPECT_EQ(table_->config_get_array_length(table_->context, crm_str{pointer, std::strlen(pointer)}, &length),
              CRM_STATUS_NOT_FOUND)
        << pointer;
  }
}

TEST_F(TypedConfigTest, StringsFromCFollowTheBufferProtocol) {
  char storage[64];
  crm_buffer probe{nullptr, 0, 0};
  EXPECT_EQ(get_string("/name", &probe), CRM_STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(probe.size, std::string("Zhōngguó 中国").size());
  crm_buffer small{storage, 3, 0};
  EXPECT_EQ(get_string("/name", &small), CRM_STATUS_BUFFER_TOO_SMALL);
  crm_buffer buffer{storage, sizeof storage, 0};
  EXPECT_EQ(get_string("/name", &buffer), CRM_STATUS_OK);
  EXPECT_EQ(std::string(storage, buffer.size), "Zhōngguó 中国");  // unescaped UTF-8, no quotes
  EXPECT_EQ(get_string("/hosts/1", &buffer), CRM_STATUS_OK);
  EXPECT_EQ(std::string(storage, buffer.size), "b.example");
  EXPECT_EQ(get_string("/empty", &probe), CRM_STATUS_OK);
  EXPECT_EQ(probe.size, 0U);
  EXPECT_EQ(get_string("/port", &buffer), CRM_STATUS_WRONG_TYPE);
  // A secret is its reference here, an object: secret_get is the way to its value.
  EXPECT_EQ(get_string("/token", &buffer), CRM_STATUS_WRONG_TYPE);
  EXPECT_EQ(get_string("/missing", &buffer), CRM_STATUS_NOT_FOUND);
}

TEST_F(TypedConfigTest, NumbersBooleansAndArrayLengthsFromC) {
  double number = 0;
  EXPECT_EQ(table_->config_get_number(table_->context, CRM_STR_LITERAL("/ratio"), &number), CRM_STATUS_OK);
  EXPECT_DOUBLE_EQ(number, 0.25);
  EXPECT_EQ(table_->config_get_number(table_->context, CRM_STR_LITERAL("/port"), &number), CRM_STATUS_OK);
  EXPECT_DOUBLE_EQ(number, 587.0);
  EXPECT_EQ(table_->config_get_number(table_->context, CRM_STR_LITERAL("/on"), &number), CRM_STATUS_WRONG_TYPE);
  bool flag = false;
  EXPECT_EQ(table_->config_get_bool(table_->context, CRM_STR_LITERAL("/on"), &flag), CRM_STATUS_OK);
  EXPECT_TRUE(flag);
  EXPECT_EQ(table_->config_get_bool(table_->context, CRM_STR_LITERAL("/port"), &flag), CRM_STATUS_WRONG_TYPE);
  std::size_t length = 0;
  EXPECT_EQ(table_->config_get_array_length(table_->context, CRM_STR_LITERAL("/hosts"), &length), CRM_STATUS_OK);
  EXPECT_EQ(length, 2U);
  EXPECT_EQ(table_->config_get_array_length(table_->context, CRM_STR_LITERAL("/smtp"), &length), CRM_STATUS_WRONG_TYPE);
  EXPECT_EQ(table_->config_get_array_length(table_->context, CRM_STR_LITERAL("/nope"), &length), CRM_STATUS_NOT_FOUND);
}

TEST_F(TypedConfigTest, TheCppLayerReturnsValuesNulloptOrAConfigErrorNamingThePointer) {
  const crm::Host host(table_);
  EXPECT_EQ(host.config_string("/name"), "Zhōngguó 中国");
  EXPECT_EQ(host.config_int("/smtp/port"), 25);
  EXPECT_EQ(host.config_number("/ratio"), 0.25);
  EXPECT_EQ(host.config_bool("/on"), true);
  EXPECT_EQ(host.config_array_length("/hosts"), 2U);
  EXPECT_EQ(host.config_int("/missing"), std::nullopt);
  EXPECT_EQ(host.config_string("/nothing"), std::nullopt);
  try {
    (void)host.config_int("/ratio");
    FAIL() << "a fraction is not an integer";
  } catch (const crm::ConfigError& e) {
    EXPECT_STREQ(e.what(), "configuration value /ratio is not an integer");
  }
  EXPECT_THROW((void)host.config_string("/port"), crm::ConfigError);
  try {
    (void)host.config_bool("on");
    FAIL() << "a pointer without a leading / is malformed";
  } catch (const crm::Error& e) {
    EXPECT_EQ(e.status(), CRM_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(), "\"on\" is not a JSON pointer (RFC 6901: \"\" or \"/name\")");
  }
}

TEST_F(TypedConfigTest, TheCppLayerSaysUnsupportedOnAHostTableWithoutTheGetters) {
  crm_host older = *table_;
  older.struct_size = offsetof(crm_host, config_get_string);  // a 1.1 host's table
  const crm::Host host(&older);
  try {
    (void)host.config_int("/port");
    FAIL() << "a 1.1 host has no typed getters";
  } catch (const crm::Error& e) {
    EXPECT_EQ(e.status(), CRM_STATUS_UNSUPPORTED);
  }
  EXPECT_EQ(host.config("/port"), "587");  // the 1.0 service still works
}

// Plugin state (SDK 1.3) through the host's table into the real store, on both backends.
class PluginStateTest : public ::testing::Test {
 protected:
  PluginStateTest()
      : dir_("plugin-state"),
        store_(testing::store_locator(dir_ / "crm.db")),
        services_(HostServicesDeps{test_.logger(), test_.clock(), store_, test_.cancelled()}, "im_wecom",
                  nlohmann::json::object(), {}),
        host_(services_.table()) {}

  std::vector<std::string> keys() const {
    std::vector<std::string> found;
    for (auto key = host_.next_state_key(""); key; key = host_.next_state_key(*key)) {
      found.push_back(*key);
    }
    return found;
  }

  testing::TestHost test_;
  testing::TempDir dir_;
  Store store_;
  PluginServices services_;
  crm::Host host_;
};

TEST_F(PluginStateTest, KeysAndValuesAreBytesWalkedInBytewiseOrder) {
  EXPECT_TRUE(CRM_HOST_HAS(services_.table(), crm_host, state_next));
  const std::string binary("v\0\xff\x01", 4);
  host_.put_state("c/b", binary);
  host_.put_state("c/\xc3\xa9", "é");  // UTF-8 bytes sort after ASCII, whatever the database's collation
  host_.put_state("c/a", "1");
  host_.put_state("c/A", "2");
  host_.put_state("u/0", "");
  EXPECT_EQ(host_.state("c/b"), binary);
  EXPECT_EQ(host_.state("u/0"), std::optional<std::string>(""));
  EXPECT_EQ(host_.state("c/z"), std::nullopt);
  EXPECT_EQ(keys(), (std::vector<std::string>{"c/A", "c/a", "c/b", "c/\xc3\xa9", "u/0"}));
  host_.put_state("c/a", "3");
  host_.delete_state("c/b");
  host_.delete_state("c/never");
  EXPECT_EQ(host_.state("c/a"), "3");
  EXPECT_EQ(keys(), (std::vector<std::string>{"c/A", "c/a", "c/\xc3\xa9", "u/0"}));
  EXPECT_EQ(host_.next_state_key("c/\xff"), "u/0");
  EXPECT_EQ(services_.table()->state_put(services_.table()->context, crm_str{nullptr, 0}, crm_str{"x", 1}),
            CRM_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(store_.read_state("other_plugin", "c/a"), std::nullopt) << "each plugin has its own";
}

TEST_F(PluginStateTest, HeldWritesAreSeenByTheirCallAndReachTheStoreOnlyWhenCommitted) {
  host_.put_state("c/1", "stored");
  host_.put_state("c/3", "stored");
  PluginServices::PendingState pending;
  services_.hold_state_writes(&pending);
  host_.put_state("c/2", "held");
  host_.delete_state("c/3");
  host_.put_state("c/1", "changed");
  EXPECT_EQ(host_.state("c/2"), "held");
  EXPECT_EQ(host_.state("c/3"), std::nullopt);
  EXPECT_EQ(host_.state("c/1"), "changed");
  EXPECT_EQ(keys(), (std::vector<std::string>{"c/1", "c/2"}));
  services_.hold_state_writes(nullptr);
  EXPECT_EQ(keys(), (std::vector<std::string>{"c/1", "c/3"})) << "nothing held reached the store";
  EXPECT_EQ(host_.state("c/1"), "stored");
  EXPECT_EQ(pending.size(), 3U);
}

}  // namespace
}  // namespace crm::host
