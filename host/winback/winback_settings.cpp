#include "winback/winback_settings.hpp"

namespace crm::host {

const char* const kWinbackSettingsSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "silence_multiple": {"type": "number", "exclusiveMinimum": 0},
    "min_silence_days": {"type": "number", "minimum": 0},
    "min_orders": {"type": "integer", "minimum": 2},
    "margin": {"type": "number", "minimum": 0, "maximum": 1},
    "value_horizon_years": {"type": "number", "exclusiveMinimum": 0},
    "excluded_reasons": {"type": "array", "items": {"enum": ["abandoned_by_us", "forced_to_leave", "bought_off",
                                                             "attracted_away", "left_dissatisfied", "other"]}},
    "competitor_terms": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "closure_terms": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "inducement_terms": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "discontinued_product_lines": {"type": "array", "items": {"type": "string"}},
    "mass_churn_count": {"type": "integer", "minimum": 1},
    "mass_churn_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "mass_churn_min_count": {"type": "integer", "minimum": 1},
    "mass_churn_period_days": {"type": "number", "exclusiveMinimum": 0},
    "holdout_percent": {"type": "number", "minimum": 0, "maximum": 100},
    "recovery_window_days": {"type": "number", "exclusiveMinimum": 0},
    "budget": {"type": "number", "minimum": 0},
    "max_offer_cost": {"type": "number", "minimum": 0},
    "min_days_between_contacts": {"type": "number", "minimum": 0},
    "channel_daily_cap": {"type": "integer", "minimum": 0},
    "quiet_hours": {"$comment": "kQuietHoursSchema, put in by the host configuration's schema"},
    "channel": {"type": "string", "minLength": 1,
                "description": "The channel of the built-in playbooks (default alert_console)"
}
, "playbooks" : {
  "type" : "array",
  "items" : {
    "type" : "object",
    "additionalProperties" : false,
    "required" : [ "id", "steps" ],
    "properties" : {
      "id" : {"type" : "string", "minLength" : 1},
      "version" : {"type" : "integer", "minimum" : 1},
      "reasons" : {"type" : "array", "items" : {"type" : "string"}},
      "tiers" : {"type" : "array", "items" : {"type" : "string"}},
      "steps" : {
        "type" : "array",
        "minItems" : 1,
        "items" : {
          "type" : "object",
          "additionalProperties" : false,
          "required" : ["kind"],
          "properties" : {
            "kind" : {"enum" : [ "message", "task", "wait", "branch", "offer", "end" ]},
            "channel" : {"type" : "string"},
            "text" : {"type" : "string"},
            "recipients" : {"type" : "array", "items" : {"type" : "string"}},
            "owner" : {"type" : "string"},
            "days" : {"type" : "number", "minimum" : 0},
            "condition" : {"enum" : [ "replied", "ordered_again", "ticket_resolved", "task_done", "score_above" ]},
            "band" : {"type" : "string"},
            "goto" : {"type" : "integer", "minimum" : -1},
            "cost" : {"type" : "number", "minimum" : 0}
          },
          "allOf" : [
            {
              "if" : {"properties" : {"kind" : {"enum" : [ "message", "offer" ]}}},
              "then" : {"required" : [ "channel", "text" ]}
            },
            {"if" : {"properties" : {"kind" : {"const" : "branch"}}}, "then" : {"required" : [ "condition", "goto" ]}},
            {"if" : {"properties" : {"kind" : {"const" : "wait"}}}, "then" : {"required" : ["days"]}},
            {"if" : {"properties" : {"kind" : {"const" : "task"}}}, "then" : {"required" : ["text"]}}
          ]
        }
      }
    }
  }
},
                "revival_interval_days" : {"type" : "number", "exclusiveMinimum" : 0},
                                          "revival_channel" : {"type" : "string"},
                                                              "revival_text" : {"type" : "string", "minLength" : 1},
                                                                               "new_need_activity_kinds" : {
  "type" : "array", "items" : {
    "type" : "string"
  }
}
}
})json";

std::vector<Playbook> default_playbooks(const std::string& channel) {
  const auto message = [&](std::string text) {
    return PlaybookStep{.kind = "message", .channel = channel, .text = std::move(text)};
  };
  const auto offer = [&](std::string text, double cost) {
    return PlaybookStep{.kind = "offer", .channel = channel, .text = std::move(text), .cost = cost};
  };
  const auto task = [](std::string text, double due_days) {
    return PlaybookStep{.kind = "task", .text = std::move(text), .owner = "@account_manager", .days = due_days};
  };
  const auto wait = [](double days) { return PlaybookStep{.kind = "wait", .days = days}; };
  const auto branch = [](std::string condition, int goto_step) {
    return PlaybookStep{.kind = "branch", .condition = std::move(condition), .goto_step = goto_step};
  };
  return {
      // Left dissatisfied: fix the complaint first, apologise, then a gesture.
      {"complaint_fix",
       1,
       {"left_dissatisfied"},
       {},
       {task("Senior dialogue with {name}: apologise, find and fix every open complaint", 2),
        message("{name}: we are sorry. We have looked into what went wrong and want to put it right; your account "
                "manager {owner} will call you this week."),
        wait(14),
        branch("ordered_again", -1),
        offer("{name}: with our apologies, a credit of {offer_cost} on your next order.", 100),
        wait(30),
        branch("ordered_again", -1),
        message("{name}: is there anything else we should fix before you order again?"),
        {.kind = "end"}}},
      // Attracted away: analyse what the competitor offers and answer it.
      {"better_offer",
       1,
       {"attracted_away"},
       {},
       {task("Analyse the competitor offer {name} took; prepare a better one", 5),
        wait(7),
        offer("{name}: our new offer for you, worth {offer_cost} on your first order back.", 150),
        wait(21),
        branch("ordered_again", -1),
        message("{name}: our offer is still open; {owner} is glad to discuss it."),
        {.kind = "end"}}},
      // Other (a departing employee took the relationship): a new personal contact.
      {"personal_contact",
       1,
       {"other"},
       {},
       {task("Introduce a new contact person to {name}", 3),
        message("{name}: {owner} is your new contact with us and would like to hear how we can help."),
        wait(30),
        branch("replied", -1),
        message("{name}: a short reminder that {owner} is there for you."),
        {.kind = "end"}}},
  };
}

PlaybookStep parse_playbook_step(const nlohmann::json& step) {
  return {step.at("kind").get<std::string>(),
          step.value("channel", ""),
          step.value("text", ""),
          step.value("recipients", std::vector<std::string>{}),
          step.value("owner", ""),
          step.value("days", 0.0),
          step.value("condition", ""),
          step.value("band", ""),
          step.value("goto", -1),
          step.value("cost", 0.0)};
}

nlohmann::json playbook_json(const Playbook& playbook) {
  nlohmann::json steps = nlohmann::json::array();
  for (const PlaybookStep& step : playbook.steps) {
    steps.push_back({{"kind", step.kind},
                     {"channel", step.channel},
                     {"text", step.text},
                     {"recipients", step.recipients},
                     {"owner", step.owner},
                     {"days", step.days},
                     {"condition", step.condition},
                     {"band", step.band},
                     {"goto", step.goto_step},
                     {"cost", step.cost}});
  }
  return {{"id", playbook.id},
          {"version", playbook.version},
          {"reasons", playbook.reasons},
          {"tiers", playbook.tiers},
          {"steps", steps}};
}

WinbackSettings parse_winback_settings(const nlohmann::json& section) {
  WinbackSettings settings;
  settings.playbooks = default_playbooks(section.value("channel", std::string("alert_console")));
  if (!section.is_object()) {
    return settings;
  }
  settings.silence_multiple = section.value("silence_multiple", settings.silence_multiple);
  settings.min_silence_days = section.value("min_silence_days", settings.min_silence_days);
  settings.min_orders = section.value("min_orders", settings.min_orders);
  settings.margin = section.value("margin", settings.margin);
  settings.value_horizon_years = section.value("value_horizon_years", settings.value_horizon_years);
  settings.excluded_reasons = section.value("excluded_reasons", settings.excluded_reasons);
  settings.competitor_terms = section.value("competitor_terms", settings.competitor_terms);
  settings.closure_terms = section.value("closure_terms", settings.closure_terms);
  settings.inducement_terms = section.value("inducement_terms", settings.inducement_terms);
  settings.discontinued_product_lines =
      section.value("discontinued_product_lines", settings.discontinued_product_lines);
  settings.mass_churn_count = section.value("mass_churn_count", settings.mass_churn_count);
  settings.mass_churn_rate = section.value("mass_churn_rate", settings.mass_churn_rate);
  settings.mass_churn_min_count = section.value("mass_churn_min_count", settings.mass_churn_min_count);
  settings.mass_churn_period_days = section.value("mass_churn_period_days", settings.mass_churn_period_days);
  settings.holdout_fraction = section.value("holdout_percent", settings.holdout_fraction * 100.0) / 100.0;
  settings.recovery_window_days = section.value("recovery_window_days", settings.recovery_window_days);
  settings.budget = section.value("budget", settings.budget);
  settings.max_offer_cost = section.value("max_offer_cost", settings.max_offer_cost);
  settings.min_days_between_contacts = section.value("min_days_between_contacts", settings.min_days_between_contacts);
  settings.channel_daily_cap = section.value("channel_daily_cap", settings.channel_daily_cap);
  if (const auto quiet = section.find("quiet_hours"); quiet != section.end()) {
    settings.quiet_hours = parse_quiet_hours(*quiet, {});
  }
  if (const auto playbooks = section.find("playbooks"); playbooks != section.end()) {
    settings.playbooks.clear();
    for (const auto& playbook : *playbooks) {
      Playbook parsed{playbook.at("id").get<std::string>(), playbook.value("version", 1),
                      playbook.value("reasons", std::vector<std::string>{}),
                      playbook.value("tiers", std::vector<std::string>{})};
      for (const auto& step : playbook.at("steps")) {
        parsed.steps.push_back(parse_playbook_step(step));
      }
      settings.playbooks.push_back(std::move(parsed));
    }
  }
  settings.revival_interval_days = section.value("revival_interval_days", settings.revival_interval_days);
  settings.revival_channel = section.value("revival_channel", settings.revival_channel);
  settings.revival_text = section.value("revival_text", settings.revival_text);
  settings.new_need_activity_kinds = section.value("new_need_activity_kinds", settings.new_need_activity_kinds);
  return settings;
}

}  // namespace crm::host
