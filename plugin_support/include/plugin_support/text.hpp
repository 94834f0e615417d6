#pragma once

// Text helpers for plugins that compare what people typed with what systems
// send (e-mail addresses, charset names, yes/no columns).

#include <string>
#include <string_view>

namespace crm::plugin_support {

// `text` with A-Z lowered and every other byte (UTF-8 included) kept, whatever
// the process's locale: std::tolower would follow a locale the host may set.
inline std::string ascii_lower(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return lowered;
}

}  // namespace crm::plugin_support
