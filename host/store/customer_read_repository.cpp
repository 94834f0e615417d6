#include "store/customer_read_repository.hpp"

#include <cstdint>
#include <fmt/format.h>

#include "store/customer_detail_repository.hpp"
#include "store/purchases.hpp"

namespace crm::host {

namespace {

std::string text_or_empty(const Statement& row, int column) {
  return row.column_is_null(column) ? std::string() : row.column_text(column);
}

std::optional<double> optional_double(const Statement& row, int column) {
  return row.column_is_null(column) ? std::nullopt : std::optional<double>(row.column_double(column));
}

std::optional<std::int64_t> optional_int64(const Statement& row, int column) {
  return row.column_is_null(column) ? std::nullopt : std::optional<std::int64_t>(row.column_int64(column));
}

}  // namespace

std::optional<std::int64_t> CustomerReadRepository::find_by_id(std::int64_t customer_id) {
  Statement query = db_.prepare("SELECT id FROM customers WHERE id = ?1");
  query.bind(1, customer_id);
  return query.step() ? std::optional<std::int64_t>(query.column_int64(0)) : std::nullopt;
}

std::optional<std::int64_t> CustomerReadRepository::find_by_source(std::string_view source,
                                                                   std::string_view external_id) {
  Statement query =
      db_.prepare("SELECT coalesce(unified_id, id) FROM customers WHERE source = ?1 AND external_id = ?2");
  query.bind(1, source).bind(2, external_id);
  return query.step() ? std::optional<std::int64_t>(query.column_int64(0)) : std::nullopt;
}

std::vector<std::string> CustomerReadRepository::known_as(std::int64_t customer_id) {
  Statement query = db_.prepare(fmt::format(
      "SELECT source || ':' || external_id FROM customers WHERE id IN ({}) ORDER BY id", kUnifiedRecordIds));
  query.bind(1, customer_id);
  std::vector<std::string> names;
  while (query.step()) {
    names.push_back(query.column_text(0));
  }
  return names;
}

std::vector<CustomerScoreLine> CustomerReadRepository::latest_scores(std::int64_t customer_id, std::size_t max_runs) {
  Statement query = db_.prepare(
      "SELECT s.run_id, r.as_of_ms, s.score, s.band, s.tier, s.stage, s.abc_class, s.reasons, s.scores_json, "
      "s.explain_json, r.primary_scorer, r.scorers_json, s.churn_probability, r.horizon_days FROM score_runs r "
      // Run by run, newest first, each a lookup by the key (migration 18); CROSS JOIN keeps SQLite to that order.
      "CROSS JOIN customer_scores s WHERE s.run_id = r.id AND s.customer_id = ?1 AND r.finished_ms IS NOT NULL "
      "ORDER BY r.id DESC LIMIT ?2");
  query.bind(1, customer_id).bind(2, static_cast<std::int64_t>(max_runs));
  std::vector<CustomerScoreLine> lines;
  while (query.step()) {
    CustomerScoreLine& line = lines.emplace_back();
    line.run_id = query.column_int64(0);
    line.as_of_ms = query.column_int64(1);
    line.score = optional_double(query, 2);
    line.band = text_or_empty(query, 3);
    line.tier = text_or_empty(query, 4);
    line.stage = text_or_empty(query, 5);
    line.abc_class = text_or_empty(query, 6);
    line.reasons = text_or_empty(query, 7);
    line.scores_json = text_or_empty(query, 8);
    line.explain_json = text_or_empty(query, 9);
    line.primary_scorer = text_or_empty(query, 10);
    line.scorers_json = text_or_empty(query, 11);
    line.churn_probability = optional_double(query, 12);
    if (!query.column_is_null(13)) {
      line.horizon_days = query.column_int64(13);
    }
  }
  return lines;
}

std::map<std::string, std::size_t> CustomerReadRepository::tier_counts(std::int64_t run_id) {
  Statement query =
      db_.prepare("SELECT tier, count(*) FROM customer_scores WHERE run_id = ?1 AND tier IS NOT NULL GROUP BY tier");
  query.bind(1, run_id);
  std::map<std::string, std::size_t> counts;
  while (query.step()) {
    counts[query.column_text(0)] = static_cast<std::size_t>(query.column_int64(1));
  }
  return counts;
}

std::optional<CustomerProfile> CustomerReadRepository::profile(std::int64_t customer_id) {
  Statement query = db_.prepare(
      "SELECT id, source, external_id, name, country, industry, created_at_ms, is_placeholder FROM customers "
      "WHERE id = ?1");
  query.bind(1, customer_id);
  if (!query.step()) {
    return std::nullopt;
  }
  CustomerProfile profile;
  profile.id = query.column_int64(0);
  profile.source = query.column_text(1);
  profile.external_id = query.column_text(2);
  profile.name = text_or_empty(query, 3);
  profile.country = text_or_empty(query, 4);
  profile.industry = text_or_empty(query, 5);
  profile.created_at_ms = optional_int64(query, 6);
  profile.is_placeholder = query.column_int64(7) != 0;
  return profile;
}

std::vector<CustomerContact> CustomerReadRepository::contacts(std::int64_t customer_id) {
  Statement query = db_.prepare(
      fmt::format("SELECT t.id, t.name, t.email, t.phone, t.role, t.owner, coalesce(t.is_key_contact, 0), t.left_at_ms "
                  "FROM contacts t WHERE t.customer_id IN ({}) ORDER BY t.id",
                  kUnifiedRecordIds));
  query.bind(1, customer_id);
  std::vector<CustomerContact> contacts;
  while (query.step()) {
    CustomerContact& contact = contacts.emplace_back();
    contact.id = query.column_int64(0);
    contact.name = text_or_empty(query, 1);
    contact.email = text_or_empty(query, 2);
    contact.phone = text_or_empty(query, 3);
    contact.role = text_or_empty(query, 4);
    contact.owner = text_or_empty(query, 5);
    contact.is_key_contact = query.column_int64(6) != 0;
    contact.left_at_ms = optional_int64(query, 7);
  }
  return contacts;
}

namespace {

// Parameters numbered in the order the query text uses them: PostgreSQL
// needs every number from 1 to the highest to appear in the statement.
class Parameters {
 public:
  std::string add(std::int64_t value) { return push({Kind::integer, value, 0, {}}); }
  std::string add(double value) { return push({Kind::real, 0, value, {}}); }
  std::string add(std::string value) { return push({Kind::text, 0, 0, std::move(value)}); }
  void bind(Statement& statement) const {
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const Value& value = values_[i];
      const int index = static_cast<int>(i + 1);
      switch (value.kind) {
        case Kind::integer:
          statement.bind(index, value.integer);
          break;
        case Kind::real:
          statement.bind(index, value.real);
          break;
        case Kind::text:
          statement.bind(index, std::string_view(value.text));
          break;
      }
    }
  }

 private:
  enum class Kind { integer, real, text };
  struct Value {
    Kind kind;
    std::int64_t integer;
    double real;
    std::string text;
  };
  std::string push(Value value) {
    values_.push_back(std::move(value));
    return fmt::format("?{}", values_.size());
  }
  std::vector<Value> values_;
};

struct SortSql {
  std::string key;   // the key expression
  std::string join;  // what the key needs besides customer_scores s and customers c
  bool text = false;
};

constexpr std::int64_t kMillisecondsPerYear = 365LL * 24 * 60 * 60 * 1000;

// The table of a run's list order by `sort` (migration 17), or nullptr for the sorts it has none of.
const char* list_order_table(CustomerSort sort) {
  switch (sort) {
    case CustomerSort::score:
      return "run_list_by_score";
    case CustomerSort::score_change:
      return "run_list_by_change";
    case CustomerSort::value:
      return "run_list_by_value";
    case CustomerSort::name:
    case CustomerSort::id:
      return nullptr;
  }
  return nullptr;
}

// `keyed`: the run's keys are in list_order_table(filter.sort) k, read by its indexes.
SortSql sort_sql(const CustomerListFilter& filter, bool keyed, Parameters& parameters) {
  if (keyed && filter.sort == CustomerSort::score) {
    return {"k.score", "", false};
  }
  if (keyed && filter.sort == CustomerSort::score_change) {
    return {"k.score_change", "", false};
  }
  if (keyed && filter.sort == CustomerSort::value) {
    return {"k.value", "", false};
  }
  switch (filter.sort) {
    case CustomerSort::score:
      return {"s.score", "", false};
    case CustomerSort::score_change:
      return {"s.score - p.score",
              fmt::format("LEFT JOIN customer_scores p ON p.run_id = {} AND p.customer_id = s.customer_id",
                          parameters.add(filter.previous_run_id)),
              false};
    case CustomerSort::value: {
      const std::string from = parameters.add(filter.run_as_of_ms - kMillisecondsPerYear);
      const std::string to = parameters.add(filter.run_as_of_ms);
      return {"coalesce(v.revenue, 0)",
              fmt::format("LEFT JOIN (SELECT coalesce(c2.unified_id, c2.id) AS customer_id, sum(o.amount) AS revenue "
                          "FROM orders o JOIN customers c2 ON c2.id = o.customer_id WHERE o.ordered_at_ms >= {} AND "
                          "o.ordered_at_ms < {} AND {} GROUP BY coalesce(c2.unified_id, c2.id)) v "
                          "ON v.customer_id = s.customer_id",
                          from, to, purchase_condition("o")),
              false};
    }
    case CustomerSort::name:
      return {"lower(c.name)", "", true};
    case CustomerSort::id:
      return {"s.customer_id", "", false};
  }
  return {"s.score", "", false};
}

}  // namespace

std::vector<CustomerListRow> CustomerReadRepository::list(const CustomerListFilter& filter) {
  std::int64_t run_id = filter.run_id;
  if (run_id == 0) {
    const std::optional<FinishedRun> latest = latest_finished_run();
    if (!latest) {
      return {};
    }
    run_id = latest->id;
  }
  const bool keyed = uses_stored_keys(filter, run_id);
  // With stored keys the rows are read from the order table's index on (run, band, key, id), or for
  // the score without a band filter on (run, score, id).
  const std::string keys = keyed ? "k." : "s.";
  const std::string id = keys + "customer_id";
  const std::string direction = filter.descending ? "DESC" : "ASC";
  const std::string beyond = filter.descending ? "<" : ">";
  const std::size_t wanted = filter.limit == 0 ? SIZE_MAX : filter.limit;
  std::vector<CustomerListRow> rows;
  // phase 0: rows with a sort key; 1: rows without; -1: both in one query (offset pages).
  const auto read = [&](int phase, std::size_t limit) {
    Parameters parameters;
    const SortSql sort = sort_sql(filter, keyed, parameters);
    std::string where = fmt::format("{}run_id = {}", keys, parameters.add(run_id));
    if (!filter.tier.empty()) {
      where += fmt::format(" AND s.tier = {}", parameters.add(filter.tier));
    }
    if (!filter.stage.empty()) {
      where += fmt::format(" AND s.stage = {}", parameters.add(filter.stage));
    }
    if (!filter.abc_class.empty()) {
      where += fmt::format(" AND s.abc_class = {}", parameters.add(filter.abc_class));
    }
    for (std::size_t i = 0; i < filter.bands.size(); ++i) {
      where +=
          fmt::format("{}{}", i == 0 ? fmt::format(" AND {}band IN (", keys) : ", ", parameters.add(filter.bands[i]));
    }
    where += filter.bands.empty() ? "" : ")";
    if (filter.changed_band_since_run_id) {
      where += fmt::format(
          " AND NOT EXISTS (SELECT 1 FROM customer_scores b WHERE b.run_id = {} AND b.customer_id = s.customer_id "
          "AND b.band = s.band)",
          parameters.add(*filter.changed_band_since_run_id));
    }
    std::string order;
    if (phase == -1) {
      order = fmt::format("CASE WHEN {0} IS NULL THEN 1 ELSE 0 END, {0} {1}, {2} {1}", sort.key, direction, id);
    } else if (phase == 0) {
      where += fmt::format(" AND {} IS NOT NULL", sort.key);
      if (filter.after && filter.after->phase == 0) {
        const std::string after_id = parameters.add(filter.after->customer_id);
        if (filter.sort == CustomerSort::id) {
          where += fmt::format(" AND {} {} {}", id, beyond, after_id);
        } else {
          const std::string key = sort.text ? parameters.add(filter.after->text) : parameters.add(filter.after->number);
          where += fmt::format(" AND ({}, {}) {} ({}, {})", sort.key, id, beyond, key, after_id);
        }
      }
      order = fmt::format("{0} {1}, {2} {1}", sort.key, direction, id);
    } else {
      where += fmt::format(" AND {} IS NULL", sort.key);
      if (filter.after && filter.after->phase == 1) {
        where += fmt::format(" AND {} {} {}", id, beyond, parameters.add(filter.after->customer_id));
      }
      order = fmt::format("{} {}", id, direction);
    }
    // SQLite and PostgreSQL both read LIMIT -1 / NULL differently: "every match" is the largest count instead.
    const std::string limit_parameter =
        parameters.add(limit == SIZE_MAX ? INT64_MAX : static_cast<std::int64_t>(limit));
    const std::string offset_parameter = parameters.add(static_cast<std::int64_t>(phase == -1 ? filter.offset : 0));
    Statement query = db_.prepare(fmt::format(
        "SELECT c.id, coalesce(c.name, ''), c.source, c.external_id, s.score, s.band, s.tier, s.stage, s.abc_class, "
        "{} FROM {} JOIN customers c ON c.id = s.customer_id {} WHERE {} ORDER BY {} "
        "LIMIT CAST({} AS BIGINT) OFFSET CAST({} AS BIGINT)",
        sort.key,
        keyed ? fmt::format("{} k JOIN customer_scores s ON s.run_id = k.run_id AND s.customer_id = k.customer_id",
                            list_order_table(filter.sort))
              : std::string("customer_scores s"),
        sort.join, where, order, limit_parameter, offset_parameter));
    parameters.bind(query);
    while (query.step()) {
      CustomerListRow& row = rows.emplace_back();
      row.customer_id = query.column_int64(0);
      row.name = query.column_text(1);
      row.source = query.column_text(2);
      row.external_id = query.column_text(3);
      row.score = optional_double(query, 4);
      row.band = text_or_empty(query, 5);
      row.tier = text_or_empty(query, 6);
      row.stage = text_or_empty(query, 7);
      row.abc_class = text_or_empty(query, 8);
      if (!query.column_is_null(9)) {
        if (sort.text) {
          row.sort_text = query.column_text(9);
        } else {
          row.sort_number = query.column_double(9);
        }
      }
    }
  };
  if (filter.offset > 0) {
    read(-1, wanted);
    return rows;
  }
  if (!filter.after || filter.after->phase == 0) {
    read(0, wanted);
  }
  if (rows.size() < wanted) {
    read(1, wanted == SIZE_MAX ? SIZE_MAX : wanted - rows.size());
  }
  return rows;
}

// The run's keys of the filter's sort were stored (the score order: every
// run the scoring job wrote; change and value: runs written since migration
// 15, and the newest one before it) and are the ones it asks for: the change
// since the finished run before it, the value as of the run's own date.
bool CustomerReadRepository::uses_stored_keys(const CustomerListFilter& filter, std::int64_t run_id) {
  const char* table = list_order_table(filter.sort);
  if (table == nullptr) {
    return false;
  }
  Statement query = db_.prepare(fmt::format(
      "SELECT r.as_of_ms, coalesce((SELECT max(q.id) FROM score_runs q WHERE q.id < r.id AND q.finished_ms IS NOT "
      "NULL), 0) FROM score_runs r WHERE r.id = ?1 AND EXISTS (SELECT 1 FROM {} k WHERE k.run_id = r.id)",
      table));
  query.bind(1, run_id);
  if (!query.step()) {
    return false;
  }
  switch (filter.sort) {
    case CustomerSort::score_change:
      return query.column_int64(1) == filter.previous_run_id;
    case CustomerSort::value:
      return query.column_int64(0) == filter.run_as_of_ms;
    default:
      return true;
  }
}

std::optional<FinishedRun> CustomerReadRepository::latest_finished_run(std::optional<std::int64_t> at_ms) {
  Statement query = db_.prepare(
      "SELECT id, as_of_ms FROM score_runs WHERE finished_ms IS NOT NULL AND finished_ms <= ?1 ORDER BY id DESC "
      "LIMIT 1");
  query.bind(1, at_ms.value_or(INT64_MAX));
  return query.step() ? std::optional<FinishedRun>(FinishedRun{query.column_int64(0), query.column_int64(1)})
                      : std::nullopt;
}

std::optional<FinishedRun> CustomerReadRepository::finished_run_before(std::int64_t run_id) {
  Statement query = db_.prepare(
      "SELECT id, as_of_ms FROM score_runs WHERE finished_ms IS NOT NULL AND id < ?1 ORDER BY id DESC LIMIT 1");
  query.bind(1, run_id);
  return query.step() ? std::optional<FinishedRun>(FinishedRun{query.column_int64(0), query.column_int64(1)})
                      : std::nullopt;
}

}  // namespace crm::host
