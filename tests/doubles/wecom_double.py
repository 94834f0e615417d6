#!/usr/bin/python3
"""A local double of the WeCom APIs in ../shared/wecom-api.md, for tests.

No WeCom server exists outside the service itself, so this is the one double
the project allows. It serves the group-robot webhook (section 1), application messages
(section 2), the external-contact APIs (section 3) and the token endpoint
under /cgi-bin/; keeps corpid/secret pairs, issued tokens with a
configurable lifetime, robot keys and app members; enforces the 60-second
sliding windows (20 per robot key, 30 per app and member, and 1,000 per app
and member in an hour: application messages past them are dropped silently,
as the real service does) on a clock the tests can move; records every request and every delivered message; and
injects faults on demand. Tests drive it through /__control/*:

  POST /__control/state     {"corps": {"corpid": "secret"}, "token_lifetime_s": 7200,
                             "follow_users": ["zhangsan"], "contacts": [{...}], "page_size": 2,
                             "robot_keys": ["key"], "members": ["zhangsan"], "agent_id": 1000002,
                             "unlicensed_members": ["wangwu"]}
     members: matched case-insensitively, reported lower-cased (as the real service does);
     unlicensed_members: members without a licence (reported in unlicenseduser, not delivered)
     contacts: {"external_userid", "name", "type", "corp_name", "corp_full_name",
                "follow": [{"userid", "createtime", "remark"}]}
     "unassigned": [{"handover_userid", "external_userid", "dimission_time"}]: customers of
                members who resigned (get_unassigned_list, paged by "unassigned_page_size")
     "generated": {"contacts": 100000, "members": 500, "resigned_members": 0,
                   "dimission_time": 1700000000}: instead of "contacts" and "follow_users", a
                corp made up on each request, deterministically and lazily (nothing is held in
                memory), for benchmarks: contact i is followed by member i % members, and one in
                five (i // members a multiple of 5) also by the member after it; the last resigned_members members
                have resigned: they follow nobody, their customers are in get_unassigned_list
  POST /__control/fault     {"kind": "http_500" | "http_502" | "not_json" | "slow" | "drop" | "busy"
                                     | "freq_limit" | "expire_tokens" | "invalid_token" | "errcode:N",
                             "path": "substring of the path", "count": 1, "skip": 0}
                            (skip: let that many matching calls through first: "-1 on the Nth call")
  POST /__control/clock     {"advance_s": 60}: moves the clock of the rate windows and tokens
  GET  /__control/requests  every request seen: method, path, query, body, errcode of the reply
  GET  /__control/messages  every message delivered: {"to": robot key or member, "msgtype", "content"}
  GET  /__control/dropped   every application message the per-member limits dropped silently
                            (the sender got errcode 0): {"to", "msgtype", "content", "time", "why"}
  POST /__control/reset     forget requests, messages, faults and windows
  POST /__control/callback  sends one encrypted callback (section 4) as WeCom does, and answers what the
                            receiver answered: {"status", "content_type", "body", "query", "sent"}
                            {"url": "http://host:port/wecom/callback", "token", "encoding_aes_key", "corp_id",
                             "kind": "event" (default) | "verify" | "repeat" (the last callback, byte for byte),
                             "event": {"ChangeType", "UserID", "ExternalUserID", "CreateTime", ...},
                             "forge": "bad_signature" | "wrong_corp" | "stale" | "undecryptable" (default none),
                             "timestamp": seconds (default now), "nonce": "..."}

Usage: wecom_double.py [--port 0]; prints "listening PORT" on stdout once ready.
"""
import argparse
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATE = {
    "corps": {},
    "token_lifetime_s": 7200,
    "follow_users": [],
    "contacts": [],
    "page_size": 100,
}
TOKENS = {}  # token -> expiry (seconds on now())
REQUESTS = []
MESSAGES = []
FAULTS = []  # {"kind", "path", "count", "skip"}
WINDOWS = {}  # robot key or (agent, member) -> send times in the last 60 s
DROPPED = []  # application messages past a member's limits: errcode 0 to the sender, never delivered
CLOCK_OFFSET_S = [0.0]
ROBOT_LIMIT_PER_MINUTE = 20
APP_MEMBER_LIMIT_PER_MINUTE = 30
APP_MEMBER_LIMIT_PER_HOUR = 1000
APP_TOUSER_LIMIT = 1000
# Errmsgs of the errcodes tests inject, as the real service words them.
INJECTED_ERRMSGS = {
    60020: "not allow to access from your ip",
    48002: "api forbidden",
    45033: "api concurrent out of limit",
    81013: "user & party & tag all invalid",
}
CONTENT_LIMIT_BYTES = {"text": 2048, "markdown": 4096}


def now():
    return time.monotonic() + CLOCK_OFFSET_S[0]


def take_fault(path):
    with LOCK:
        for fault in FAULTS:
            if fault["count"] > 0 and fault.get("path", "") in path:
                if fault.get("skip", 0) > 0:
                    fault["skip"] -= 1
                    continue
                fault["count"] -= 1
                return fault["kind"]
    return None


def window_allows(name, limit):
    """Counts one send against the 60-second sliding window `name`."""
    with LOCK:
        times = [t for t in WINDOWS.get(name, []) if t > now() - 60]
        if len(times) >= limit:
            WINDOWS[name] = times
            return False
        times.append(now())
        WINDOWS[name] = times
        return True


def content_error(msgtype, payload):
    """The errcode WeCom gives a message body, 0 when it is acceptable."""
    if msgtype not in ("text", "markdown", "news", "textcard"):
        return 40008, "invalid message type"
    if msgtype in CONTENT_LIMIT_BYTES:
        content = (payload.get(msgtype) or {}).get("content", "")
        if not content:
            return 44004, "empty content"
        if len(content.encode("utf-8")) > CONTENT_LIMIT_BYTES[msgtype]:
            return 40058, "content exceed max length"
    return 0, "ok"


# ---- external contacts: staff who left, members with no customers, a generated corp (section 3)

# What batch/get_by_user has been seen to answer for members with no customers (wecom-api.md 3).
NO_CUSTOMERS = {"errcode": 84061, "errmsg": "not exist external contact"}


def generated_member(index):
    return f"m{index:04d}"


def generated_contact(index):
    corp = f"Generated Corp {index // 4:06d}"
    return {"external_userid": f"wm{index:010d}", "name": f"Contact {index}", "type": 2,
            "corp_name": corp, "corp_full_name": corp + " Ltd."}


def generated_settings():
    generated = STATE["generated"]
    members = int(generated.get("members", 500))
    return (int(generated.get("contacts", 100000)), members,
            members - int(generated.get("resigned_members", 0)))


def generated_follow_users():
    _, _, active = generated_settings()
    return [generated_member(m) for m in range(active)]


def generated_followed_by(member):
    """Contact indexes a member follows (or followed, before resigning), in a fixed order."""
    contacts, members, _ = generated_settings()
    primary = list(range(member, contacts, members))
    before = (member - 1) % members
    secondary = [i for i in range(before, contacts, members) if (i // members) % 5 == 0]
    return primary + secondary


def generated_contacts_of(member):
    """Contact indexes followed by a member: none once resigned."""
    return generated_followed_by(member) if member < generated_settings()[2] else []


def generated_contacts_page(request):
    """A page of batch/get_by_user over the generated corp; cursor "user position:offset"."""
    users = request.get("userid_list", [])
    limit = min(int(request.get("limit", 100)), STATE["page_size"])
    position, offset = (int(part) for part in (request.get("cursor") or "0:0").split(":"))
    indexes = {generated_member(m): m for m in range(generated_settings()[1])}
    page = []
    while position < len(users) and len(page) < limit:
        followed = generated_contacts_of(indexes[users[position]]) if users[position] in indexes else []
        taken = followed[offset:offset + limit - len(page)]
        page += [(users[position], i) for i in taken]
        offset += len(taken)
        if offset >= len(followed):
            position, offset = position + 1, 0
    if not page and position >= len(users) and not request.get("cursor"):
        return NO_CUSTOMERS
    entries = [{"external_contact": generated_contact(i),
                "follow_info": {"userid": user, "remark": "", "createtime": 1700000000, "tag_id": [],
                                "remark_corp_name": "", "remark_mobiles": []}} for user, i in page]
    return {"errcode": 0, "errmsg": "ok", "external_contact_list": entries,
            "next_cursor": f"{position}:{offset}" if position < len(users) else ""}


def unassigned_entries():
    if not STATE.get("generated"):
        return STATE.get("unassigned", [])
    _, members, active = generated_settings()
    dimission_time = int(STATE["generated"].get("dimission_time", 1700000000))
    return [{"handover_userid": generated_member(m), "external_userid": generated_contact(i)["external_userid"],
             "dimission_time": dimission_time}
            for m in range(active, members) for i in generated_followed_by(m)]


def unassigned_page(request):
    """get_unassigned_list: {"info": [...], "is_last": bool, "next_cursor"}; at most 1000 a page."""
    entries = unassigned_entries()
    start = int(request.get("cursor") or 0)
    limit = min(int(request.get("limit", 1000)), 1000, int(STATE.get("unassigned_page_size", 1000)))
    end = start + limit
    return {"errcode": 0, "errmsg": "ok", "info": entries[start:end], "is_last": end >= len(entries),
            "next_cursor": str(end) if end < len(entries) else ""}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Keep-alive clients would otherwise wait out a delayed ACK (40 ms) on every reply.
    disable_nagle_algorithm = True

    def log_message(self, *args):  # keep the test output quiet
        pass

    def reply(self, body, status=200, raw=False):
        record = getattr(self, "record", None)
        if isinstance(body, dict) and "errcode" in body and record is not None:
            with LOCK:
                record["errcode"] = body["errcode"]
        data = body if raw else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self.record = None
        if url.path.startswith("/__control/"):
            return self.control(method, url.path, body)
        self.record = {"method": method, "path": url.path, "query": query, "body": body, "time": time.time()}
        with LOCK:
            REQUESTS.append(self.record)
        fault = take_fault(url.path)
        if fault == "expire_tokens":
            with LOCK:
                for token in TOKENS:
                    TOKENS[token] = now() - 1
        elif fault == "invalid_token":
            with LOCK:
                TOKENS.clear()
        elif fault in ("http_500", "http_502"):
            return self.reply({"error": fault}, status=int(fault[-3:]))
        elif fault == "not_json":
            return self.reply(b"<html>gateway error</html>", raw=True)
        elif fault == "slow":
            time.sleep(5)
        elif fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        elif fault == "busy":
            return self.reply({"errcode": -1, "errmsg": "system busy"})
        elif fault == "freq_limit":
            return self.reply({"errcode": 45009, "errmsg": "api freq out of limit"})
        elif fault and fault.startswith("errcode:"):
            return self.reply({"errcode": int(fault[8:]), "errmsg": INJECTED_ERRMSGS.get(int(fault[8:]), "injected")})
        return self.api(method, url.path, query, body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def control(self, method, path, body):
        global FAULTS, REQUESTS, MESSAGES, WINDOWS
        with LOCK:
            if path == "/__control/state" and method == "POST":
                STATE.update(json.loads(body))
                return self.reply({"ok": True})
            if path == "/__control/fault" and method == "POST":
                fault = json.loads(body)
                fault.setdefault("count", 1)
                FAULTS.append(fault)
                return self.reply({"ok": True})
            if path == "/__control/requests":
                return self.reply(REQUESTS)
            if path == "/__control/messages":
                return self.reply(MESSAGES)
            if path == "/__control/dropped":
                return self.reply(DROPPED)
            if path == "/__control/clock" and method == "POST":
                CLOCK_OFFSET_S[0] += float(json.loads(body).get("advance_s", 0))
                return self.reply({"ok": True})
            if path == "/__control/callback" and method == "POST":
                return self.reply(send_callback(json.loads(body)))
            if path == "/__control/reset":
                FAULTS = []
                REQUESTS = []
                MESSAGES = []
                WINDOWS = {}
                DROPPED.clear()
                return self.reply({"ok": True})
        return self.reply({"error": "unknown control"}, status=404)

    def token_ok(self, query):
        with LOCK:
            expiry = TOKENS.get(query.get("access_token", ""))
        if expiry is None:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if expiry < now():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def api(self, method, path, query, body):
        if path == "/cgi-bin/gettoken":
            corpid, secret = query.get("corpid", ""), query.get("corpsecret", "")
            if corpid not in STATE["corps"]:
                return self.reply({"errcode": 40013, "errmsg": "invalid corpid"})
            if STATE["corps"][corpid] != secret:
                return self.reply({"errcode": 40001, "errmsg": "invalid credential"})
            token = secrets.token_hex(16)
            with LOCK:
                TOKENS[token] = now() + STATE["token_lifetime_s"]
            return self.reply({"errcode": 0, "errmsg": "ok", "access_token": token,
                               "expires_in": STATE["token_lifetime_s"]})
        if path == "/cgi-bin/webhook/send" and method == "POST":
            return self.robot_send(query, body)
        error = self.token_ok(query)
        if error:
            return self.reply(error)
        if path == "/cgi-bin/message/send" and method == "POST":
            return self.app_send(body)
        if path == "/cgi-bin/externalcontact/get_follow_user_list" and STATE.get("generated"):
            return self.reply({"errcode": 0, "errmsg": "ok", "follow_user": generated_follow_users()})
        if path == "/cgi-bin/externalcontact/get_follow_user_list":
            return self.reply({"errcode": 0, "errmsg": "ok", "follow_user": STATE["follow_users"]})
        if path == "/cgi-bin/externalcontact/get_unassigned_list" and method == "POST":
            return self.reply(unassigned_page(json.loads(body or "{}")))
        if path == "/cgi-bin/externalcontact/batch/get_by_user" and method == "POST" and STATE.get("generated"):
            return self.reply(generated_contacts_page(json.loads(body or "{}")))
        if path == "/cgi-bin/externalcontact/batch/get_by_user" and method == "POST":
            request = json.loads(body or "{}")
            users = request.get("userid_list", [])
            entries = []
            for contact in STATE["contacts"]:
                for follow in contact.get("follow", []):
                    if follow["userid"] in users:
                        entries.append({
                            "external_contact": {k: contact.get(k, "") for k in
                                                 ("external_userid", "name", "type", "corp_name",
                                                  "corp_full_name")},
                            "follow_info": {"userid": follow["userid"], "remark": follow.get("remark", ""),
                                            "createtime": follow.get("createtime", 1700000000),
                                            "tag_id": [], "remark_corp_name": "", "remark_mobiles": []}})
            if not entries:
                return self.reply(NO_CUSTOMERS)
            start = int(request.get("cursor") or 0)
            limit = min(int(request.get("limit", 100)), STATE["page_size"])
            page = entries[start:start + limit]
            next_cursor = str(start + limit) if start + limit < len(entries) else ""
            return self.reply({"errcode": 0, "errmsg": "ok", "external_contact_list": page,
                               "next_cursor": next_cursor})
        return self.reply({"errcode": 404, "errmsg": "no such api in the double"}, status=404)


    def robot_send(self, query, body):
        key = query.get("key", "")
        if key not in STATE.get("robot_keys", []):
            return self.reply({"errcode": 93000, "errmsg": "invalid webhook url"})
        payload = json.loads(body or "{}")
        msgtype = payload.get("msgtype", "")
        errcode, errmsg = content_error(msgtype, payload)
        if errcode:
            return self.reply({"errcode": errcode, "errmsg": errmsg})
        if not window_allows("robot:" + key, ROBOT_LIMIT_PER_MINUTE):
            return self.reply({"errcode": 45009, "errmsg": "api freq out of limit"})
        with LOCK:
            MESSAGES.append({"to": key, "msgtype": msgtype, "content": (payload.get(msgtype) or {}).get("content"),
                             "mentioned_list": (payload.get(msgtype) or {}).get("mentioned_list", []),
                             "time": now()})
        return self.reply({"errcode": 0, "errmsg": "ok"})

    def app_send(self, body):
        """message/send as the real service answers it (wecom-api.md section 2): member ids
        matched case-insensitively and reported lower-cased, unlicensed members in
        unlicenseduser, 81013 when no recipient is valid, and what is past a member's
        limits dropped silently (errcode 0)."""
        payload = json.loads(body or "{}")
        if payload.get("agentid") != STATE.get("agent_id", 1000002):
            return self.reply({"errcode": 40056, "errmsg": "invalid agentid"})
        recipients = [m for m in payload.get("touser", "").split("|") if m]
        if len(recipients) > APP_TOUSER_LIMIT:
            return self.reply({"errcode": 40058, "errmsg": "invalid parameter: touser exceeds 1000 members"})
        msgtype = payload.get("msgtype", "")
        errcode, errmsg = content_error(msgtype, payload)
        if errcode:
            return self.reply({"errcode": errcode, "errmsg": errmsg})
        content = (payload.get(msgtype) or {}).get("content")
        members = {m.lower(): m for m in STATE.get("members", [])}
        unlicensed_members = {m.lower() for m in STATE.get("unlicensed_members", [])}
        invalid, unlicensed, valid = [], [], []
        for recipient in recipients:
            member = recipient.lower()
            if member not in members:
                invalid.append(member)
            elif member in unlicensed_members:
                unlicensed.append(member)
            else:
                valid.append(members[member])
        if not valid:
            return self.reply({"errcode": 81013, "errmsg": INJECTED_ERRMSGS[81013]})
        for member in valid:
            duplicate = False
            if payload.get("enable_duplicate_check"):
                interval = payload.get("duplicate_check_interval", 1800)
                with LOCK:
                    duplicate = any(m["to"] == member and m["content"] == content and m["time"] > now() - interval
                                    for m in MESSAGES)
            if duplicate:
                continue
            message = {"to": member, "msgtype": msgtype, "content": content, "time": now()}
            why = member_limit_reached(payload["agentid"], member)
            with LOCK:
                if why:
                    DROPPED.append(dict(message, why=why))
                else:
                    MESSAGES.append(message)
        return self.reply({"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "invalidparty": "",
                           "invalidtag": "", "unlicenseduser": "|".join(unlicensed), "msgid": secrets.token_hex(8)})


def member_limit_reached(agent_id, member):
    """Counts one application message to `member` against its sliding windows (30 in 60 s,
    1,000 in an hour); returns why it is dropped, or "" when it is delivered. Dropped
    messages do not count."""
    name = f"app:{agent_id}:{member.lower()}"
    with LOCK:
        times = [t for t in WINDOWS.get(name, []) if t > now() - 3600]
        WINDOWS[name] = times
        if len([t for t in times if t > now() - 60]) >= APP_MEMBER_LIMIT_PER_MINUTE:
            return "member limit per minute"
        if len(times) >= APP_MEMBER_LIMIT_PER_HOUR:
            return "member limit per hour"
        times.append(now())
        return ""


# ---------------------------------------------------------------------------------------------
# Encrypted callbacks (section 4): the WXBizMsgCrypt scheme of WeCom's official samples, used
# to send change events to the framework as the real service does, real and forged alike.
# Needs Debian's python3-cryptography (scripts/lib.sh installs it).

LAST_CALLBACK = {}  # the last callback sent: url, method, query, body ("repeat" sends it again)


def callback_key(encoding_aes_key):
    import base64
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def callback_signature(token, timestamp, nonce, encrypted):
    """msg_signature: SHA-1 hex of the sorted concatenation of token, timestamp, nonce and the encrypted text."""
    import hashlib
    return hashlib.sha1("".join(sorted([token, str(timestamp), nonce, encrypted])).encode("utf-8")).hexdigest()


def callback_encrypt(encoding_aes_key, message, corp_id, random_prefix=None):
    """base64(AES-256-CBC(16 random bytes + 4-byte big-endian length + message + corp id)), PKCS#7 to 32 bytes."""
    import base64
    import os
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = callback_key(encoding_aes_key)
    body = message.encode("utf-8")
    plain = (random_prefix if random_prefix is not None else os.urandom(16)) + len(body).to_bytes(4, "big") + body \
        + corp_id.encode("utf-8")
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def callback_decrypt(encoding_aes_key, encrypted):
    """(message, corp id) of an encrypted text; raises ValueError when it does not decrypt."""
    import base64
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = callback_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    pad = plain[-1]
    if pad < 1 or pad > 32 or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    plain = plain[:-pad]
    length = int.from_bytes(plain[16:20], "big")
    return plain[20:20 + length].decode("utf-8"), plain[20 + length:].decode("utf-8")


def change_event_xml(corp_id, event):
    """The decrypted XML of a change_external_contact event, tags in the order WeCom sends them."""
    parts = [f"<ToUserName><![CDATA[{corp_id}]]></ToUserName>", "<FromUserName><![CDATA[sys]]></FromUserName>",
             f"<CreateTime>{int(event.get('CreateTime', time.time()))}</CreateTime>",
             "<MsgType><![CDATA[event]]></MsgType>", "<Event><![CDATA[change_external_contact]]></Event>"]
    for tag in ("ChangeType", "UserID", "ExternalUserID", "State", "WelcomeCode", "Source", "FailReason"):
        if tag in event:
            parts.append(f"<{tag}><![CDATA[{event[tag]}]]></{tag}>")
    return "<xml>" + "".join(parts) + "</xml>"


def send_callback(request):
    """Sends one callback as /__control/callback describes; returns what the receiver answered."""
    import http.client
    import urllib.parse
    kind = request.get("kind", "event")
    if kind == "repeat":
        sent = dict(LAST_CALLBACK)
    else:
        token, aes_key, corp_id = request["token"], request["encoding_aes_key"], request["corp_id"]
        forge = request.get("forge", "")
        timestamp = str(int(request.get("timestamp", time.time() - (3600 if forge == "stale" else 0))))
        nonce = request.get("nonce") or secrets.token_hex(5)
        if kind == "verify":
            plain = request.get("echostr_plain") or secrets.token_hex(8)
        else:
            plain = change_event_xml(corp_id, request.get("event", {}))
        encrypted = callback_encrypt(aes_key, plain, "wrong" + corp_id if forge == "wrong_corp" else corp_id)
        if forge == "undecryptable":
            # Another app's key: the receiver's key cannot decrypt it (a fixed one, so the outcome is too).
            encrypted = callback_encrypt("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", plain, corp_id, bytes(16))
        signature = callback_signature(token, timestamp, nonce, encrypted)
        if forge == "bad_signature":
            signature = callback_signature(token + "x", timestamp, nonce, encrypted)
        query = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
        if kind == "verify":
            query["echostr"] = encrypted
            body = ""
        else:
            agent = request.get("agent_id", STATE.get("agent_id", 1000002))
            body = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><AgentID><![CDATA[{agent}]]></AgentID>"
                    f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        sent = {"url": request["url"], "method": "GET" if kind == "verify" else "POST", "query": query, "body": body,
                "plain": plain}
        LAST_CALLBACK.clear()
        LAST_CALLBACK.update(sent)
    url = urllib.parse.urlsplit(sent["url"])
    target = url.path + "?" + urllib.parse.urlencode(sent["query"])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        headers = {"Content-Type": "text/xml"} if sent["method"] == "POST" else {}
        connection.request(sent["method"], target, body=sent["body"].encode("utf-8") or None, headers=headers)
        response = connection.getresponse()
        answer = response.read().decode("utf-8", "replace")
        return {"status": response.status, "content_type": response.getheader("Content-Type", ""), "body": answer,
                "query": sent["query"], "sent": sent}
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
