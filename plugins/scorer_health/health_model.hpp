// The health score of domain.md section 3, free of any plugin plumbing so the
// plugin and a statically linked benchmark run the very same code.
//
// Each dimension starts at 100 and loses points per weak signal; the score is
// the weighted mean of the dimensions that have at least one known signal for
// that customer (a dimension without data is left out, not scored neutral, and
// a reason says so). A feature's contribution is the points it cost in the
// final score, so 100 + sum(contributions) == score before clamping.
//
// The business dimension takes the best evidence about purchase behaviour the
// host has: the learned churn probability (scorer_logit's output, passed by the
// host as the feature churn_probability), else BG/NBD's probability of being
// alive (p_alive), else the customer's recency against their own rhythm.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace crm::health {

enum Feature : std::size_t {
  kRecencyDays,
  kRecencyRatio,
  kVolumeChange,
  kFrequencyChange,
  kPaymentDelay,
  kChurnProbability,
  kPAlive,
  kCsat1,
  kCsat2,
  kCsat3,
  kNpsGap,
  kComplaints,
  kComplaintsSinceOrder,
  kDaysSinceLogin,
  kDownloadsChange,
  kCommunicationChange,
  kContactChanged,
  kFollowupOverdue,
  kStrategicValue,
  kShareOfWallet,
  kFeatureCount
};

// Host feature names, in Feature order (NULL-terminated for the SDK).
inline constexpr const char* kFeatureNames[] = {"recency_days",
                                                "recency_ratio",
                                                "purchase_volume_change",
                                                "order_frequency_change",
                                                "payment_delay_days",
                                                "churn_probability",
                                                "p_alive",
                                                "csat_last",
                                                "csat_second_last",
                                                "csat_third_last",
                                                "nps_vs_industry",
                                                "complaints_window",
                                                "complaints_since_last_order",
                                                "days_since_login",
                                                "downloads_change",
                                                "communication_change",
                                                "key_contact_changed",
                                                "followup_overdue_days",
                                                "strategic_value",
                                                "share_of_wallet",
                                                nullptr};

enum Reason : unsigned {
  kVolumeDrop,
  kNpsBelowIndustry,
  kLoginSilenceFrequencyDrop,
  kCsatLowStreak,
  kRepeatedComplaints,
  kCommunicationDrop,
  kKeyContactChanged,
  kCadenceMissed,
  kOrderTrendBreak,
  kPaymentDelayReason,
  kDownloadsDrop,
  // Where the business dimension's purchase evidence came from, and which dimensions had no data.
  kBusinessFromChurnModel,
  kBusinessFromPAlive,
  kBusinessFromPurchaseRhythm,
  kNoExperienceData,
  kNoEngagementData,
  kNoStrategicData
};

inline constexpr const char* kReasonNames[] = {"volume_drop",
                                               "nps_below_industry",
                                               "login_silence_and_frequency_drop",
                                               "csat_low_streak",
                                               "repeated_complaints",
                                               "communication_drop",
                                               "key_contact_changed",
                                               "cadence_missed",
                                               "order_trend_break",
                                               "payment_delay",
                                               "downloads_drop",
                                               "business_from_churn_model",
                                               "business_from_p_alive",
                                               "business_from_purchase_rhythm",
                                               "no_experience_data",
                                               "no_engagement_data",
                                               "no_strategic_data",
                                               nullptr};

struct Settings {
  double weight_business = 0.4;
  double weight_experience = 0.3;
  double weight_engagement = 0.2;
  double weight_strategic = 0.1;
  double expected_interval_days = 60;
  double volume_drop = -0.2;
  double silent_login_days = 90;
  double frequency_drop = -0.5;
  double csat_low = 80;
  double repeated_complaints = 3;
  double communication_drop = -0.5;
  double order_gap_ratio = 2;
  double payment_delay_days = 30;
  double downloads_drop = -0.5;
};

inline bool known(double value) {
  return !std::isnan(value);
}

// Scores customers [0, count). columns[f] holds feature f (Feature order).
// contributions: kFeatureCount * count, feature-major, or nullptr.
// reasons: count bitmasks, or nullptr.
inline void score(const Settings& s, const double* const* columns, std::size_t count, double* scores,
                  double* contributions, std::uint64_t* reasons) {
  for (std::size_t i = 0; i < count; ++i) {
    std::array<double, kFeatureCount> x{};
    for (std::size_t f = 0; f < kFeatureCount; ++f) {
      x[f] = columns[f][i];
    }
    std::array<double, kFeatureCount> loss{};  // points a feature costs inside its dimension
    std::array<bool, 4> present{};

    // Business: the purchase evidence, then late payment.
    Reason business_source = kBusinessFromPurchaseRhythm;
    if (known(x[kChurnProbability])) {
      // A learned probability already weighs recency, frequency and volume: it is the purchase evidence.
      present[0] = true;
      business_source = kBusinessFromChurnModel;
      loss[kChurnProbability] = 100.0 * std::clamp(x[kChurnProbability], 0.0, 1.0);
    } else if (known(x[kPAlive])) {
      present[0] = true;
      business_source = kBusinessFromPAlive;
      loss[kPAlive] = 100.0 * (1.0 - std::clamp(x[kPAlive], 0.0, 1.0));
    } else {
      if (known(x[kRecencyDays])) {
        present[0] = true;
        // Late against the customer's own rhythm and against the usual interval: their geometric mean, so
        // neither a frequent buyer's short pause nor a rare buyer's long one dominates. Mapped smoothly
        // (no flat floor, which would tie every customer not yet due): on time costs 20 points, twice
        // as late 50, four times 80.
        const double against_usual = x[kRecencyDays] / s.expected_interval_days;
        const double overdue =
            known(x[kRecencyRatio]) ? std::sqrt(std::max(0.0, x[kRecencyRatio]) * against_usual) : against_usual;
        const double half = overdue / 2.0;
        loss[known(x[kRecencyRatio]) ? kRecencyRatio : kRecencyDays] = 100.0 * half * half / (1.0 + half * half);
      }
      if (known(x[kVolumeChange])) {
        present[0] = true;
        loss[kVolumeChange] = std::min(30.0, 50.0 * std::max(0.0, -x[kVolumeChange]));
      }
      if (known(x[kFrequencyChange])) {
        present[0] = true;
        loss[kFrequencyChange] = std::min(20.0, 30.0 * std::max(0.0, -x[kFrequencyChange]));
      }
    }
    if (known(x[kPaymentDelay])) {
      present[0] = true;
      loss[kPaymentDelay] = std::min(20.0, 0.5 * x[kPaymentDelay]);
    }
    // Experience: CSAT under 90, NPS under the industry, complaints.
    double csat_sum = 0;
    int csat_count = 0;
    for (const std::size_t f : {kCsat1, kCsat2, kCsat3}) {
      if (known(x[f])) {
        csat_sum += x[f];
        ++csat_count;
      }
    }
    if (csat_count > 0) {
      present[1] = true;
      const double shortfall = std::min(50.0, std::max(0.0, 90.0 - csat_sum / csat_count));
      for (const std::size_t f : {kCsat1, kCsat2, kCsat3}) {
        loss[f] = known(x[f]) ? shortfall / csat_count : 0;
      }
    }
    if (known(x[kNpsGap])) {
      present[1] = true;
      loss[kNpsGap] = std::min(30.0, 0.5 * std::max(0.0, -x[kNpsGap]));
    }
    if (known(x[kComplaints])) {
      present[1] = true;
      loss[kComplaints] = std::min(50.0, 15.0 * x[kComplaints]);
    } else if (known(x[kComplaintsSinceOrder])) {
      present[1] = true;
      loss[kComplaintsSinceOrder] = std::min(50.0, 15.0 * x[kComplaintsSinceOrder]);
    }
    // Engagement: logins, downloads, communication, the key contact, follow-up cadence.
    if (known(x[kDaysSinceLogin])) {
      present[2] = true;
      loss[kDaysSinceLogin] = std::min(50.0, 0.5 * std::max(0.0, x[kDaysSinceLogin] - 30));
    }
    if (known(x[kDownloadsChange])) {
      present[2] = true;
      loss[kDownloadsChange] = std::min(30.0, 40.0 * std::max(0.0, -x[kDownloadsChange]));
    }
    if (known(x[kCommunicationChange])) {
      present[2] = true;
      loss[kCommunicationChange] = std::min(30.0, 30.0 * std::max(0.0, -x[kCommunicationChange]));
    }
    if (known(x[kContactChanged])) {
      present[2] = true;
      loss[kContactChanged] = std::min(40.0, 25.0 * x[kContactChanged]);
    }
    if (known(x[kFollowupOverdue])) {
      present[2] = true;
      loss[kFollowupOverdue] = std::min(20.0, 0.5 * std::max(0.0, x[kFollowupOverdue]));
    }
    // Strategic fit: the configured strategic value and our share of the customer's wallet.
    if (known(x[kStrategicValue])) {
      present[3] = true;
      loss[kStrategicValue] = std::clamp(100.0 - x[kStrategicValue], 0.0, 100.0);
    }
    if (known(x[kShareOfWallet])) {
      present[3] = true;
      loss[kShareOfWallet] = std::clamp(100.0 - 100.0 * x[kShareOfWallet], 0.0, 100.0);
      if (known(x[kStrategicValue])) {
        loss[kStrategicValue] /= 2;
        loss[kShareOfWallet] /= 2;
      }
    }

    if (reasons != nullptr) {
      std::uint64_t bits = 0;
      const auto flag = [&bits](bool fired, Reason reason) { bits |= fired ? std::uint64_t{1} << reason : 0; };
      flag(x[kVolumeChange] < s.volume_drop, kVolumeDrop);
      flag(x[kNpsGap] < 0, kNpsBelowIndustry);
      flag(x[kDaysSinceLogin] >= s.silent_login_days && x[kFrequencyChange] <= s.frequency_drop,
           kLoginSilenceFrequencyDrop);
      flag(x[kCsat1] < s.csat_low && x[kCsat2] < s.csat_low && x[kCsat3] < s.csat_low, kCsatLowStreak);
      flag(x[kComplaintsSinceOrder] >= s.repeated_complaints, kRepeatedComplaints);
      flag(x[kCommunicationChange] <= s.communication_drop, kCommunicationDrop);
      flag(x[kContactChanged] >= 1, kKeyContactChanged);
      flag(x[kFollowupOverdue] > 0, kCadenceMissed);
      flag(x[kRecencyRatio] >= s.order_gap_ratio, kOrderTrendBreak);
      flag(x[kPaymentDelay] > s.payment_delay_days, kPaymentDelayReason);
      flag(x[kDownloadsChange] <= s.downloads_drop, kDownloadsDrop);
      flag(present[0], business_source);
      flag(!present[1], kNoExperienceData);
      flag(!present[2], kNoEngagementData);
      flag(!present[3], kNoStrategicData);
      reasons[i] |= bits;
    }
    const std::array<double, 4> weights = {s.weight_business, s.weight_experience, s.weight_engagement,
                                           s.weight_strategic};
    double total_weight = 0;
    for (std::size_t d = 0; d < 4; ++d) {
      total_weight += present[d] ? weights[d] : 0;
    }
    if (total_weight <= 0) {
      scores[i] = std::nan("");
      continue;
    }
    const auto dimension_of = [](std::size_t f) -> std::size_t {
      if (f <= kPAlive) {
        return 0;
      }
      if (f <= kComplaintsSinceOrder) {
        return 1;
      }
      if (f <= kFollowupOverdue) {
        return 2;
      }
      return 3;
    };
    // A dimension cannot lose more than 100 points; scale its features' losses down when they exceed it.
    std::array<double, 4> dimension_loss{};
    for (std::size_t f = 0; f < kFeatureCount; ++f) {
      dimension_loss[dimension_of(f)] += loss[f];
    }
    double score = 100;
    for (std::size_t f = 0; f < kFeatureCount; ++f) {
      const std::size_t d = dimension_of(f);
      const double cap = dimension_loss[d] > 100 ? 100 / dimension_loss[d] : 1.0;
      const double points = -loss[f] * cap * weights[d] / total_weight;
      score += points;
      if (contributions != nullptr) {
        contributions[f * count + i] += points;
      }
    }
    scores[i] = std::clamp(score, 0.0, 100.0);
  }
}

}  // namespace crm::health
