#include <algorithm>
#include <charconv>
#include <deque>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <mutex>

#include "api/routes.hpp"
#include "app/wecom_callback.hpp"
#include "core/wecom_crypto.hpp"

namespace crm::host::api {
namespace {

// Every refusal of an inauthentic callback says the same: which check failed would tell a
// forger what to fix next. The metrics and the log (without secrets) say which.
constexpr std::string_view kRefusedDetail = "the callback is not authentic or not current";

// Keys seen within the skew window: a callback's signature (covers timestamp, nonce and
// text) and an event's identity. Older entries go as new ones come; the window bounds the
// count at what WeCom can send in it, and kMaxEntries bounds it against a flood.
class ReplayWindow {
 public:
  explicit ReplayWindow(std::int64_t window_ms) : window_ms_(window_ms) {}

  // Whether `key` was seen in the window before `now_ms`; remembers it either way.
  bool seen_before(const std::string& key, std::int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    while (!order_.empty() && (order_.front().first < now_ms - window_ms_ || order_.size() > kMaxEntries)) {
      const auto found = seen_.find(order_.front().second);
      if (found != seen_.end() && found->second == order_.front().first) {
        seen_.erase(found);
      }
      order_.pop_front();
    }
    const auto [at, inserted] = seen_.try_emplace(key, now_ms);
    if (!inserted && at->second >= now_ms - window_ms_) {
      return true;
    }
    at->second = now_ms;
    order_.emplace_back(now_ms, key);
    return false;
  }

  void forget(const std::string& key) {
    const std::lock_guard lock(mutex_);
    seen_.erase(key);
  }

 private:
  static constexpr std::size_t kMaxEntries = 100'000;
  std::int64_t window_ms_;
  std::mutex mutex_;
  std::map<std::string, std::int64_t, std::less<>> seen_;
  std::deque<std::pair<std::int64_t, std::string>> order_;
};

struct CallbackState {
  CallbackState(WecomCallbackSettings settings_in, CounterFamily* counter_in)
      : settings(std::move(settings_in)),
        crypto(settings.token, settings.encoding_aes_key),
        replays(settings.max_clock_skew_s * 2 * 1000),
        counter(counter_in) {}

  WecomCallbackSettings settings;
  WecomCrypto crypto;
  ReplayWindow replays;
  CounterFamily* counter;

  void count(std::string_view outcome) const {
    if (counter != nullptr) {
      counter->with({outcome}).inc();
    }
  }
};

// A refusal, counted under `outcome`.
struct Refused {
  std::string outcome;
  int status = 403;
  std::string detail = std::string(kRefusedDetail);
};

http::Response refusal(const CallbackState& state, const Refused& refused, const RouteRequest& request,
                       Session& session) {
  state.count(refused.outcome);
  session.logger().log(LogLevel::warn, "wecom",
                       fmt::format("callback {} {} refused: {} (from {})", request.http.method, request.http.path,
                                   refused.outcome, request.http.remote_address));
  if (refused.status == 400) {
    return problem_response(400, "invalid-request", "Invalid request", refused.detail, request.http.path);
  }
  return problem_response(403, "callback-refused", "Callback refused", refused.detail, request.http.path);
}

struct SignedQuery {
  std::string msg_signature;
  std::string timestamp;
  std::string nonce;
  std::int64_t timestamp_s = 0;
};

// The query every callback carries; Refused when a part is missing or malformed.
SignedQuery signed_query(const RouteRequest& request) {
  SignedQuery query;
  for (const auto& [name, field] : {std::pair<std::string_view, std::string*>{"msg_signature", &query.msg_signature},
                                    {"timestamp", &query.timestamp},
                                    {"nonce", &query.nonce}}) {
    const std::optional<std::string_view> value = request.http.query_value(name);
    if (!value || value->empty()) {
      throw Refused{"malformed", 400,
                    fmt::format("a WeCom callback carries msg_signature, timestamp and nonce; '{}' "
                                "is missing",
                                name)};
    }
    *field = std::string(*value);
  }
  const auto [end, error] =
      std::from_chars(query.timestamp.data(), query.timestamp.data() + query.timestamp.size(), query.timestamp_s);
  if (error != std::errc() || end != query.timestamp.data() + query.timestamp.size()) {
    throw Refused{"malformed", 400, "'timestamp' must be seconds since the epoch"};
  }
  return query;
}

// Base64 has no spaces: a '+' a sender left unencoded arrives as one from form decoding.
std::string base64_from_query(std::string_view value) {
  std::string text(value);
  std::replace(text.begin(), text.end(), ' ', '+');
  return text;
}

// Signature, then time, then (for events) replay, then decryption and the corp id: the
// cheap checks that need no key come first.
std::string authenticated_plaintext(CallbackState& state, const SignedQuery& query, const std::string& encrypted,
                                    std::int64_t now_ms, bool check_replay) {
  if (!state.crypto.verify(query.msg_signature, query.timestamp, query.nonce, encrypted)) {
    throw Refused{"bad_signature"};
  }
  const std::int64_t skew_s = now_ms / 1000 - query.timestamp_s;
  if (skew_s > state.settings.max_clock_skew_s || -skew_s > state.settings.max_clock_skew_s) {
    throw Refused{"stale"};
  }
  if (check_replay && state.replays.seen_before("signature:" + query.msg_signature, now_ms)) {
    throw Refused{"replayed"};
  }
  WecomCrypto::Plain plain;
  try {
    plain = state.crypto.decrypt(encrypted);
  } catch (const WecomCryptoError&) {
    throw Refused{"undecryptable"};
  }
  if (!constant_time_equal(plain.corp_id, state.settings.corp_id)) {
    throw Refused{"wrong_corp"};
  }
  return plain.message;
}

}  // namespace

void add_wecom_callback_routes(Router& router, RouteContext context) {
  if (!context.options.wecom_callback) {
    return;
  }
  const auto state = std::make_shared<CallbackState>(*context.options.wecom_callback, context.options.wecom_callbacks);
  Session& session = context.session;
  for (const char* outcome :
       {"accepted", "ignored", "bad_signature", "wrong_corp", "stale", "replayed", "undecryptable", "malformed"}) {
    if (state->counter != nullptr) {
      state->counter->with({outcome});
    }
  }

  // URL verification: the console's "save" sends it once with an echostr to decrypt and send back.
  router.add({"GET", state->settings.path, Scope::none, [state, &session](const RouteRequest& request) {
                try {
                  const SignedQuery query = signed_query(request);
                  const std::optional<std::string_view> echostr = request.http.query_value("echostr");
                  if (!echostr || echostr->empty()) {
                    throw Refused{"malformed", 400, "URL verification carries 'echostr'"};
                  }
                  std::string plain = authenticated_plaintext(*state, query, base64_from_query(*echostr),
                                                              session.clock().now_ms(), false);
                  state->count("accepted");
                  http::Response response;
                  response.content_type = "text/plain; charset=utf-8";
                  response.body = std::move(plain);
                  return response;
                } catch (const Refused& refused) {
                  return refusal(*state, refused, request, session);
                }
              }});

  router.add(
      {"POST", state->settings.path, Scope::none, [state, &session](const RouteRequest& request) {
         try {
           const SignedQuery query = signed_query(request);
           std::map<std::string, std::string, std::less<>> envelope;
           try {
             envelope = parse_wecom_xml(request.http.body);
           } catch (const WecomMessageError& e) {
             throw Refused{"malformed", 400, fmt::format("the body is not a WeCom callback: {}", e.what())};
           }
           const auto encrypted = envelope.find("Encrypt");
           if (encrypted == envelope.end() || encrypted->second.empty()) {
             throw Refused{"malformed", 400, "the body is not a WeCom callback: it has no <Encrypt>"};
           }
           const std::int64_t now_ms = session.clock().now_ms();
           const std::string plain = authenticated_plaintext(*state, query, encrypted->second, now_ms, true);
           std::optional<WecomChangeEvent> event;
           try {
             event = wecom_change_event(parse_wecom_xml(plain));
           } catch (const WecomMessageError& e) {
             throw Refused{"malformed", 400, fmt::format("the decrypted message is not a WeCom event: {}", e.what())};
           }
           http::Response response;
           response.content_type = "text/plain; charset=utf-8";
           if (!event || wecom_activity_kind(event->change_type).empty()) {
             state->count("ignored");
             return response;
           }
           const std::string identity = fmt::format("event:{}/{}/{}/{}", event->change_type, event->user_id,
                                                    event->external_user_id, event->create_time_s);
           if (state->replays.seen_before(identity, now_ms)) {
             throw Refused{"replayed"};
           }
           try {
             // One activity (and at most one alert) is stored at once: well within WeCom's 5 s.
             record_wecom_change(session, state->settings, *event);
           } catch (...) {
             // Not stored: WeCom's retry of the same event must not be taken for a replay.
             state->replays.forget(identity);
             state->replays.forget("signature:" + query.msg_signature);
             throw;
           }
           state->count("accepted");
           return response;
         } catch (const Refused& refused) {
           return refusal(*state, refused, request, session);
         }
       }});
}

}  // namespace crm::host::api
