#!/usr/bin/env python3
"""WeCom's encrypted callbacks through a real `crmhost serve` (../shared/wecom-api.md section 4).

The WeCom double (tests/doubles/wecom_double.py) sends the callbacks as the real service does,
real and forged, to the server's configured path over loopback; every answer is checked against
host/api/openapi.json by the harness's client. What was stored is read back through the REST API
(the 360 view's timeline, the quarantine, the alerts and the outbox) and /metrics.

Usage: test_wecom_callback.py --crmhost PATH/TO/crmhost [unittest arguments...]
On PostgreSQL when CRM_TEST_POSTGRESQL_URL_FILE names the suite's server URL file.
"""

import argparse
import http.client
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import api_harness as harness

CRMHOST = None
STATE = {}

DOUBLE = harness.SOURCE_DIR / "tests" / "doubles" / "wecom_double.py"
CORP_ID = "ww4f2a9c0e7d1b3a55"
TOKEN = "Kx7Tq2Lm9Pz4Rw8N"
AES_KEY = "Q2FsbGJhY2tLZXlGb3JUaGVDcm1Ib3N0VGVzdHMrMDE"
SOURCE = "im_wecom"
CUSTOMER = "acme-trading"
CONTACT = "wmAcme0001"
OTHER_CONTACT = "wmAcme0002"


def wecom_config(folder, database):
    return {
        "database": database,
        "log_level": "info",
        "plugins": {"alert_console": {"config": {"path": str(folder / "alerts.txt")}}},
        "alerts": {
            "roles": {"cs_director": ["director@example.test"], "csm": ["csm@example.test"]},
            "routes": [{"channel": "alert_console", "reasons": ["customer_removed_owner", "handover_failed"],
                        "recipients": ["@owner"]}],
        },
        "service": {"wecom_callback": {"path": "/wecom/callback", "corp_id": CORP_ID,
                                       "token": {"env": "CRM_TEST_WECOM_TOKEN"},
                                       "encoding_aes_key": {"env": "CRM_TEST_WECOM_AES_KEY"},
                                       "source": SOURCE, "max_clock_skew_s": 300}},
    }


class Double:
    """tests/doubles/wecom_double.py on a free loopback port."""

    def __init__(self):
        probe = subprocess.run(["/usr/bin/python3", "-c", "import cryptography"], capture_output=True, check=False)
        if probe.returncode != 0:
            raise harness.HarnessError("the WeCom double encrypts callbacks with Debian's python3-cryptography, "
                                       "which is missing: install it (scripts/lib.sh does)")
        self.process = subprocess.Popen(["/usr/bin/python3", str(DOUBLE), "--port", "0"], stdout=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            raise harness.HarnessError(f"the WeCom double did not start: {line!r}")
        self.port = int(line.split()[1])

    def control(self, name, body):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("POST", f"/__control/{name}", body=json.dumps(body).encode("utf-8"),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise harness.HarnessError(f"double /__control/{name}: {response.status} {data[:300]!r}")
            return json.loads(data)
        finally:
            connection.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def setUpModule():
    try:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="crm-wecom-callback-"))
        database = harness.postgresql_database(f"wecom_callback_{os.getpid()}") or str(folder / "crm.db")
        config_path = folder / "crmhost.json"
        config_path.write_text(json.dumps(wecom_config(folder, database), indent=2), encoding="utf-8")
        env = dict(os.environ)
        env.pop("CRMHOST_CONFIG", None)
        env["CRM_TEST_WECOM_TOKEN"] = TOKEN
        env["CRM_TEST_WECOM_AES_KEY"] = AES_KEY
        store = harness.PreparedStore(CRMHOST, folder, config_path, database, env)
        STATE["store"] = store
        STATE["tokens"] = {scope: harness.create_token(store, f"wecom-test-{scope}", [scope])
                           for scope in ("read", "write")}
        document = harness.ApiDocument()
        server = harness.ServedStore(store, document).start()
        STATE["server"] = server
        STATE["client"] = server.client(secrets=[*STATE["tokens"].values(), TOKEN, AES_KEY])
        STATE["double"] = Double()
        # The customer and its contacts as the im_wecom connector's sync stores them.
        answer = STATE["client"].request("POST", "/api/v1/events", STATE["tokens"]["write"], json_body={
            "source": SOURCE, "records": [
                {"type": "customer", "external_id": CUSTOMER, "name": "Acme Trading"},
                {"type": "contact", "external_id": CONTACT, "customer_external_id": CUSTOMER, "name": "Li Wei",
                 "owner": "zhangsan", "is_key_contact": True},
                {"type": "contact", "external_id": OTHER_CONTACT, "customer_external_id": CUSTOMER,
                 "name": "Wang Fang", "owner": "lisi"}]})
        if answer.status != 200 or answer.json()["accepted"] != 3:
            raise harness.HarnessError(f"seeding the contacts failed: {answer.text[:500]}")
        # The 360 view (where the tests read the timeline) shows scored customers.
        store.run("score")
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    double = STATE.get("double")
    if double is not None:
        double.stop()
    server = STATE.get("server")
    try:
        if server is not None:
            code = server.stop()
            if code != 0:
                raise AssertionError(f"crmhost serve exited {code} on SIGTERM (expected 0):\n{server.log()}")
    finally:
        harness.cleanup(STATE.get("store"))


class Callbacks(unittest.TestCase):
    maxDiff = 4000

    @property
    def client(self):
        return STATE["client"]

    def url(self):
        return f"http://127.0.0.1:{STATE['server'].port}/wecom/callback"

    def callback(self, event=None, **options):
        """Has the double send one callback; returns what crmhost answered, checked against the document."""
        request = {"url": self.url(), "token": TOKEN, "encoding_aes_key": AES_KEY, "corp_id": CORP_ID,
                   "event": event or {}, **options}
        answer = STATE["double"].control("callback", request)
        # The same request again through the harness's client would send it twice: check the answer's shape here.
        operation = STATE["server"].document.operation(answer["sent"]["method"], "/wecom/callback")
        self.client.check(answer["sent"]["method"], "/wecom/callback", harness.Answer(
            answer["status"], {"content-type": answer["content_type"]}, answer["body"].encode("utf-8"), operation))
        return answer

    def metrics(self):
        answer = self.client.request("GET", "/metrics")
        counts = {}
        for outcome, value in re.findall(r'^crm_wecom_callbacks_total\{outcome="(\w+)"\} (\S+)$', answer.text, re.M):
            counts[outcome] = float(value)
        return counts

    def view(self):
        answer = self.client.request("GET", "/api/v1/customers/" + urllib.parse.quote(f"{SOURCE}:{CUSTOMER}", safe=""),
                                     STATE["tokens"]["read"])
        self.assertEqual(answer.status, 200, answer.text[:500])
        return answer.json()

    def timeline(self):
        return [event for event in self.view()["timeline"] if event["source"] == SOURCE]

    def event(self, change_type, user_id, contact=CONTACT, create_time=None, **extra):
        return {"ChangeType": change_type, "UserID": user_id, "ExternalUserID": contact,
                "CreateTime": create_time or int(time.time()) - 120, **extra}

    def test_url_verification_answers_the_decrypted_echostr(self):
        answer = self.callback(kind="verify", echostr_plain="8732098173102938")
        self.assertEqual(answer["status"], 200, answer["body"])
        self.assertEqual(answer["content_type"].split(";")[0], "text/plain")
        self.assertEqual(answer["body"], "8732098173102938")
        forged = self.callback(kind="verify", forge="bad_signature")
        self.assertEqual(forged["status"], 403, forged["body"])

    def test_each_change_type_is_stored_with_its_real_time_and_meaning(self):
        base = int(time.time()) - 86400 * 3  # three days ago: the event's own time, not the time it arrived
        cases = [("add_external_contact", "zhangsan", "contact_added", "add_external_contact by member zhangsan"),
                 ("add_half_external_contact", "lisi", "contact_added", "add_half_external_contact by member lisi"),
                 ("edit_external_contact", "zhangsan", "contact_edited", "edit_external_contact by member zhangsan"),
                 ("del_external_contact", "wangwu", "owner_removed_customer", "member wangwu deleted the customer"),
                 ("del_follow_user", "zhangsan", "customer_removed_owner", "the customer deleted member zhangsan"),
                 ("transfer_fail", "zhaoliu", "handover_failed", "the hand-over to member zhaoliu failed")]
        before = self.metrics().get("accepted", 0)
        for offset, (change_type, user, kind, detail) in enumerate(cases):
            with self.subTest(change_type=change_type):
                extra = {"FailReason": "customer_refused"} if change_type == "transfer_fail" else {}
                answer = self.callback(self.event(change_type, user, create_time=base + offset, **extra))
                self.assertEqual((answer["status"], answer["body"]), (200, ""))
                external_id = f"wecom/{change_type}/{user}/{CONTACT}/{base + offset}"
                stored = [event for event in self.timeline() if event["external_id"] == external_id]
                self.assertEqual(len(stored), 1, self.timeline())
                self.assertEqual(stored[0]["at_ms"], (base + offset) * 1000)
                self.assertTrue(stored[0]["summary"].startswith(f"{kind}: {detail}"), stored[0]["summary"])
        self.assertEqual(self.metrics()["accepted"], before + len(cases))

        alerts = self.client.request("GET", "/api/v1/alerts", STATE["tokens"]["read"]).json()["items"]
        by_reason = {alert["reason"]: alert for alert in alerts}
        self.assertIn("customer_removed_owner", by_reason, alerts)
        self.assertEqual(by_reason["customer_removed_owner"]["level"], "signal")
        self.assertIn("handover_failed", by_reason, alerts)
        self.assertEqual(by_reason["handover_failed"]["level"], "orange", "the CS director's level")
        # The alerts job delivers the outbox: the hand-over alert reaches the CS director, the other the CSM.
        run = self.client.request("POST", "/api/v1/jobs/alerts/run", STATE["tokens"]["write"])
        self.assertEqual(run.status, 202, run.text[:500])
        alerts_file = STATE["store"].folder / "alerts.txt"
        deadline = time.monotonic() + 120
        delivered = ""
        while time.monotonic() < deadline and "hand-over failed" not in delivered:
            time.sleep(0.2)
            delivered = alerts_file.read_text(encoding="utf-8") if alerts_file.exists() else ""
        blocks = delivered.split("\n\n")
        handover = [block for block in blocks if "hand-over failed" in block.split("\n")[0]]
        self.assertTrue(handover, delivered)
        self.assertIn("to: director@example.test", handover[0])
        removed = [block for block in blocks if "deleted their account manager" in block.split("\n")[0]]
        self.assertTrue(removed, delivered)
        self.assertIn("to: csm@example.test", removed[0])
        self.assertNotIn("owner_removed_customer", by_reason, "a member deleting a customer is recorded, not alerted")

    def test_a_resent_event_is_stored_once(self):
        event = self.event("edit_external_contact", "lisi", contact=OTHER_CONTACT)
        self.assertEqual(self.callback(event)["status"], 200)
        before = self.metrics().get("replayed", 0)
        # WeCom's retry of the same event carries a new nonce and signature: the event's identity still matches.
        again = self.callback(event)
        self.assertEqual(again["status"], 403, again["body"])
        self.assertEqual(self.metrics()["replayed"], before + 1)
        external_id = f"wecom/edit_external_contact/lisi/{OTHER_CONTACT}/{event['CreateTime']}"
        self.assertEqual([e["external_id"] for e in self.timeline()].count(external_id), 1)

    def test_forged_stale_wrong_corp_and_replayed_are_refused_counted_and_not_stored(self):
        cases = [("bad_signature", {"forge": "bad_signature"}), ("stale", {"forge": "stale"}),
                 ("wrong_corp", {"forge": "wrong_corp"}), ("undecryptable", {"forge": "undecryptable"})]
        for outcome, options in cases:
            with self.subTest(outcome=outcome):
                before = self.metrics().get(outcome, 0)
                marker = f"forger-{outcome}"
                answer = self.callback(self.event("del_follow_user", marker), **options)
                self.assertEqual(answer["status"], 403, answer["body"])
                problem = json.loads(answer["body"])
                self.assertEqual(problem["type"], "https://crmhost.dev/problems/callback-refused")
                self.assertNotIn(outcome.replace("_", " "), problem["detail"], "the refusal does not say which check")
                self.assertEqual(self.metrics()[outcome], before + 1)
                self.assertFalse([e for e in self.timeline() if marker in e["external_id"]])

        # A real callback, then the very same bytes again: the replay is refused and not stored twice.
        real = self.callback(self.event("del_external_contact", "replay-victim", contact=OTHER_CONTACT))
        self.assertEqual(real["status"], 200, real["body"])
        before = self.metrics().get("replayed", 0)
        replay = self.callback(kind="repeat")
        self.assertEqual(replay["status"], 403, replay["body"])
        self.assertEqual(replay["query"], real["query"])
        self.assertEqual(self.metrics()["replayed"], before + 1)
        self.assertEqual(len([e for e in self.timeline() if "replay-victim" in e["external_id"]]), 1)

        alerts = self.client.request("GET", "/api/v1/alerts", STATE["tokens"]["read"]).json()["items"]
        self.assertFalse([alert for alert in alerts if "forger" in json.dumps(alert)])

    def test_malformed_callbacks_are_refused_as_bad_requests(self):
        before = self.metrics().get("malformed", 0)
        no_query = self.client.request("POST", "/wecom/callback", body="<xml><Encrypt>x</Encrypt></xml>",
                                       content_type="text/xml")
        self.assertEqual(no_query.status, 400, no_query.text)
        not_xml = self.client.request("POST", "/wecom/callback?msg_signature=a&timestamp=1&nonce=n",
                                      body="{\"Encrypt\": \"x\"}", content_type="text/xml")
        self.assertEqual(not_xml.status, 400, not_xml.text)
        self.assertEqual(self.metrics()["malformed"], before + 2)

    def test_an_unknown_contact_is_quarantined_with_its_reason(self):
        answer = self.callback(self.event("add_external_contact", "zhangsan", contact="wmNotSyncedYet"))
        self.assertEqual(answer["status"], 200, answer["body"])
        quarantine = self.client.request("GET", f"/api/v1/connectors/{SOURCE}/quarantine", STATE["tokens"]["read"])
        self.assertEqual(quarantine.status, 200, quarantine.text[:500])
        entries = [entry for entry in quarantine.json()["items"] if "wmNotSyncedYet" in entry["raw_record"]]
        self.assertEqual(len(entries), 1, quarantine.text[:1000])
        self.assertIn("has no contact with this id", entries[0]["reason"])

    def test_other_events_are_acknowledged_and_left(self):
        before = self.metrics().get("ignored", 0)
        answer = self.callback(self.event("msg_audit_approved", "zhangsan"))
        self.assertEqual((answer["status"], answer["body"]), (200, ""))
        self.assertEqual(self.metrics()["ignored"], before + 1)

    def test_no_secret_reaches_the_log(self):
        self.callback(self.event("del_follow_user", "log-probe"), forge="bad_signature")
        log = STATE["server"].log_path.read_text(encoding="utf-8", errors="replace")
        self.assertIn("refused: bad_signature", log)
        for secret in (TOKEN, AES_KEY):
            self.assertNotIn(secret, log)


def main():
    global CRMHOST
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crmhost", required=True, help="the crmhost binary")
    args, rest = parser.parse_known_args()
    CRMHOST = args.crmhost
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
