#include "scoring/settings.hpp"

#include <algorithm>
#include <cmath>

namespace crm::host {

const char* const kFeatureSettingsSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "windows_days": {"type": "array", "minItems": 1, "uniqueItems": true,
                     "items": {"type": "integer", "minimum": 1, "maximum": 3650}},
    "period_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "login_window_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "downloads_window_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "complaints_window_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "contact_change_window_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "industry_nps_mean": {"type": "object", "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100}},
    "followup_interval_days": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "strategic": {"type": "integer", "minimum": 1}, "key": {"type": "integer", "minimum": 1},
        "potential": {"type": "integer", "minimum": 1}, "general": {"type": "integer", "minimum": 1}
      }
    },
    "attributes": {
      "type": "object",
      "description": "Customer attribute name -> numeric or categorical: the attribute features, attr.*",
      "propertyNames": {"pattern": "^[^=*\\s][^=*]{0,63}$"},
      "additionalProperties": {"enum": ["numeric", "categorical"]}
    }
  }
})";

const char* const kScoringSettingsSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "bands": {
      "type": "array", "minItems": 1,
      "items": {
        "type": "object", "additionalProperties": false, "required": ["name", "min_score"],
        "properties": {
          "name": {"type": "string", "minLength": 1},
          "min_score": {"type": "number", "minimum": 0, "maximum": 100},
          "owner": {"type": "string"},
          "response_hours": {"type": "integer", "minimum": 0}
        }
      }
    },
    "primary_scorer": {"type": "string"},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 10000000},
    "horizon_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
  }
})";

const BandRule& band_of(const ScoringSettings& settings, double score) {
  for (const BandRule& band : settings.bands) {
    if (!std::isnan(score) && score >= band.min_score) {
      return band;
    }
  }
  return settings.bands.back();
}

FeatureSettings parse_feature_settings(const nlohmann::json& section) {
  FeatureSettings settings;
  if (!section.is_object()) {
    return settings;
  }
  if (section.contains("windows_days")) {
    settings.windows_days = section["windows_days"].get<std::vector<int>>();
    std::sort(settings.windows_days.begin(), settings.windows_days.end());
  }
  settings.period_days = section.value("period_days", settings.period_days);
  settings.login_window_days = section.value("login_window_days", settings.login_window_days);
  settings.downloads_window_days = section.value("downloads_window_days", settings.downloads_window_days);
  settings.complaints_window_days = section.value("complaints_window_days", settings.complaints_window_days);
  settings.contact_change_window_days =
      section.value("contact_change_window_days", settings.contact_change_window_days);
  if (const auto found = section.find("industry_nps_mean"); found != section.end()) {
    for (const auto& [industry, mean] : found->items()) {
      settings.industry_nps_mean[industry] = mean.get<double>();
    }
  }
  if (const auto found = section.find("followup_interval_days"); found != section.end()) {
    for (const auto& [tier, days] : found->items()) {
      settings.followup_interval_days[tier] = days.get<int>();
    }
  }
  if (const auto found = section.find("attributes"); found != section.end()) {
    for (const auto& [name, kind] : found->items()) {
      settings.attributes[name] = kind.get<std::string>() == "categorical" ? FeatureSettings::AttributeKind::categorical
                                                                           : FeatureSettings::AttributeKind::numeric;
    }
  }
  return settings;
}

ScoringSettings parse_scoring_settings(const nlohmann::json& section) {
  ScoringSettings settings;
  if (!section.is_object()) {
    return settings;
  }
  if (section.contains("bands")) {
    settings.bands.clear();
    for (const auto& band : section["bands"]) {
      settings.bands.push_back({band["name"].get<std::string>(), band["min_score"].get<double>(),
                                band.value("owner", std::string()), band.value("response_hours", 0)});
    }
    std::sort(settings.bands.begin(), settings.bands.end(),
              [](const BandRule& left, const BandRule& right) { return left.min_score > right.min_score; });
  }
  settings.primary_scorer = section.value("primary_scorer", settings.primary_scorer);
  settings.batch_size = section.value("batch_size", settings.batch_size);
  settings.horizon_days = section.value("horizon_days", settings.horizon_days);
  if (const auto found = section.find("labels"); found != section.end()) {
    for (const auto& [key, label] : found->items()) {
      settings.labels[key] = label.get<std::string>();
    }
  }
  return settings;
}

}  // namespace crm::host
