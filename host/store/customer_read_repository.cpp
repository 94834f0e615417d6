#include "store/customer_read_repository.hpp"

#include <fmt/format.h>

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
  Statement query =
      db_.prepare("SELECT source || ':' || external_id FROM customers WHERE coalesce(unified_id, id) = ?1 ORDER BY id");
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
      "s.explain_json, r.primary_scorer, r.scorers_json FROM customer_scores s JOIN score_runs r ON r.id = s.run_id "
      "WHERE s.customer_id = ?1 AND r.finished_ms IS NOT NULL ORDER BY r.id DESC LIMIT ?2");
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
      "SELECT t.id, t.name, t.email, t.phone, t.role, t.owner, coalesce(t.is_key_contact, 0), t.left_at_ms "
      "FROM contacts t JOIN customers c ON c.id = t.customer_id WHERE coalesce(c.unified_id, c.id) = ?1 "
      "ORDER BY t.id");
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

std::vector<CustomerListRow> CustomerReadRepository::list(const CustomerListFilter& filter) {
  // Parameters 1-3 are the single-valued filters, 4 and 5 the page, 6... the bands.
  std::string bands_condition;
  for (std::size_t i = 0; i < filter.bands.size(); ++i) {
    bands_condition += fmt::format("{}?{}", i == 0 ? " AND s.band IN (" : ", ", 6 + i);
  }
  if (!bands_condition.empty()) {
    bands_condition += ")";
  }
  Statement query = db_.prepare(fmt::format(
      "SELECT c.id, coalesce(c.name, ''), c.source, c.external_id, s.score, s.band, s.tier, s.stage, s.abc_class "
      "FROM customer_scores s JOIN customers c ON c.id = s.customer_id "
      "WHERE s.run_id = (SELECT max(id) FROM score_runs WHERE finished_ms IS NOT NULL) "
      "AND (CAST(?1 AS TEXT) = '' OR s.tier = ?1) AND (CAST(?2 AS TEXT) = '' OR s.stage = ?2) "
      "AND (CAST(?3 AS TEXT) = '' OR s.abc_class = ?3){} "
      "ORDER BY CASE WHEN s.score IS NULL THEN 1 ELSE 0 END, s.score, c.id "
      "LIMIT CAST(?4 AS BIGINT) OFFSET CAST(?5 AS BIGINT)",
      bands_condition));
  query.bind(1, filter.tier).bind(2, filter.stage).bind(3, filter.abc_class);
  // SQLite and PostgreSQL both read LIMIT -1 / NULL differently: "every match" is the largest count instead.
  query.bind(4, filter.limit == 0 ? INT64_MAX : static_cast<std::int64_t>(filter.limit));
  query.bind(5, static_cast<std::int64_t>(filter.offset));
  for (std::size_t i = 0; i < filter.bands.size(); ++i) {
    query.bind(static_cast<int>(6 + i), filter.bands[i]);
  }
  std::vector<CustomerListRow> rows;
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
  }
  return rows;
}

}  // namespace crm::host
