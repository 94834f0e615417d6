#include "core/config.hpp"

#include <fmt/format.h>
#include <set>
#include <string>
#include <vector>

namespace crm::host {
namespace {

// Escapes one JSON Pointer token (RFC 6901).
std::string pointer_token(const std::string& token) {
  std::string escaped;
  for (const char c : token) {
    escaped += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  }
  return escaped;
}

struct DuplicateKey {
  std::string pointer;
  std::string key;
};

}  // namespace

nlohmann::json parse_config_json(std::istream& input, const std::string& source_name) {
  // JSON parsers keep the last of two equal keys; in a configuration that
  // silently drops the first setting, so a repeated key is an error.
  struct Container {
    bool is_array = false;
    std::set<std::string> keys;
    std::string key;        // the member being read, in an object
    std::size_t index = 0;  // the element being read, in an array
  };
  std::vector<Container> open;
  const auto pointer = [&open] {
    std::string text;
    for (const Container& container : open) {
      text += "/" + (container.is_array ? std::to_string(container.index) : pointer_token(container.key));
    }
    return text;
  };
  const nlohmann::json::parser_callback_t check = [&](int /*depth*/, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    switch (event) {
      case nlohmann::json::parse_event_t::object_start:
      case nlohmann::json::parse_event_t::array_start:
        open.push_back({event == nlohmann::json::parse_event_t::array_start, {}, {}, 0});
        break;
      case nlohmann::json::parse_event_t::key:
        open.back().key = parsed.get<std::string>();
        if (!open.back().keys.insert(open.back().key).second) {
          throw DuplicateKey{pointer(), open.back().key};
        }
        break;
      case nlohmann::json::parse_event_t::object_end:
      case nlohmann::json::parse_event_t::array_end:
        open.pop_back();
        [[fallthrough]];
      case nlohmann::json::parse_event_t::value:
        if (!open.empty() && open.back().is_array) {
          ++open.back().index;
        }
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(input, check);
  } catch (const nlohmann::json::parse_error& e) {
    // Not e.what(): it quotes the text last read, which could be a mistyped secret.
    throw ConfigError(fmt::format("{} is not valid JSON: syntax error near byte {}", source_name, e.byte));
  } catch (const DuplicateKey& duplicate) {
    throw ConfigError(
        fmt::format("{}: key \"{}\" appears twice at {}; JSON keeps only the last value, so remove "
                    "one of the two",
                    source_name, duplicate.key, duplicate.pointer));
  }
}

}  // namespace crm::host
