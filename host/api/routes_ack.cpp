#include <fmt/format.h>

#include "api/routes.hpp"
#include "app/ack_links.hpp"
#include "core/dates.hpp"

namespace crm::host::api {

namespace {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool wants_chinese(const RouteRequest& request) {
  const std::optional<std::string_view> languages = request.http.header("accept-language");
  return languages && languages->substr(0, 2) == "zh";
}

struct AckWords {
  const char* title;
  const char* customer;
  const char* level;
  const char* score;
  const char* deadline;
  const char* recipient;
  const char* confirm;
  const char* done;
  const char* open_in_app;
};

constexpr AckWords kEnglish = {"Acknowledge alert", "Customer",         "Level",
                               "Health score",      "Respond by (UTC)", "Acknowledging as",
                               "Acknowledge",       "Acknowledged",     "Open this alert in the web app"};
constexpr AckWords kChinese = {
    "确认预警", "客户", "级别", "健康分", "响应截止 (UTC)", "确认人", "确认", "已确认", "在网页应用中打开此预警"};

int status_for(AckLinkStatus status) {
  switch (status) {
    case AckLinkStatus::valid:
    case AckLinkStatus::acknowledged:
      return 200;
    case AckLinkStatus::bad_signature:
    case AckLinkStatus::expired:
      return 404;
    case AckLinkStatus::used:
    case AckLinkStatus::alert_closed:
      return 409;
  }
  return 404;
}

// The page a manager sees on a phone: what the link acknowledges and one
// button, or what happened. The token is in the page's own URL only.
http::Response ack_page(const AckLinkView& view, const RouteRequest& request, bool confirmed) {
  const AckWords& words = wants_chinese(request) ? kChinese : kEnglish;
  std::string body = fmt::format(
      "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title>"
      "<style>body{{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0 auto;max-width:32rem;"
      "padding:1rem;line-height:1.5}}dt{{color:#555;font-size:.9rem}}dd{{margin:0 0 .6rem}}"
      "button{{font-size:1.1rem;padding:.8rem;width:100%;border:0;border-radius:.4rem;background:#0b5;color:#fff}}"
      ".note{{padding:.6rem;border-radius:.4rem;background:#f3f3f3}}</style></head><body><h1>{}</h1>",
      wants_chinese(request) ? "zh-CN" : "en", words.title, confirmed ? words.done : words.title);
  body += fmt::format("<p class=\"note\" role=\"status\">{}</p>", html_escape(view.message));
  if (view.alert_id != 0) {
    body += "<dl>";
    body += fmt::format("<dt>{}</dt><dd>{}</dd>", words.customer,
                        html_escape(view.customer_name.empty() ? view.title : view.customer_name));
    body += fmt::format("<dt>{}</dt><dd>{}</dd>", words.level, html_escape(view.band));
    if (view.score) {
      body += fmt::format("<dt>{}</dt><dd>{:.1f}</dd>", words.score, *view.score);
    }
    if (view.deadline_ms != 0) {
      body += fmt::format("<dt>{}</dt><dd>{}</dd>", words.deadline, html_escape(rfc3339_text(view.deadline_ms)));
    }
    body += fmt::format("<dt>{}</dt><dd>{}</dd></dl>", words.recipient, html_escape(view.recipient));
  }
  if (view.status == AckLinkStatus::valid) {
    body += fmt::format("<form method=\"post\"><button type=\"submit\">{}</button></form>", words.confirm);
  }
  if (view.alert_id != 0) {
    // The same alert's page in the web app: its escalation history and actions, after signing in.
    body += fmt::format("<p><a href=\"/app/alerts/{}\">{}</a></p>", view.alert_id, words.open_in_app);
  }
  body += "</body></html>";
  http::Response response;
  response.status = status_for(view.status);
  response.content_type = "text/html; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  response.body = std::move(body);
  return response;
}

}  // namespace

void add_ack_routes(Router& router, RouteContext context) {
  Session& session = context.session;
  router.add({"GET", "/ack/{token}", Scope::none, [&session](const RouteRequest& request) {
                return ack_page(inspect_ack_link(session, request.param("token")), request, false);
              }});
  router.add({"POST", "/ack/{token}", Scope::none, [&session](const RouteRequest& request) {
                return ack_page(confirm_ack_link(session, request.param("token")), request, true);
              }});
}

}  // namespace crm::host::api
