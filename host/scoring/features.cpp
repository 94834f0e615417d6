#include "scoring/features.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "scoring/value_class.hpp"
#include "store/customer_history_repository.hpp"
#include "store/score_run_repository.hpp"

namespace crm::host {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
constexpr int kNoDay = std::numeric_limits<int>::min();

int day_of(std::int64_t ms) {
  return static_cast<int>(ms >= 0 ? ms / kMillisecondsPerDay : (ms - kMillisecondsPerDay + 1) / kMillisecondsPerDay);
}

// Customer rows -> dense positions of unified customers.
struct CustomerIndex {
  std::vector<std::int64_t> unified_ids;  // dense position -> unified id, ascending
  std::vector<std::int32_t> by_row;       // customers.id -> dense position, -1 if none
  std::vector<std::string> industry;      // dense position -> industry ("" unknown)

  [[nodiscard]] std::int32_t dense(std::int64_t row_id) const {
    return row_id >= 0 && static_cast<std::size_t>(row_id) < by_row.size() ? by_row[row_id] : -1;
  }
};

CustomerIndex index_customers(CustomerHistoryRepository& history) {
  CustomerIndex index;
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;  // (unified, row)
  std::int64_t max_row = 0;
  std::unordered_map<std::int64_t, std::string> industry_of;
  RowScan<CustomerIdentityRow> customers = history.scan_customers();
  for (CustomerIdentityRow customer; customers.next(customer);) {
    rows.emplace_back(customer.unified_id, customer.id);
    max_row = std::max(max_row, customer.id);
    if (!customer.industry.empty()) {
      industry_of.emplace(customer.unified_id, std::string(customer.industry));
    }
  }
  std::sort(rows.begin(), rows.end());
  index.by_row.assign(static_cast<std::size_t>(max_row) + 1, -1);
  for (const auto& [unified, row] : rows) {
    if (index.unified_ids.empty() || index.unified_ids.back() != unified) {
      index.unified_ids.push_back(unified);
    }
    index.by_row[row] = static_cast<std::int32_t>(index.unified_ids.size() - 1);
  }
  index.industry.resize(index.unified_ids.size());
  for (std::size_t i = 0; i < index.unified_ids.size(); ++i) {
    if (const auto found = industry_of.find(index.unified_ids[i]); found != industry_of.end()) {
      index.industry[i] = found->second;
    }
  }
  return index;
}

struct OrderEvent {
  std::int32_t customer;
  std::int32_t day;
  double amount;
};

// Events grouped by customer with a counting sort: O(n), no comparison sort of 10^7 rows.
std::vector<OrderEvent> group_by_customer(const std::vector<OrderEvent>& events, std::size_t customer_count,
                                          std::vector<std::size_t>& starts) {
  starts.assign(customer_count + 1, 0);
  for (const OrderEvent& event : events) {
    ++starts[static_cast<std::size_t>(event.customer) + 1];
  }
  std::partial_sum(starts.begin(), starts.end(), starts.begin());
  std::vector<std::size_t> next(starts.begin(), starts.end() - 1);
  std::vector<OrderEvent> grouped(events.size());
  for (const OrderEvent& event : events) {
    grouped[next[static_cast<std::size_t>(event.customer)]++] = event;
  }
  return grouped;
}

// Average-rank percentile in (0, 1] of each present value (higher value -> higher rank); NaN stays NaN.
std::vector<double> percentile_ranks(const std::vector<double>& values, bool higher_is_better) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isnan(values[i])) {
      order.push_back(i);
    }
  }
  std::sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) {
    return higher_is_better ? values[left] < values[right] : values[left] > values[right];
  });
  std::vector<double> ranks(values.size(), kMissing);
  const double count = static_cast<double>(order.size());
  for (std::size_t at = 0; at < order.size();) {
    std::size_t end = at;
    while (end < order.size() && values[order[end]] == values[order[at]]) {
      ++end;
    }
    const double rank = (static_cast<double>(at + end + 1) / 2.0) / count;
    for (std::size_t k = at; k < end; ++k) {
      ranks[order[k]] = rank;
    }
    at = end;
  }
  return ranks;
}

double change(double current, double previous) {
  return previous > 0 ? (current - previous) / previous : kMissing;
}

class Columns {
 public:
  Columns(std::vector<std::string> names, std::size_t customers) : names_(std::move(names)) {
    columns_.assign(names_.size(), std::vector<double>(customers, kMissing));
  }
  std::vector<double>& operator[](std::string_view name) {
    const auto found = std::find(names_.begin(), names_.end(), name);
    if (found == names_.end()) {
      throw std::logic_error(fmt::format("feature '{}' is not in the catalogue", name));
    }
    return columns_[static_cast<std::size_t>(found - names_.begin())];
  }
  std::vector<std::string> names_;
  std::vector<std::vector<double>> columns_;
};

// The whole text as a finite number, else nullopt ("", " ", "n/a", "12abc").
std::optional<double> attribute_number(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  const std::string copy(text);  // strtod needs the terminating NUL
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

// Appends the declared attribute features (the "attr.*" family). They are set
// for every known customer, also one with no other record yet: an attribute
// is what the customer's contract or profile says now, not an event with a
// date. A categorical attribute's levels are those seen in the store, sorted,
// so the names are the same whatever the date or the order of the import.
void add_attribute_features(CustomerHistoryRepository& history, const CustomerIndex& index,
                            const FeatureSettings& settings, Columns& f) {
  if (settings.attributes.empty()) {
    return;
  }
  const std::size_t customer_count = index.unified_ids.size();
  std::vector<std::string> names;
  for (const auto& [name, kind] : settings.attributes) {
    names.push_back(name);
  }
  // name -> customer -> text; the last row of a customer's unified rows wins.
  std::map<std::string, std::vector<std::optional<std::string>>, std::less<>> values;
  for (const std::string& name : names) {
    values[name].assign(customer_count, std::nullopt);
  }
  RowScan<AttributeRow> attributes = history.scan_attributes_named(names);
  for (AttributeRow attribute; attributes.next(attribute);) {
    const std::int32_t c = index.dense(attribute.customer_id);
    const auto found = values.find(attribute.name);
    if (c < 0 || found == values.end()) {
      continue;
    }
    const std::string_view text = trimmed(attribute.value);
    found->second[static_cast<std::size_t>(c)] =
        text.empty() ? std::nullopt : std::optional<std::string>(std::string(text));
  }
  for (const auto& [name, kind] : settings.attributes) {
    const auto& texts = values[name];
    const std::string prefix = fmt::format("{}{}", kAttributeFeaturePrefix, name);
    if (kind == FeatureSettings::AttributeKind::numeric) {
      std::vector<double> column(customer_count, kMissing);
      for (std::size_t c = 0; c < customer_count; ++c) {
        if (texts[c]) {
          column[c] = attribute_number(*texts[c]).value_or(kMissing);
        }
      }
      f.names_.push_back(prefix);
      f.columns_.push_back(std::move(column));
      continue;
    }
    std::set<std::string> levels;
    for (const auto& text : texts) {
      if (text) {
        levels.insert(*text);
      }
    }
    for (const std::string& level : levels) {
      std::vector<double> column(customer_count, kMissing);
      for (std::size_t c = 0; c < customer_count; ++c) {
        if (texts[c]) {
          column[c] = *texts[c] == level ? 1.0 : 0.0;
        }
      }
      f.names_.push_back(fmt::format("{}={}", prefix, level));
      f.columns_.push_back(std::move(column));
    }
  }
}

// A second connection to these would open another, empty database.
bool is_memory_database(std::string_view path) {
  return path.empty() || path == ":memory:" || path.starts_with("file::memory:") ||
         path.find("mode=memory") != std::string_view::npos;
}

// The purchases of customer rows [first_row, end_row) before as_of_ms, as events at dense
// positions, and each position's revenue in the year before.
void read_order_range(CustomerHistoryRepository& history, const CustomerIndex& index, std::int64_t as_of_ms,
                      std::int64_t first_row, std::int64_t end_row, std::vector<OrderEvent>& events,
                      std::vector<double>& revenue_last_year) {
  const std::int64_t year_start_ms = as_of_ms - 365 * kMillisecondsPerDay;
  RowScan<PurchaseRow> purchases = history.scan_purchases_before(as_of_ms, first_row, end_row);
  for (PurchaseRow purchase; purchases.next(purchase);) {
    const std::int32_t customer = index.dense(purchase.customer_id);
    if (customer >= 0) {
      events.push_back({customer, day_of(purchase.ordered_at_ms), purchase.amount});
      if (purchase.ordered_at_ms >= year_start_ms) {
        revenue_last_year[static_cast<std::size_t>(customer)] += purchase.amount;
      }
    }
  }
}

// The orders are most of what a feature build reads (10^7 rows for 10^6 customers). On a
// large store they are read by several connections at once, each a range of customer rows
// on the orders_by_customer index; each connection reads its own snapshot, but a customer's
// orders all come from one of them. A connection inside a transaction reads alone: another
// could not see what it has written.
void read_orders(Database& db, CustomerHistoryRepository& history, const CustomerIndex& index,
                 const FeatureSettings& settings, std::int64_t as_of_ms, std::vector<OrderEvent>& events,
                 std::vector<double>& revenue_last_year) {
  const std::size_t customer_count = index.unified_ids.size();
  revenue_last_year.assign(customer_count, 0.0);
  unsigned connections = settings.order_scan_connections;
  if (connections == 0) {
    connections = customer_count >= settings.parallel_scan_min_customers
                      ? std::clamp(std::thread::hardware_concurrency(), 1U, 4U)
                      : 1U;
  }
  const bool shareable = db.idle() && !(db.kind() == DatabaseKind::sqlite && is_memory_database(db.locator().target));
  const auto row_count = static_cast<std::int64_t>(index.by_row.size());
  if (connections <= 1 || !shareable || row_count < 2) {
    read_order_range(history, index, as_of_ms, std::numeric_limits<std::int64_t>::min(),
                     std::numeric_limits<std::int64_t>::max(), events, revenue_last_year);
    return;
  }
  connections = static_cast<unsigned>(std::min<std::int64_t>(connections, row_count));
  struct Part {
    std::vector<OrderEvent> events;
    std::vector<double> revenue;
    std::exception_ptr failure;
  };
  std::vector<Part> parts(connections);
  const auto bound = [&](unsigned part) -> std::int64_t {
    if (part == connections) {
      return std::numeric_limits<std::int64_t>::max();
    }
    return part == 0 ? std::numeric_limits<std::int64_t>::min() : row_count * part / connections;
  };
  {
    std::vector<std::jthread> readers;
    for (unsigned part = 1; part < connections; ++part) {
      readers.emplace_back([&, part] {
        try {
          Database reader(db.locator());
          CustomerHistoryRepository reader_history(reader);
          parts[part].revenue.assign(customer_count, 0.0);
          read_order_range(reader_history, index, as_of_ms, bound(part), bound(part + 1), parts[part].events,
                           parts[part].revenue);
        } catch (...) {
          parts[part].failure = std::current_exception();
        }
      });
    }
    read_order_range(history, index, as_of_ms, bound(0), bound(1), events, revenue_last_year);
  }
  for (unsigned part = 1; part < connections; ++part) {
    if (parts[part].failure) {
      std::rethrow_exception(parts[part].failure);
    }
    events.insert(events.end(), parts[part].events.begin(), parts[part].events.end());
    parts[part].events = {};
    for (std::size_t c = 0; c < customer_count; ++c) {
      revenue_last_year[c] += parts[part].revenue[c];
    }
  }
}

}  // namespace

const std::vector<double>& CustomerFeatures::column(std::string_view name) const {
  const auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end()) {
    throw std::out_of_range(fmt::format("no feature '{}' was computed", name));
  }
  return columns[static_cast<std::size_t>(found - names.begin())];
}

CustomerFeatures CustomerFeatures::subset(const std::vector<std::size_t>& rows) const {
  CustomerFeatures part;
  part.as_of_ms = as_of_ms;
  part.names = names;
  for (const std::size_t row : rows) {
    part.customer_ids.push_back(customer_ids[row]);
    if (!revenue_last_year.empty()) {
      part.revenue_last_year.push_back(revenue_last_year[row]);
    }
  }
  for (const auto& column : columns) {
    std::vector<double> values;
    values.reserve(rows.size());
    for (const std::size_t row : rows) {
      values.push_back(column[row]);
    }
    part.columns.push_back(std::move(values));
  }
  return part;
}

FeatureBatch CustomerFeatures::slice(std::size_t begin, std::size_t end, const std::vector<std::string>& wanted) const {
  std::vector<std::size_t> rows(end - begin);
  std::iota(rows.begin(), rows.end(), begin);
  return select(rows, wanted);
}

FeatureBatch CustomerFeatures::select(const std::vector<std::size_t>& rows,
                                      const std::vector<std::string>& wanted) const {
  FeatureBatch batch;
  batch.as_of_ms = as_of_ms;
  batch.customer_ids.reserve(rows.size());
  for (const std::size_t row : rows) {
    batch.customer_ids.push_back(std::to_string(customer_ids[row]));
  }
  for (const std::string& name : wanted) {
    const std::vector<double>& source = column(name);
    std::vector<double> values;
    values.reserve(rows.size());
    for (const std::size_t row : rows) {
      values.push_back(source[row]);
    }
    batch.feature_names.push_back(name);
    batch.columns.push_back(std::move(values));
  }
  return batch;
}

const std::vector<std::string_view>& scorer_output_feature_names() {
  static const std::vector<std::string_view> kNames = {"churn_probability", "p_alive"};
  return kNames;
}

std::vector<std::string> feature_names(const FeatureSettings& settings) {
  std::vector<std::string> names = {"recency_days",
                                    "tenure_days",
                                    "order_count",
                                    "monetary_total",
                                    "repeat_purchases",
                                    "purchase_span_days",
                                    "mean_interpurchase_days",
                                    "recency_ratio",
                                    "purchase_volume_period",
                                    "purchase_volume_previous",
                                    "purchase_volume_change",
                                    "order_frequency_change",
                                    "recency_rank",
                                    "frequency_rank",
                                    "monetary_rank",
                                    "revenue_share_above",
                                    "days_since_login",
                                    "logins_window",
                                    "downloads_recent",
                                    "downloads_previous",
                                    "downloads_change",
                                    "meetings_window",
                                    "complaints_window",
                                    "complaints_since_last_order",
                                    "csat_last",
                                    "csat_second_last",
                                    "csat_third_last",
                                    "nps",
                                    "nps_vs_industry",
                                    "payment_delay_days",
                                    "interactions_period",
                                    "interactions_previous",
                                    "communication_change",
                                    "key_contact_changed",
                                    "days_since_followup",
                                    "followup_overdue_days",
                                    "share_of_wallet",
                                    "strategic_value"};
  for (const int window : settings.windows_days) {
    names.push_back(fmt::format("order_count_{}d", window));
    names.push_back(fmt::format("monetary_{}d", window));
  }
  // Filled by the host from earlier scorers' outputs while scoring (scoring.hpp), unknown here.
  for (const std::string_view name : scorer_output_feature_names()) {
    names.emplace_back(name);
  }
  return names;
}

CustomerFeatures build_features(Database& db, const FeatureSettings& settings, std::int64_t as_of_ms) {
  CustomerHistoryRepository history(db);
  const CustomerIndex index = index_customers(history);
  const std::size_t customer_count = index.unified_ids.size();
  Columns f(feature_names(settings), customer_count);
  const int today = day_of(as_of_ms);

  // Orders: purchases only (store/purchases.hpp).
  std::vector<OrderEvent> events;
  std::vector<double> revenue_last_year;
  read_orders(db, history, index, settings, as_of_ms, events, revenue_last_year);
  std::vector<std::size_t> starts;
  std::vector<OrderEvent> grouped = group_by_customer(events, customer_count, starts);
  events = {};
  std::vector<int> last_order_day(customer_count, kNoDay);
  // Customers with no record at all before the date (not yet customers then) get no features.
  std::vector<bool> seen(customer_count, false);
  {
    auto& recency = f["recency_days"];
    auto& tenure = f["tenure_days"];
    auto& order_count = f["order_count"];
    auto& monetary_total = f["monetary_total"];
    auto& repeat = f["repeat_purchases"];
    auto& span = f["purchase_span_days"];
    auto& interval = f["mean_interpurchase_days"];
    auto& ratio = f["recency_ratio"];
    auto& volume_now = f["purchase_volume_period"];
    auto& volume_before = f["purchase_volume_previous"];
    auto& volume_change = f["purchase_volume_change"];
    auto& frequency_change = f["order_frequency_change"];
    std::vector<std::vector<double>*> window_counts;
    std::vector<std::vector<double>*> window_amounts;
    for (const int window : settings.windows_days) {
      window_counts.push_back(&f[fmt::format("order_count_{}d", window)]);
      window_amounts.push_back(&f[fmt::format("monetary_{}d", window)]);
    }
    const int period = settings.period_days;
    for (std::size_t c = 0; c < customer_count; ++c) {
      const auto first = grouped.begin() + static_cast<std::ptrdiff_t>(starts[c]);
      const auto last = grouped.begin() + static_cast<std::ptrdiff_t>(starts[c + 1]);
      for (std::size_t w = 0; w < window_counts.size(); ++w) {
        (*window_counts[w])[c] = 0;
        (*window_amounts[w])[c] = 0;
      }
      order_count[c] = 0;
      monetary_total[c] = 0;
      if (first == last) {
        continue;
      }
      seen[c] = true;
      std::sort(first, last, [](const OrderEvent& a, const OrderEvent& b) { return a.day < b.day; });
      double days = 0;
      double total = 0;
      double period_amount[2] = {0, 0};
      double period_days[2] = {0, 0};
      for (auto at = first; at != last; ++at) {
        const bool new_day = at == first || at->day != (at - 1)->day;
        const int age = today - at->day;
        days += new_day ? 1 : 0;
        total += at->amount;
        for (std::size_t w = 0; w < window_counts.size(); ++w) {
          if (age < settings.windows_days[w]) {
            (*window_counts[w])[c] += new_day ? 1 : 0;
            (*window_amounts[w])[c] += at->amount;
          }
        }
        if (age < 2 * period) {
          const int slot = age < period ? 0 : 1;
          period_amount[slot] += at->amount;
          period_days[slot] += new_day ? 1 : 0;
        }
      }
      const int first_day = first->day;
      const int last_day = (last - 1)->day;
      last_order_day[c] = last_day;
      recency[c] = today - last_day;
      tenure[c] = today - first_day;
      order_count[c] = days;
      monetary_total[c] = total;
      repeat[c] = days - 1;
      span[c] = last_day - first_day;
      if (days >= 2) {
        interval[c] = static_cast<double>(last_day - first_day) / (days - 1);
        ratio[c] = recency[c] / std::max(interval[c], 1.0);
      }
      volume_now[c] = period_amount[0];
      volume_before[c] = period_amount[1];
      volume_change[c] = change(period_amount[0], period_amount[1]);
      frequency_change[c] = change(period_days[0], period_days[1]);
    }
  }
  grouped = {};
  {
    const int widest = settings.windows_days.back();
    std::vector<double> recency = f["recency_days"];
    std::vector<double> frequency = f[fmt::format("order_count_{}d", widest)];
    std::vector<double> monetary = f[fmt::format("monetary_{}d", widest)];
    for (std::size_t c = 0; c < customer_count; ++c) {
      if (f["order_count"][c] == 0) {
        frequency[c] = kMissing;
        monetary[c] = kMissing;
      }
    }
    f["recency_rank"] = percentile_ranks(recency, false);
    f["frequency_rank"] = percentile_ranks(frequency, true);
    f["monetary_rank"] = percentile_ranks(monetary, true);
    f["revenue_share_above"] = revenue_share_above(monetary);
  }

  // Activities: logins, downloads, meetings, key-contact changes.
  std::vector<int> last_login(customer_count, kNoDay);
  {
    auto& logins = f["logins_window"];
    auto& downloads_recent = f["downloads_recent"];
    auto& downloads_previous = f["downloads_previous"];
    auto& meetings = f["meetings_window"];
    auto& contact_changed = f["key_contact_changed"];
    std::vector<bool> has_activity(customer_count, false);
    RowScan<ActivityRow> activities = history.scan_activities_before(as_of_ms);
    for (ActivityRow activity; activities.next(activity);) {
      const std::int32_t c = index.dense(activity.customer_id);
      if (c < 0) {
        continue;
      }
      seen[c] = true;
      if (!has_activity[c]) {
        has_activity[c] = true;
        logins[c] = downloads_recent[c] = downloads_previous[c] = meetings[c] = 0;
      }
      const int day = day_of(activity.occurred_at_ms);
      const int age = today - day;
      const std::string_view kind = activity.kind;
      if (kind == "login") {
        last_login[c] = std::max(last_login[c], day);
        logins[c] += age < settings.login_window_days ? 1 : 0;
      } else if (kind == "download" || kind == "document_download") {
        downloads_recent[c] += age < settings.downloads_window_days ? 1 : 0;
        downloads_previous[c] +=
            age >= settings.downloads_window_days && age < 2 * settings.downloads_window_days ? 1 : 0;
      } else if (kind == "meeting") {
        meetings[c] += age < settings.login_window_days ? 1 : 0;
      } else if ((kind == "owner_changed" || kind == "owner_left") && age < settings.contact_change_window_days) {
        contact_changed[c] = std::isnan(contact_changed[c]) ? 1 : contact_changed[c] + 1;
      }
    }
    auto& days_since_login = f["days_since_login"];
    auto& downloads_change = f["downloads_change"];
    for (std::size_t c = 0; c < customer_count; ++c) {
      if (last_login[c] != kNoDay) {
        days_since_login[c] = today - last_login[c];
      }
      if (has_activity[c]) {
        downloads_change[c] = change(downloads_recent[c], downloads_previous[c]);
      }
    }
  }
  {
    RowScan<CustomerIdRow> contacts = history.scan_contacts_left_between(
        as_of_ms - settings.contact_change_window_days * kMillisecondsPerDay, as_of_ms);
    auto& contact_changed = f["key_contact_changed"];
    for (CustomerIdRow contact; contacts.next(contact);) {
      if (const std::int32_t c = index.dense(contact.customer_id); c >= 0) {
        contact_changed[c] = std::isnan(contact_changed[c]) ? 1 : contact_changed[c] + 1;
      }
    }
  }

  // Complaints from tickets and interactions; communication and follow-ups from interactions.
  std::vector<int> last_followup(customer_count, kNoDay);
  {
    auto& complaints = f["complaints_window"];
    auto& after_order = f["complaints_since_last_order"];
    auto& now = f["interactions_period"];
    auto& before = f["interactions_previous"];
    for (std::size_t c = 0; c < customer_count; ++c) {
      complaints[c] = 0;
      after_order[c] = 0;
      now[c] = 0;
      before[c] = 0;
    }
    std::vector<bool> has_channel(customer_count, false);
    const auto count_complaint = [&](std::int32_t c, int day) {
      seen[c] = true;
      has_channel[c] = true;
      complaints[c] += today - day < settings.complaints_window_days ? 1 : 0;
      after_order[c] += last_order_day[c] != kNoDay && day >= last_order_day[c] ? 1 : 0;
    };
    RowScan<TicketRow> tickets = history.scan_complaint_tickets_before(as_of_ms);
    for (TicketRow ticket; tickets.next(ticket);) {
      if (const std::int32_t c = index.dense(ticket.customer_id); c >= 0) {
        count_complaint(c, day_of(ticket.opened_at_ms));
      }
    }
    RowScan<InteractionRow> interactions = history.scan_interactions_before(as_of_ms);
    const int period = settings.period_days;
    for (InteractionRow interaction; interactions.next(interaction);) {
      const std::int32_t c = index.dense(interaction.customer_id);
      if (c < 0) {
        continue;
      }
      seen[c] = true;
      has_channel[c] = true;
      const int day = day_of(interaction.occurred_at_ms);
      const int age = today - day;
      now[c] += age < period ? 1 : 0;
      before[c] += age >= period && age < 2 * period ? 1 : 0;
      if (interaction.is_complaint) {
        count_complaint(c, day);
      }
      if (interaction.direction == "outbound") {
        last_followup[c] = std::max(last_followup[c], day);
      }
    }
    auto& communication = f["communication_change"];
    for (std::size_t c = 0; c < customer_count; ++c) {
      communication[c] = change(now[c], before[c]);
      // No ticket and no mail: the store knows nothing of this customer's complaints, which is not zero.
      if (!has_channel[c]) {
        complaints[c] = kMissing;
        after_order[c] = kMissing;
      }
    }
  }

  // Surveys, oldest first: the last three CSAT scores and the NPS of the last year's answers.
  {
    auto& csat1 = f["csat_last"];
    auto& csat2 = f["csat_second_last"];
    auto& csat3 = f["csat_third_last"];
    std::vector<std::array<int, 3>> nps_counts(customer_count, {0, 0, 0});  // promoters, detractors, answers
    RowScan<SurveyRow> surveys = history.scan_surveys_before(as_of_ms);
    for (SurveyRow survey; surveys.next(survey);) {
      const std::int32_t c = index.dense(survey.customer_id);
      if (c < 0) {
        continue;
      }
      seen[c] = true;
      const double score = survey.score;
      if (survey.kind == "csat") {
        csat3[c] = csat2[c];
        csat2[c] = csat1[c];
        csat1[c] = score;
      } else if (today - day_of(survey.answered_at_ms) < 365) {
        auto& counts = nps_counts[c];
        counts[0] += score >= 9 ? 1 : 0;
        counts[1] += score <= 6 ? 1 : 0;
        counts[2] += 1;
      }
    }
    auto& nps = f["nps"];
    auto& nps_gap = f["nps_vs_industry"];
    const double fallback = settings.industry_nps_mean.count("*") != 0 ? settings.industry_nps_mean.at("*") : 0.0;
    for (std::size_t c = 0; c < customer_count; ++c) {
      if (nps_counts[c][2] == 0) {
        continue;
      }
      nps[c] = 100.0 * (nps_counts[c][0] - nps_counts[c][1]) / nps_counts[c][2];
      const auto mean = settings.industry_nps_mean.find(index.industry[c]);
      nps_gap[c] = nps[c] - (mean != settings.industry_nps_mean.end() ? mean->second : fallback);
    }
  }

  // Payments due in the last year: mean days late (an unpaid overdue payment is late until today).
  {
    std::vector<std::pair<double, int>> delays(customer_count, {0.0, 0});
    RowScan<PaymentRow> payments = history.scan_payments_due_between(as_of_ms - 365 * kMillisecondsPerDay, as_of_ms);
    for (PaymentRow payment; payments.next(payment);) {
      const std::int32_t c = index.dense(payment.customer_id);
      if (c < 0) {
        continue;
      }
      seen[c] = true;
      const std::int64_t due = payment.due_at_ms;
      std::int64_t settled = as_of_ms;
      if (payment.paid_at_ms) {
        settled = std::min(settled, *payment.paid_at_ms);
      }
      delays[c].first += static_cast<double>(std::max<std::int64_t>(0, settled - due)) / kMillisecondsPerDay;
      delays[c].second += 1;
    }
    auto& delay = f["payment_delay_days"];
    for (std::size_t c = 0; c < customer_count; ++c) {
      if (delays[c].second > 0) {
        delay[c] = delays[c].first / delays[c].second;
      }
    }
  }

  // Attributes with no date: share of wallet (0-1 or a percentage) and strategic value (0-100).
  {
    auto& wallet = f["share_of_wallet"];
    auto& strategic = f["strategic_value"];
    RowScan<AttributeRow> attributes = history.scan_value_attributes();
    for (AttributeRow attribute; attributes.next(attribute);) {
      const std::int32_t c = index.dense(attribute.customer_id);
      if (c < 0) {
        continue;
      }
      char* end = nullptr;
      const std::string text(attribute.value);  // strtod needs the terminating NUL
      const double value = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || !std::isfinite(value)) {
        continue;
      }
      if (attribute.name == "share_of_wallet") {
        wallet[c] = value > 1 ? value / 100.0 : value;
      } else {
        strategic[c] = value;
      }
    }
  }

  // Follow-up cadence against the tier of the last scoring run before this date.
  {
    std::vector<std::string> tier(customer_count, "general");
    RowScan<CustomerTierRow> tiers = ScoreRunRepository(db).scan_tiers_of_last_run_before(as_of_ms);
    std::unordered_map<std::int64_t, std::size_t> position;
    position.reserve(customer_count);
    for (std::size_t c = 0; c < customer_count; ++c) {
      position.emplace(index.unified_ids[c], c);
    }
    for (CustomerTierRow row; tiers.next(row);) {
      if (const auto found = position.find(row.customer_id); found != position.end()) {
        tier[found->second] = row.tier;
      }
    }
    auto& since = f["days_since_followup"];
    auto& overdue = f["followup_overdue_days"];
    for (std::size_t c = 0; c < customer_count; ++c) {
      if (last_followup[c] == kNoDay) {
        continue;
      }
      since[c] = today - last_followup[c];
      const auto interval = settings.followup_interval_days.find(tier[c]);
      const int allowed = interval != settings.followup_interval_days.end() ? interval->second : 90;
      overdue[c] = since[c] - allowed;
    }
  }

  for (std::size_t c = 0; c < customer_count; ++c) {
    if (!seen[c]) {
      for (auto& column : f.columns_) {
        column[c] = kMissing;
      }
    }
  }

  add_attribute_features(history, index, settings, f);

  CustomerFeatures features;
  features.as_of_ms = as_of_ms;
  features.customer_ids = index.unified_ids;
  features.names = std::move(f.names_);
  features.columns = std::move(f.columns_);
  features.revenue_last_year = std::move(revenue_last_year);
  return features;
}

std::vector<std::size_t> buyer_rows(const CustomerFeatures& features) {
  const std::vector<double>& orders = features.column("order_count");
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < features.size(); ++i) {
    if (orders[i] > 0) {
      rows.push_back(i);
    }
  }
  return rows;
}

std::vector<double> churn_labels(Database& db, const CustomerFeatures& features, std::int64_t from_ms,
                                 std::int64_t to_ms) {
  std::unordered_map<std::int64_t, std::size_t> position;
  position.reserve(features.size());
  for (std::size_t c = 0; c < features.size(); ++c) {
    position.emplace(features.customer_ids[c], c);
  }
  std::vector<double> churned(features.size(), 1.0);
  RowScan<CustomerIdRow> purchasers = CustomerHistoryRepository(db).scan_unified_purchasers_between(from_ms, to_ms);
  for (CustomerIdRow purchaser; purchasers.next(purchaser);) {
    if (const auto found = position.find(purchaser.customer_id); found != position.end()) {
      churned[found->second] = 0.0;
    }
  }
  return churned;
}

}  // namespace crm::host
