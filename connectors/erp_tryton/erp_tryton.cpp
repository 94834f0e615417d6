// erp_tryton: parties and sales of a Tryton ERP over its JSON-RPC API
// (common.db.login, then search_read with a Session header), incremental on
// create_date/write_date. Each model is read in passes: the records created
// or written since the last pass's newest timestamp, paged by id, one page a
// batch; re-reading the boundary second is harmless because records are
// keyed by their Tryton id.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "crm/plugin.hpp"
#include "erp_tryton_manifest.h"
#include "plugin_support/civil_time.hpp"
#include "plugin_support/http.hpp"

namespace crm::connectors {
namespace {

using nlohmann::json;
using plugin_support::base64_encode;
using plugin_support::civil_from_days;
using plugin_support::CivilDate;
using plugin_support::days_from_civil;
using plugin_support::http_request;
using plugin_support::HttpResponse;

// Tryton's {"__class__": "datetime" | "date", ...} (naive UTC) to ms; CRM_TIME_UNKNOWN for null.
std::int64_t tryton_time_ms(const json& value) {
  if (!value.is_object()) {
    return CRM_TIME_UNKNOWN;
  }
  const std::int64_t days =
      days_from_civil(value.at("year").get<int>(), value.at("month").get<unsigned>(), value.at("day").get<unsigned>());
  const std::int64_t seconds = days * 86400 + std::int64_t{value.value("hour", 0)} * 3600 +
                               std::int64_t{value.value("minute", 0)} * 60 + value.value("second", 0);
  return seconds * 1000 + value.value("microsecond", 0) / 1000;
}

json tryton_datetime(std::int64_t ms) {
  const std::int64_t seconds = ms / 1000;
  const CivilDate date = civil_from_days(seconds / 86400);
  const std::int64_t in_day = seconds % 86400;
  return {{"__class__", "datetime"}, {"year", date.year},
          {"month", date.month},     {"day", date.day},
          {"hour", in_day / 3600},   {"minute", in_day / 60 % 60},
          {"second", in_day % 60},   {"microsecond", ms % 1000 * 1000}};
}

double tryton_decimal(const json& value) {
  if (value.is_object() && value.contains("decimal")) {
    return std::stod(value["decimal"].get<std::string>());
  }
  return value.is_number() ? value.get<double>() : std::nan("");
}

std::string text_of(const json& value) {
  return value.is_string() ? value.get<std::string>() : std::string();
}

class TrytonClient {
 public:
  TrytonClient(const std::string& url, const std::string& database, std::string username, std::string password,
               long timeout_ms)
      : endpoint_(url + database + "/"),
        username_(std::move(username)),
        password_(std::move(password)),
        timeout_ms_(timeout_ms) {}

  json call(const std::string& method, const json& params) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auth_.empty()) {
        login();
      }
      const HttpResponse response = post(method, params, true);
      if (response.status == 401 || response.status == 403) {
        auth_.clear();  // the session expired: log in again once
        continue;
      }
      return result_of(method, response);
    }
    throw crm::RetriableError("Tryton " + method + " kept refusing fresh sessions");
  }

 private:
  HttpResponse post(const std::string& method, const json& params, bool with_session) {
    const std::string body = json{{"method", method}, {"params", params}, {"id", ++request_id_}}.dump();
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (with_session) {
      headers.push_back("Authorization: Session " + auth_);
    }
    return http_request("Tryton " + method, endpoint_, &body, headers, timeout_ms_);
  }

  static json result_of(const std::string& method, const HttpResponse& response) {
    if (response.status >= 500) {
      throw crm::RetriableError("Tryton " + method + " returned HTTP " + std::to_string(response.status));
    }
    if (response.status == 404) {
      throw crm::ConfigError("Tryton returned HTTP 404 for " + method + "; check url and database");
    }
    json reply = json::parse(response.body, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) {
      throw crm::RetriableError("Tryton " + method + " answered with something that is not JSON");
    }
    if (reply.contains("error") && !reply["error"].is_null()) {
      throw crm::FatalError("Tryton " + method + " failed: " + reply["error"].dump().substr(0, 300));
    }
    return reply.value("result", json());
  }

  void login() {
    const HttpResponse response = post("common.db.login", {username_, {{"password", password_}}, "en"}, false);
    if (response.status == 401 || response.status == 403) {
      throw crm::ConfigError("Tryton refused the login of " + username_ + "; check username and password");
    }
    const json result = result_of("common.db.login", response);
    if (!result.is_array() || result.size() < 2) {
      throw crm::ConfigError("Tryton refused the login of " + username_ + "; check username and password");
    }
    auth_ = base64_encode(username_ + ":" + std::to_string(result[0].get<long>()) + ":" + result[1].get<std::string>());
  }

  std::string endpoint_;
  std::string username_;
  std::string password_;
  long timeout_ms_;
  std::string auth_;
  long request_id_ = 0;
};

class ErpTrytonConnector final : public crm::Connector {
 public:
  CRM_PLUGIN_METADATA(ERP_TRYTON)
  static constexpr crm_record_type kRecordTypes[] = {CRM_RECORD_CUSTOMER, CRM_RECORD_ORDER};

  ErpTrytonConnector(const crm::Host& host, std::string_view config_json) {
    const json config = json::parse(config_json);
    const auto password = host.secret("/password");
    if (!password) {
      throw crm::ConfigError("password is missing");
    }
    client_ = std::make_unique<TrytonClient>(
        config.at("url").get<std::string>(), config.at("database").get<std::string>(),
        config.at("username").get<std::string>(), *password, config.at("timeout_ms").get<long>());
    page_size_ = config.at("page_size").get<int>();
    currency_ = config.value("currency", "");
  }

  void fetch(const crm::Host& /*host*/, std::string_view cursor_text, crm::RecordBatch& batch) override {
    json cursor = cursor_text.empty() ? json::object() : json::parse(cursor_text);
    const std::string model = cursor.value("phase", "party.party");
    json& state = cursor[model];
    if (!state.is_object()) {
      state = json::object();
    }
    const std::int64_t since_ms = state.value("since_ms", std::int64_t{0});
    const long last_id = state.value("last_id", 0L);
    const json changed =
        json::array({"OR", json::array({json::array({"create_date", ">=", tryton_datetime(since_ms)})}),
                     json::array({json::array({"write_date", ">=", tryton_datetime(since_ms)})})});
    const json domain = json::array({changed, json::array({"id", ">", last_id})});
    const bool parties = model == "party.party";
    const json fields =
        parties
            ? json::array({"id", "name", "code", "create_date", "write_date"})
            : json::array({"id", "number", "party", "sale_date", "state", "total_amount", "create_date", "write_date"});
    const json rows =
        client_->call("model." + model + ".search_read",
                      {domain, 0, page_size_, json::array({json::array({"id", "ASC"})}), fields, json::object()});
    std::int64_t newest_ms = state.value("newest_ms", since_ms);
    long max_id = last_id;
    const std::map<long, json> lines = parties ? std::map<long, json>{} : sale_lines(rows);
    for (const json& row : rows) {
      const long id = row.at("id").get<long>();
      max_id = std::max(max_id, id);
      newest_ms = std::max({newest_ms, tryton_time_ms(row["create_date"]), tryton_time_ms(row["write_date"])});
      if (parties) {
        crm_customer_record customer{};
        customer.external_id = batch.keep(std::to_string(id));
        customer.name = batch.keep(text_of(row["name"]));
        customer.created_at_ms = tryton_time_ms(row["create_date"]);
        batch.add(customer);
        continue;
      }
      crm_order_record order{};
      order.external_id = batch.keep(std::to_string(id));
      order.customer_external_id = batch.keep(std::to_string(row.at("party").get<long>()));
      order.ordered_at_ms =
          row["sale_date"].is_object() ? tryton_time_ms(row["sale_date"]) : tryton_time_ms(row["create_date"]);
      order.amount = tryton_decimal(row["total_amount"]);
      order.currency = batch.keep(currency_);
      order.status = batch.keep(text_of(row["state"]));
      order.quantity = std::nan("");
      if (const auto found = lines.find(id); found != lines.end()) {
        order.product_line = batch.keep(found->second.value("product_line", ""));
        order.quantity = found->second.value("quantity", 0.0);
      }
      batch.add(order);
    }
    batch.add_source_records(rows.size());
    if (static_cast<int>(rows.size()) < page_size_) {
      // This model's pass is done: the next one starts at its newest timestamp.
      state = {{"since_ms", newest_ms}, {"last_id", 0}, {"newest_ms", newest_ms}};
      cursor["phase"] = parties ? "sale.sale" : "party.party";
      batch.set_has_more(parties);
    } else {
      state["last_id"] = max_id;
      state["newest_ms"] = newest_ms;
      batch.set_has_more(true);
    }
    batch.set_next_cursor(cursor.dump());
  }

 private:
  // Per sale: the first line's description as product line, and the total quantity.
  std::map<long, json> sale_lines(const json& sales) {
    std::map<long, json> lines;
    json ids = json::array();
    for (const json& sale : sales) {
      ids.push_back(sale.at("id"));
    }
    if (ids.empty()) {
      return lines;
    }
    const json rows = client_->call(
        "model.sale.line.search_read",
        {json::array({json::array({"sale", "in", ids})}), 0, nullptr, json::array({json::array({"id", "ASC"})}),
         json::array({"sale", "description", "quantity"}), json::object()});
    for (const json& row : rows) {
      json& line = lines[row.at("sale").get<long>()];
      if (!line.contains("product_line")) {
        line["product_line"] = text_of(row["description"]);
      }
      line["quantity"] =
          line.value("quantity", 0.0) + (row["quantity"].is_number() ? row["quantity"].get<double>() : 0);
    }
    return lines;
  }

  std::unique_ptr<TrytonClient> client_;
  int page_size_ = 500;
  std::string currency_;
};

}  // namespace
}  // namespace crm::connectors

CRM_EXPORT_PLUGINS(crm::connectors::ErpTrytonConnector)
