// The validator against the official JSON-Schema-Test-Suite (Debian package
// json-schema-test-suite), draft 7. Every case whose schema stays inside the
// supported subset must pass; the cases outside it ($ref, definitions) are
// counted, and the validator must refuse their schemas rather than guess.
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>

#include "core/json_schema.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;

struct SuiteCounts {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
};

// Files whose subject is a keyword the validator deliberately does not implement.
const std::set<std::string> kUnsupportedFiles = {"ref.json", "refRemote.json", "definitions.json"};

TEST(JsonSchemaSuite, Draft7KeywordsPassTheOfficialSuite) {
  const fs::path suite_dir = CRM_JSON_SCHEMA_SUITE_DIR;
  ASSERT_TRUE(fs::is_directory(suite_dir)) << suite_dir << " is missing: apt-get install json-schema-test-suite";
  std::map<std::string, SuiteCounts> counts;
  std::vector<std::string> failures;
  for (const auto& entry : fs::directory_iterator(suite_dir)) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    const std::string file = entry.path().filename().string();
    std::ifstream input(entry.path());
    const auto groups = nlohmann::json::parse(input);
    SuiteCounts& count = counts[file];
    for (const auto& group : groups) {
      std::optional<JsonSchema> schema;
      try {
        schema.emplace(group.at("schema"));
      } catch (const SchemaError&) {
        count.skipped += static_cast<int>(group.at("tests").size());
        continue;
      }
      for (const auto& test : group.at("tests")) {
        const bool expected = test.at("valid").get<bool>();
        if (schema->is_valid(test.at("data")) == expected) {
          ++count.passed;
        } else {
          ++count.failed;
          failures.push_back(fmt::format("{} / {} / {}: expected {}", file, group.at("description").get<std::string>(),
                                         test.at("description").get<std::string>(), expected ? "valid" : "invalid"));
        }
      }
    }
  }
  int passed = 0;
  int skipped = 0;
  for (const auto& [file, count] : counts) {
    passed += count.passed;
    skipped += count.skipped;
    if (kUnsupportedFiles.count(file) == 0) {
      EXPECT_GT(count.passed, 0) << file << " ran no case";
      EXPECT_EQ(count.skipped, 0) << file << " is about a supported keyword, yet some of its schemas were refused";
    }
    std::cout << fmt::format("  {:<28} passed {:>3}  failed {:>2}  skipped {:>2}\n", file, count.passed, count.failed,
                             count.skipped);
  }
  std::cout << fmt::format("  draft7: {} passed, {} failed, {} skipped (schemas outside the subset)\n", passed,
                           failures.size(), skipped);
  for (const std::string& failure : failures) {
    ADD_FAILURE() << failure;
  }
  EXPECT_GE(counts.size(), 30U) << "the suite should hold the draft-7 keyword files";
}

}  // namespace
}  // namespace crm::host
