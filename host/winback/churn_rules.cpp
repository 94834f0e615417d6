#include "winback/churn_rules.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>

namespace crm::host {
namespace {

constexpr double kDayMs = 86'400'000.0;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The first of `terms` found in `texts` (ASCII case-insensitive; other scripts as written).
std::optional<std::string> find_term(const std::vector<std::string>& texts, const std::vector<std::string>& terms) {
  for (const std::string& text : texts) {
    const std::string haystack = lower(text);
    for (const std::string& term : terms) {
      if (!term.empty() && haystack.find(lower(term)) != std::string::npos) {
        return fmt::format("\"{}\" mentions \"{}\"", text, term);
      }
    }
  }
  return std::nullopt;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

void PurchaseHistory::add(std::int64_t ordered_at_ms, double amount, std::string_view product_line) {
  if (order_ms.empty()) {
    first_ms = ordered_at_ms;
  }
  // An order after 90 quiet days starts a new "recent" set of product lines.
  if (ordered_at_ms - last_ms > static_cast<std::int64_t>(90 * kDayMs)) {
    recent_lines.clear();
  }
  order_ms.push_back(ordered_at_ms);
  last_ms = ordered_at_ms;
  revenue += amount;
  if (!product_line.empty()) {
    recent_lines.emplace(product_line);
  }
}

void DeclaredChurn::add_attribute(std::string_view lower_name, const std::string& value) {
  if (lower_name == "contract_end") {
    contract_end_ms = parse_day(value);
  } else if (lower_name == "churned" && is_truthy(value)) {
    marked = true;
  }
}

std::optional<std::int64_t> parse_day(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  if (std::sscanf(text.c_str(), "%d-%u-%u", &year, &month, &day) == 3) {  // NOLINT(cert-err34-c): checked by count
    const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
    if (date.ok()) {
      return std::chrono::sys_days(date).time_since_epoch().count() * static_cast<std::int64_t>(kDayMs);
    }
  }
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return std::stoll(text);
  }
  return std::nullopt;
}

bool is_truthy(std::string_view value) {
  const std::string text = lower(std::string(value));
  return text == "1" || text == "true" || text == "yes" || text == "churned" || text == "lost";
}

std::optional<ChurnFinding> find_churn(const PurchaseHistory& history, const DeclaredChurn* declared,
                                       std::int64_t as_of_ms, const WinbackSettings& settings) {
  if (declared != nullptr && declared->marked) {
    return ChurnFinding{"mark", history.last_ms, {{"marked_by", "connector"}, {"last_order_ms", history.last_ms}}};
  }
  if (declared != nullptr && declared->contract_end_ms && *declared->contract_end_ms < as_of_ms &&
      history.last_ms <= *declared->contract_end_ms) {
    return ChurnFinding{"contract_end",
                        *declared->contract_end_ms,
                        {{"contract_end_ms", *declared->contract_end_ms}, {"last_order_ms", history.last_ms}}};
  }
  std::vector<std::int64_t> days;  // distinct order days
  for (const std::int64_t at : history.order_ms) {
    const auto day = static_cast<std::int64_t>(std::floor(static_cast<double>(at) / kDayMs));
    if (days.empty() || days.back() != day) {
      days.push_back(day);
    }
  }
  if (days.empty() || static_cast<int>(days.size()) < settings.min_orders) {
    return std::nullopt;
  }
  std::vector<double> gaps;
  for (std::size_t i = 1; i < days.size(); ++i) {
    gaps.push_back(static_cast<double>(days[i] - days[i - 1]));
  }
  if (gaps.empty()) {  // one order day (min_orders <= 1): no rhythm to fall silent from
    return std::nullopt;
  }
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2), gaps.end());
  const double median_gap_days = gaps[gaps.size() / 2];
  const double allowed_days = std::max(settings.silence_multiple * median_gap_days, settings.min_silence_days);
  const double silent_days = static_cast<double>(as_of_ms - history.last_ms) / kDayMs;
  if (silent_days <= allowed_days) {
    return std::nullopt;
  }
  return ChurnFinding{"silence",
                      history.last_ms + static_cast<std::int64_t>(allowed_days * kDayMs),
                      {{"last_order_ms", history.last_ms},
                       {"orders", history.order_ms.size()},
                       {"median_interval_days", median_gap_days},
                       {"silence_multiple", settings.silence_multiple},
                       {"silent_days", std::round(silent_days)}}};
}

ProposedReason propose_reason(const ReasonEvidence& evidence, const std::set<std::string>& recent_lines,
                              const WinbackSettings& settings) {
  if (auto found = find_term(evidence.texts, settings.closure_terms)) {
    return {"forced_to_leave", std::move(*found)};
  }
  if (!settings.discontinued_product_lines.empty() && !recent_lines.empty() &&
      std::all_of(recent_lines.begin(), recent_lines.end(),
                  [&](const std::string& line) { return contains(settings.discontinued_product_lines, line); })) {
    return {"abandoned_by_us", "every product line bought last was discontinued by us"};
  }
  if (auto bribe = find_term(evidence.texts, settings.inducement_terms)) {
    return {"bought_off", std::move(*bribe)};
  }
  if (evidence.open_complaints > 0) {
    return {"left_dissatisfied", fmt::format("{} complaint(s) unresolved", evidence.open_complaints)};
  }
  if (auto competitor = find_term(evidence.texts, settings.competitor_terms)) {
    return {"attracted_away", std::move(*competitor)};
  }
  if (!evidence.owner_left.empty()) {
    return {"other", "the owner of the relationship left: " + evidence.owner_left};
  }
  return {"other", "no rule matched; confirm with `crmhost churn reason`"};
}

double expected_value(const PurchaseHistory& history, std::optional<double> purchases_per_year,
                      const WinbackSettings& settings) {
  const double span_days = std::max(365.0, static_cast<double>(history.last_ms - history.first_ms) / kDayMs);
  double yearly_revenue = history.revenue * (365.0 / span_days);
  if (purchases_per_year && !history.order_ms.empty()) {
    yearly_revenue = *purchases_per_year * history.revenue / static_cast<double>(history.order_ms.size());
  }
  return yearly_revenue * settings.margin * settings.value_horizon_years;
}

std::string exclusion_of(const std::string& reason, bool on_do_not_contact_list, const WinbackSettings& settings) {
  if (contains(settings.excluded_reasons, reason)) {
    return "reason '" + reason + "' is not pursued";
  }
  if (on_do_not_contact_list) {
    return "on the do-not-contact list";
  }
  return {};
}

bool is_mass_churn(std::size_t lost_count, double rate, const WinbackSettings& settings) {
  const auto count = static_cast<int>(lost_count);
  return count >= settings.mass_churn_count ||
         (rate >= settings.mass_churn_rate && count >= settings.mass_churn_min_count);
}

std::string root_cause_key(const std::string& text) {
  std::string key;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!key.empty() && key.back() != ' ') {
        key += ' ';
      }
    } else {
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  while (!key.empty() && (key.back() == ' ' || key.back() == '.')) {
    key.pop_back();
  }
  return key;
}

}  // namespace crm::host
