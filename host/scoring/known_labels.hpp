#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scoring/settings.hpp"

namespace crm::host {

// The reason codes and features the host knows, in plain words: the health
// scorer's rules (domain.md section 3), the RFM reasons and the features of
// host/scoring/features.cpp. One table for `explain`, the alerts' texts and
// the default list of reasons that raise alerts of their own.
struct KnownLabel {
  std::string_view code;
  std::string_view plain_words;
  bool churn_signal;  // a rule signal of domain.md section 3: raises an alert by default
};

const std::vector<KnownLabel>& known_labels();

// The configuration's label for `key` (scoring.labels), else the table's plain words, else `key`.
std::string plain_label(const ScoringSettings& settings, const std::string& key);

// The codes marked churn_signal, in table order.
std::vector<std::string> default_signal_reasons();

}  // namespace crm::host
