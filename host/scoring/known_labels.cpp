#include "scoring/known_labels.hpp"

namespace crm::host {

const std::vector<KnownLabel>& known_labels() {
  static const std::vector<KnownLabel> kLabels = {
      {"volume_drop", "purchase volume down more than 20 % on the previous period", true},
      {"nps_below_industry", "NPS below the industry mean", true},
      {"login_silence_and_frequency_drop", "no login for 3 months and purchase frequency down 50 %", true},
      {"csat_low_streak", "three CSAT scores in a row below 80", true},
      {"repeated_complaints", "repeated complaints since the last delivery", true},
      {"communication_drop", "communication with the customer fell off", true},
      {"key_contact_changed", "the key contact changed or left", true},
      {"cadence_missed", "follow-up cadence for the tier missed", true},
      {"order_trend_break", "order rhythm broken: far longer than usual since the last order", true},
      {"payment_delay", "payments late", true},
      {"downloads_drop", "document downloads fell (often ~30 days before churn)", true},
      {"business_from_churn_model", "purchases judged by the learned churn probability", false},
      {"business_from_p_alive", "purchases judged by BG/NBD's probability of being alive", false},
      {"business_from_purchase_rhythm", "purchases judged by the time since the last order against the usual rhythm",
       false},
      {"no_experience_data", "no surveys, tickets or mail: experience left out of the score", false},
      {"no_engagement_data", "no logins, downloads, mail or follow-ups: engagement left out of the score", false},
      {"no_strategic_data", "no strategic value or share of wallet: strategic fit left out of the score", false},
      {"churn_probability", "learned probability of no purchase in the horizon", false},
      {"p_alive", "probability the customer still buys (BG/NBD)", false},
      {"low_recency", "bought less recently than most customers", false},
      {"low_frequency", "buys less often than most customers", false},
      {"low_monetary", "spends less than most customers", false},
      {"recency_days", "days since the last order", false},
      {"recency_ratio", "time since the last order against the usual interval", false},
      {"purchase_volume_change", "purchase volume change", false},
      {"order_frequency_change", "order frequency change", false},
      {"payment_delay_days", "payment delay", false},
      {"csat_last", "last CSAT score", false},
      {"csat_second_last", "second-last CSAT score", false},
      {"csat_third_last", "third-last CSAT score", false},
      {"nps_vs_industry", "NPS against the industry mean", false},
      {"complaints_window", "complaints in the last 90 days", false},
      {"days_since_login", "days since the last login", false},
      {"downloads_change", "document downloads change", false},
      {"communication_change", "communication frequency change", false},
      {"followup_overdue_days", "follow-up overdue", false},
      {"strategic_value", "strategic value", false},
      {"share_of_wallet", "share of wallet", false},
      {"recency_rank", "recency against other customers", false},
      {"frequency_rank", "frequency against other customers", false},
      {"monetary_rank", "spend against other customers", false},
  };
  return kLabels;
}

std::string plain_label(const ScoringSettings& settings, const std::string& key) {
  if (const auto found = settings.labels.find(key); found != settings.labels.end()) {
    return found->second;
  }
  for (const KnownLabel& label : known_labels()) {
    if (label.code == key) {
      return std::string(label.plain_words);
    }
  }
  return key;
}

std::vector<std::string> default_signal_reasons() {
  std::vector<std::string> codes;
  for (const KnownLabel& label : known_labels()) {
    if (label.churn_signal) {
      codes.emplace_back(label.code);
    }
  }
  return codes;
}

}  // namespace crm::host
