#!/usr/bin/env python3
"""The REST API of `crmhost serve`, black-box: a real server on loopback, real HTTP, a real store
of the demo's real data (tests/api/api_harness.py). Every answer is validated against
host/api/openapi.json; every operation of the document is walked with no token, a read token
and a write token.

Usage: test_routes.py --crmhost PATH/TO/crmhost [unittest arguments...]
On PostgreSQL when CRM_TEST_POSTGRESQL_URL_FILE names the suite's server URL file.
"""

import argparse
import json
import re
import sys
import time
import unittest
import urllib.parse
import uuid

import api_harness as harness

CRMHOST = None
ROLES = ("account_manager", "csm", "cs_director", "coo", "admin")
STATE = {}  # the store, the server, the tokens, the ids: one server for the whole module


def setUpModule():
    try:
        document = harness.ApiDocument()
        store = harness.prepare_store(CRMHOST)
        STATE["store"] = store
        tokens = {scope: harness.create_token(store, f"api-test-{scope}", [scope]) for scope in ("read", "write", "admin")}
        STATE["tokens"] = tokens
        server = harness.ServedStore(store, document).start()
        STATE["server"] = server
        STATE["client"] = server.client(secrets=tokens.values())
        STATE["ids"] = discover_ids(STATE["client"], tokens["admin"])
        # One signed-in person of each role, for the walk with session cookies.
        STATE["sessions"] = {}
        for role in ROLES:
            password = f"pw-{role}-{uuid.uuid4().hex}"
            harness.add_user(store, f"walk.{role}", role, password)
            STATE["client"].secrets.add(password)
            session = harness.sign_in(STATE["client"], f"walk.{role}", password)
            STATE["client"].secrets.update({session.cookie, session.csrf_token})
            STATE["sessions"][role] = session
    except BaseException:
        # unittest skips tearDownModule when setUpModule fails: stop and clean up here.
        tearDownModule()
        raise


def tearDownModule():
    server = STATE.get("server")
    try:
        if server is not None:
            code = server.stop()
            if code != 0:
                raise AssertionError(f"crmhost serve exited {code} on SIGTERM (expected 0):\n{server.log()}")
    finally:
        harness.cleanup(STATE.get("store"))


def items(answer):
    return answer.json()["items"]


def discover_ids(client, token):
    """Real ids of the store for path parameters, read through the API itself."""
    ids = {}
    customers = items(client.request("GET", "/api/v1/customers", token, query={"limit": 500}))
    ids["customers"] = customers
    lost = items(client.request("GET", "/api/v1/churn", token))
    ids["lost"] = lost
    lost_ids = {row["customer_id"] for row in lost}
    ids["customer"] = str(customers[0]["customer_id"])
    ids["not_lost_customer"] = next((str(row["customer_id"]) for row in customers if row["customer_id"] not in lost_ids),
                                    None)
    ids["lost_customer"] = str(lost[0]["customer_id"]) if lost else ids["customer"]
    ids["alerts"] = items(client.request("GET", "/api/v1/alerts", token))
    ids["outbox"] = items(client.request("GET", "/api/v1/outbox", token))
    ids["runs"] = items(client.request("GET", "/api/v1/runs", token))
    ids["campaigns"] = items(client.request("GET", "/api/v1/campaigns", token))
    ids["tasks"] = items(client.request("GET", "/api/v1/tasks", token))
    ids["connectors"] = items(client.request("GET", "/api/v1/connectors", token))
    ids["jobs"] = items(client.request("GET", "/api/v1/jobs", token))
    return ids


def first_id(rows, default="1"):
    return str(rows[0]["id"]) if rows else default


def concrete_path(template):
    """The template with real ids of the store (the walk must reach real resources)."""
    ids = STATE["ids"]
    values = {
        "/api/v1/customers/{customer}": {"customer": ids["customer"]},
        "/api/v1/customers/{customer}/follow-ups": {"customer": ids["customer"]},
        "/api/v1/churn/{customer}": {"customer": ids["lost_customer"]},
        "/api/v1/churn/{customer}/reason": {"customer": ids["lost_customer"]},
        "/api/v1/churn/{customer}/whys": {"customer": ids["lost_customer"]},
        "/api/v1/alerts/{id}": {"id": first_id(ids["alerts"])},
        "/api/v1/alerts/{id}/acknowledge": {"id": first_id(ids["alerts"])},
        "/api/v1/alerts/{id}/resolve": {"id": first_id(ids["alerts"])},
        "/api/v1/outbox/{id}/resend": {"id": first_id(ids["outbox"])},
        "/api/v1/runs/{id}": {"id": first_id(ids["runs"])},
        "/api/v1/campaigns/{id}": {"id": first_id(ids["campaigns"])},
        "/api/v1/campaigns/{id}/report": {"id": first_id(ids["campaigns"])},
        "/api/v1/tasks/{id}/close": {"id": first_id(ids["tasks"])},
        "/api/v1/connectors/{id}/quarantine": {"id": "erp_csv"},
        "/api/v1/connectors/{id}/quarantine/retry": {"id": "erp_csv"},
        "/api/v1/jobs/{id}/run": {"id": first_id(ids["jobs"], "scoring")},
        "/api/v1/tokens/{name}": {"name": "api-test-read"},
        "/api/v1/users/{name}": {"name": "walk.nobody"},
        "/ack/{token}": {"token": "not-a-signed-link"},
    }.get(template, {})
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    if "{" in path:
        raise AssertionError(f"{template}: the test has no value for its parameters")
    return path


class Base(unittest.TestCase):
    maxDiff = 4000

    @property
    def client(self):
        return STATE["client"]

    @property
    def ids(self):
        return STATE["ids"]

    def token(self, scope):
        return STATE["tokens"][scope]

    def get(self, path, scope="read", **kwargs):
        return self.client.request("GET", path, self.token(scope), **kwargs)

    def send(self, method, path, body=None, scope="write", **kwargs):
        return self.client.request(method, path, self.token(scope), json_body=body, **kwargs)

    def assertStatus(self, answer, status):
        self.assertEqual(answer.status, status, f"{answer.operation}: {answer.text[:800]}")

    def assertProblem(self, answer, status, name):
        self.assertStatus(answer, status)
        self.assertEqual(answer.content_type, "application/problem+json")
        self.assertEqual(answer.json()["type"], f"https://crmhost.dev/problems/{name}", answer.text)

    def view(self, customer):
        answer = self.get(f"/api/v1/customers/{urllib.parse.quote(str(customer), safe='')}")
        self.assertStatus(answer, 200)
        return answer


class EveryOperationDeclaresItsScope(Base):
    """The walk: every operation of the document, with no token, a read token and a write token, and with
    the session cookie of a person of each role."""

    def body_for(self, operation):
        return {} if STATE["server"].document.request_schema(operation) is not None else None

    def call(self, operation, token):
        path = concrete_path(operation.path)
        body = self.body_for(operation)
        return self.client.request(operation.method.upper(), path, token, json_body=body)

    def test_the_walk_covers_every_operation_of_the_contract(self):
        self.assertEqual(len(STATE["server"].document.operations), 49)

    def test_no_token(self):
        for operation in STATE["server"].document.operations:
            with self.subTest(operation=str(operation)):
                if operation.scope == "none":
                    if operation.method == "get":
                        answer = self.call(operation, None)
                        if operation.spec.get("x-crm-session"):
                            self.assertProblem(answer, 401, "unauthorized")  # needs the session cookie
                        else:
                            self.assertNotIn(answer.status, (401, 403), answer.text)
                    continue
                answer = self.call(operation, None)
                self.assertProblem(answer, 401, "unauthorized")

    def test_unknown_and_malformed_tokens(self):
        for token in ("crm_unknown_0000000000000000", "", "not a token at all"):
            answer = self.client.request("GET", "/api/v1/alerts", token)
            self.assertProblem(answer, 401, "unauthorized")
        answer = self.client.request("GET", "/api/v1/alerts", headers={"Authorization": "Basic YWxhZGRpbjpzZXNhbWU="})
        self.assertProblem(answer, 401, "unauthorized")

    def test_read_token(self):
        for operation in STATE["server"].document.operations:
            if operation.scope == "none":
                continue
            with self.subTest(operation=str(operation)):
                if operation.scope in ("write", "admin"):
                    self.assertProblem(self.call(operation, self.token("read")), 403, "forbidden")
                elif operation.method == "get":
                    self.assertNotIn(self.call(operation, self.token("read")).status, (401, 403))

    def test_write_token(self):
        for operation in STATE["server"].document.operations:
            if operation.scope == "none":
                continue
            with self.subTest(operation=str(operation)):
                if operation.scope == "admin":
                    self.assertProblem(self.call(operation, self.token("write")), 403, "forbidden")
                elif operation.method == "get":  # write implies read; writes run in their own tests
                    self.assertNotIn(self.call(operation, self.token("write")).status, (401, 403))

    def test_admin_token_reads(self):
        for operation in STATE["server"].document.operations:
            if operation.scope != "none" and operation.method == "get":
                with self.subTest(operation=str(operation)):
                    self.assertNotIn(self.call(operation, self.token("admin")).status, (401, 403))


    def test_session_users_of_each_role(self):
        # A route's permission (x-crm-permission; read for a GET without one, admin only otherwise) decides.
        for role, session in STATE["sessions"].items():
            for operation in STATE["server"].document.operations:
                if operation.scope == "none":
                    continue
                needed = operation.spec.get("x-crm-permission", "read" if operation.method == "get" else None)
                allowed = role == "admin" or needed in session.permissions
                with self.subTest(role=role, operation=str(operation)):
                    if operation.method != "get" and allowed:
                        continue  # writes run in their own tests
                    path = concrete_path(operation.path)
                    answer = self.client.request(operation.method.upper(), path, json_body=self.body_for(operation),
                                                 headers=session.headers())
                    if allowed:
                        self.assertNotIn(answer.status, (401, 403), answer.text)
                    else:
                        self.assertProblem(answer, 403, "forbidden")
                        self.assertIn(role, answer.json()["detail"])

    def test_session_permissions_follow_the_role_matrix(self):
        permissions = {role: set(session.permissions) for role, session in STATE["sessions"].items()}
        self.assertEqual(permissions["account_manager"],
                         {"read", "followups.write", "alerts.write", "tasks.close_own"})
        self.assertEqual(permissions["csm"] - permissions["account_manager"], {"churn.write", "tasks.close_any"})
        self.assertEqual(permissions["cs_director"], permissions["coo"])
        self.assertEqual(permissions["coo"] - permissions["csm"], {"outbox.resend", "plugins.read"})
        self.assertTrue({"plugins.write", "jobs.run", "tokens.admin", "users.admin"} <= permissions["admin"])
        self.assertTrue(permissions["coo"] <= permissions["admin"])


class Service(Base):
    def test_health_and_readiness(self):
        answer = self.client.request("GET", "/healthz")
        self.assertStatus(answer, 200)
        self.assertEqual(answer.json()["status"], "ok")
        answer = self.client.request("GET", "/readyz")
        self.assertStatus(answer, 200)
        self.assertEqual(answer.json()["status"], "ready")

    def test_metrics_are_prometheus_text(self):
        answer = self.client.request("GET", "/metrics")
        self.assertStatus(answer, 200)
        self.assertIn("# TYPE ", answer.text)

    def test_the_served_document_is_the_one_in_the_tree(self):
        answer = self.client.request("GET", "/api/v1/openapi.json")
        self.assertStatus(answer, 200)
        self.assertEqual(answer.json(), STATE["server"].document.document)


class Customers(Base):
    def test_list_is_paginated_by_cursor_without_gaps_or_repeats(self):
        everyone = [row["customer_id"] for row in self.ids["customers"]]
        self.assertGreater(len(everyone), 50)
        seen = []
        cursor = None
        for _ in range(100):
            query = {"limit": 37}
            if cursor:
                query["cursor"] = cursor
            page = self.get("/api/v1/customers", query=query).json()
            self.assertLessEqual(len(page["items"]), 37)
            seen += [row["customer_id"] for row in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, everyone)

    def test_default_page_is_50(self):
        page = self.get("/api/v1/customers").json()
        self.assertEqual(len(page["items"]), 50)
        self.assertIsNotNone(page["next_cursor"])

    def test_filters(self):
        bands = {row["band"] for row in self.ids["customers"] if row["band"]}  # "" (unscored) filters nothing
        for band in bands:
            rows = items(self.get("/api/v1/customers", query={"band": band, "limit": 500}))
            self.assertTrue(rows)
            self.assertEqual({row["band"] for row in rows}, {band})
        rows = items(self.get("/api/v1/customers", query={"value_class": "A", "limit": 500}))
        self.assertEqual({row["abc_class"] for row in rows} - {"A"}, set())
        rows = items(self.get("/api/v1/customers", query={"changed_band_since": "2011-01-01", "limit": 500}))
        self.assertTrue(rows, "bands changed between the two runs")
        self.assertStatus(self.get("/api/v1/customers", query={"changed_band_since": "2011-01-01T00:00:00Z"}), 200)

    def test_sorting(self):
        rows = items(self.get("/api/v1/customers", query={"sort": "name", "order": "asc", "limit": 500}))
        names = [row["name"] for row in rows]
        self.assertEqual(names, sorted(names))
        rows = items(self.get("/api/v1/customers", query={"sort": "id", "order": "desc", "limit": 500}))
        ids = [row["customer_id"] for row in rows]
        self.assertEqual(ids, sorted(ids, reverse=True))
        rows = items(self.get("/api/v1/customers", query={"sort": "score", "order": "asc", "limit": 500}))
        scores = [row["score"] for row in rows if row["score"] is not None]
        self.assertEqual(scores, sorted(scores))

    def test_bad_queries(self):
        for query in ({"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"sort": "colour"}, {"order": "up"},
                      {"value_class": "Z"}, {"changed_band_since": "yesterday"}, {"cursor": "garbage!"},
                      {"band": "x' OR 1=1 --"}):
            with self.subTest(query=query):
                answer = self.get("/api/v1/customers", query=query)
                if "band" in query:
                    self.assertStatus(answer, 200)  # an unknown band matches nobody
                    self.assertEqual(items(answer), [])
                else:
                    self.assertProblem(answer, 400, "invalid-request")

    def test_360_by_store_id_and_by_source_key(self):
        row = self.ids["customers"][0]
        by_id = self.view(row["customer_id"]).json()
        self.assertEqual(by_id["customer_id"], row["customer_id"])
        by_key = self.view(row["known_as"]).json()
        self.assertEqual(by_key["customer_id"], row["customer_id"])
        self.assertIn(row["known_as"], by_key["known_as"])

    def test_360_shows_the_calibrated_churn_probability(self):
        """`train` ran as of 2011-06-01 with a 90-day horizon, so the run of 2011-09-10 stores each customer's
        probability of buying nothing within 90 days, calibrated on outcomes known by then (issue 17): in
        [0, 1], and a healthier customer is never likelier to churn."""
        scored = [row for row in self.ids["customers"] if row.get("score") is not None]
        unscored = [row for row in self.ids["customers"] if row.get("score") is None]
        seen = []
        for row in scored[:10] + scored[-10:] + unscored[:2]:
            view = self.view(row["customer_id"]).json()
            self.assertEqual(view["churn_horizon_days"], 90, view)
            if view["score"] is None:
                self.assertIsNone(view["churn_probability"])
                self.assertTrue(view["churn_probability_note"])
                continue
            self.assertNotIn("churn_probability_note", view)
            self.assertGreaterEqual(view["churn_probability"], 0)
            self.assertLessEqual(view["churn_probability"], 1)
            seen.append((view["score"], view["churn_probability"]))
        self.assertGreater(len(seen), 10)
        seen.sort()
        for (lower_score, lower_probability), (higher_score, higher_probability) in zip(seen, seen[1:]):
            self.assertGreaterEqual(lower_probability, higher_probability, f"{lower_score} against {higher_score}")
        self.assertGreater(seen[0][1], seen[-1][1], "the riskiest and the healthiest differ")

    def test_360_unknown_and_malformed(self):
        for customer, status, name in (("99999999", 404, "not-found"), ("erp_csv:nobody-here", 404, "not-found"),
                                       ("twelve", 400, "invalid-request")):
            with self.subTest(customer=customer):
                answer = self.get(f"/api/v1/customers/{urllib.parse.quote(customer, safe='')}")
                self.assertProblem(answer, status, name)


def configured_bands():
    """The bands of the served configuration, highest first (the host's defaults unless it sets them)."""
    config = json.loads(STATE["store"].config_path.read_text(encoding="utf-8"))
    return config.get("scoring", {}).get("bands") or [
        {"name": "green", "owner": "account_manager"}, {"name": "yellow", "owner": "csm"},
        {"name": "orange", "owner": "cs_director"}, {"name": "red", "owner": "coo"}]


class CustomerExportAndOwners(Base):
    def every_row(self, query):
        rows, cursor = [], None
        for _ in range(1000):
            page = self.get("/api/v1/customers", query={**query, "limit": 500, **({"cursor": cursor} if cursor else {})})
            rows += items(page)
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return rows
        raise AssertionError("the list did not end")

    def csv(self, query):
        answer = self.get("/api/v1/customers", query={**query, "format": "csv"})
        self.assertStatus(answer, 200)
        self.assertEqual(answer.content_type, "text/csv")
        self.assertIn("attachment", answer.headers.get("content-disposition", ""))
        return answer

    def test_csv_export_is_the_whole_list_with_the_same_filters_and_sort(self):
        import csv
        import io
        for query in ({}, {"band": "red", "sort": "score_change", "order": "desc"}, {"sort": "name"},
                      {"sort": "value", "order": "desc", "value_class": "A"}):
            with self.subTest(query=query):
                answer = self.csv(query)
                self.assertTrue(answer.body.endswith(b"\r\n"), "RFC 4180 lines end in CRLF")
                # A UTF-8 byte order mark, so that Excel reads Chinese names as UTF-8.
                self.assertTrue(answer.body.startswith(b"\xef\xbb\xbfcustomer_id,"), answer.body[:20])
                table = list(csv.reader(io.StringIO(answer.body.decode("utf-8-sig"), newline="")))
                self.assertEqual(table[0], ["customer_id", "name", "known_as", "score", "band", "tier", "stage",
                                            "abc_class"])
                expected = self.every_row(query)
                self.assertEqual([int(row[0]) for row in table[1:]], [row["customer_id"] for row in expected])
                for line, row in zip(table[1:], expected):
                    self.assertEqual(line[1:3] + line[4:], [row["name"], row["known_as"], row["band"], row["tier"],
                                                            row["stage"], row["abc_class"]])
                    self.assertEqual(float(line[3]) if line[3] else None, row["score"])
                self.assertIsNone(answer.headers.get("x-next-cursor"))

    def test_csv_export_limit_continues_by_cursor(self):
        import csv
        import io
        everyone = [row["customer_id"] for row in self.ids["customers"]]
        # More match than the limit: refused with a message saying so, not cut short silently.
        refused = self.get("/api/v1/customers", query={"format": "csv", "limit": 7})
        self.assertProblem(refused, 422, "export-too-large")
        self.assertIn("more than 7 customers match", refused.json()["detail"])
        self.assertIn("parts=true", refused.json()["detail"])
        # In parts when asked: each part says where the next starts.
        first = self.csv({"limit": 7, "parts": "true"})
        cursor = first.headers.get("x-next-cursor")
        self.assertTrue(cursor, "more customers than 7 match")
        second = self.csv({"limit": 5, "cursor": cursor, "parts": "true"})
        ids = [int(row[0]) for body in (first.body, second.body)
               for row in list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))[1:]]
        self.assertEqual(ids, everyone[:12])
        for query in ({"limit": 100001}, {"limit": 0}, {"format": "xml"}):
            with self.subTest(query=query):
                self.assertProblem(self.get("/api/v1/customers", query={"format": "csv", **query}), 400,
                                   "invalid-request")

    def test_several_owners(self):
        owners = sorted({band["owner"] for band in configured_bands()})
        self.assertGreaterEqual(len(owners), 2)
        first, second = owners[0], owners[-1]
        one = {row["customer_id"] for row in self.every_row({"owner": first})}
        other = {row["customer_id"] for row in self.every_row({"owner": second})}
        self.assertTrue(one or other)
        both = [row["customer_id"] for row in self.every_row({"owner": f"{first},{second}"})]
        self.assertEqual(sorted(both), sorted(one | other))
        answer = self.client.request("GET", f"/api/v1/customers?owner={first}&owner={second}&limit=500",
                                     self.token("read"))
        self.assertStatus(answer, 200)
        self.assertEqual({row["customer_id"] for row in items(answer)} <= one | other, True)
        self.assertEqual(items(self.get("/api/v1/customers", query={"owner": "nobody,nobody-else"})), [])


class Overview(Base):
    def overview(self, **query):
        answer = self.get("/api/v1/overview", query=query)
        self.assertStatus(answer, 200)
        return answer.json()

    def test_bands_and_their_history_are_those_of_the_scoring_runs(self):
        overview = self.overview()
        runs = items(self.get("/api/v1/scores/runs", query={"limit": 30}))
        finished = [run for run in runs if run["finished_ms"] is not None]
        self.assertGreaterEqual(len(finished), 2)
        self.assertEqual([run["run_id"] for run in overview["band_history"]], [run["id"] for run in reversed(finished)])
        for point, run in zip(overview["band_history"], reversed(finished)):
            self.assertEqual(point["bands"], run["bands"])
            self.assertTrue(point["as_of"].startswith(run["as_of"]))
        self.assertEqual(overview["bands"], finished[0]["bands"])
        listed = {}
        for row in CustomerExportAndOwners.every_row(self, {}):
            if row["band"]:
                listed[row["band"]] = listed.get(row["band"], 0) + 1
        self.assertEqual(overview["bands"], listed)

    def test_band_changes_between_the_last_two_runs(self):
        overview = self.overview()
        changes = overview["band_changes"]
        history = overview["band_history"]
        self.assertEqual(changes["since_run"], history[-2]["run_id"])
        expected = {}
        for row in CustomerExportAndOwners.every_row(self, {}):
            view = self.view(row["customer_id"]).json()
            before = view.get("previous_band")
            if row["band"] and before and before != row["band"]:
                expected[(before, row["band"])] = expected.get((before, row["band"]), 0) + 1
        got = {(t["from"], t["to"]): t["count"] for t in changes["transitions"]}
        self.assertEqual(got, expected)
        self.assertTrue(got, "the demo's two runs move customers between bands")
        order = [band["name"] for band in configured_bands()]
        worse = sum(n for (a, b), n in got.items() if order.index(b) > order.index(a))
        better = sum(n for (a, b), n in got.items() if order.index(b) < order.index(a))
        self.assertEqual((changes["worse"], changes["better"]), (worse, better))

    def test_open_alerts_by_level_and_deadline(self):
        overview = self.overview()
        now_ms = int(time.mktime(time.strptime(overview["as_of"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone) * 1000
        alerts = items(self.get("/api/v1/alerts", query={"state": "open"}))
        by_level = {}
        for alert in alerts:
            by_level[alert["level"]] = by_level.get(alert["level"], 0) + 1
        self.assertEqual(overview["alerts"]["open_by_level"], by_level)
        self.assertTrue(by_level)
        # as_of is to the second; no deadline of the demo falls within that second
        past = sum(1 for alert in alerts if alert["deadline_ms"] and alert["deadline_ms"] < now_ms)
        soon = sum(1 for alert in alerts if alert["deadline_ms"] and now_ms <= alert["deadline_ms"] < now_ms + 3600_000)
        self.assertEqual((overview["alerts"]["past_deadline"], overview["alerts"]["due_within_hour"]), (past, soon))

    def test_lost_customers_by_reason_in_the_period(self):
        lost = items(self.get("/api/v1/churn"))
        self.assertTrue(lost)
        for days in (30, 3660):
            with self.subTest(period_days=days):
                overview = self.overview(period_days=days)
                start = overview["lost"]["period_start"][:10]
                expected = {}
                for row in lost:
                    if row["churn_date"] >= start:
                        reason = row["reason"] or None
                        expected[reason] = expected.get(reason, 0) + 1
                got = {entry["reason"]: entry["count"] for entry in overview["lost"]["by_reason"]}
                self.assertEqual(got, expected)
                counts = [entry["count"] for entry in overview["lost"]["by_reason"]]
                self.assertEqual(counts, sorted(counts, reverse=True))
        self.assertTrue(self.overview(period_days=3660)["lost"]["by_reason"], "the demo has lost customers")
        for bad in (0, 3661, "week"):
            self.assertProblem(self.get("/api/v1/overview", query={"period_days": bad}), 400, "invalid-request")

    def test_winback_funnel_and_connectors(self):
        overview = self.overview()
        campaigns = items(self.get("/api/v1/campaigns"))
        reports = [self.get(f"/api/v1/campaigns/{campaign['id']}/report").json() for campaign in campaigns]
        for key in ("enrolled", "contacted", "holdout"):
            self.assertEqual(overview["winback"][key], sum(report[key] for report in reports), key)
        connectors = {row["id"]: row for row in items(self.get("/api/v1/connectors"))}
        self.assertEqual({row["id"] for row in overview["connectors"]}, set(connectors))
        for row in overview["connectors"]:
            self.assertEqual(row["quarantined"], connectors[row["id"]]["quarantine_pending"])
            last = connectors[row["id"]]["last_sync"]
            self.assertEqual(row["last_sync"] is None, last is None)
            if last is not None and connectors[row["id"]]["state"] == "loaded":
                self.assertEqual(row["status"], last["status"])


class FollowUps(Base):
    def test_a_follow_up_shows_in_the_360_view(self):
        customer = self.ids["customers"][1]["customer_id"]
        note = f"Called about the spring order {uuid.uuid4()}"
        answer = self.send("POST", f"/api/v1/customers/{customer}/follow-ups",
                           {"by": "li.na", "at": "2011-09-09T10:30:00Z", "channel": "phone", "note": note})
        self.assertStatus(answer, 201)
        created = answer.json()
        self.assertEqual((created["customer_id"], created["by"], created["channel"], created["note"]),
                         (customer, "li.na", "phone", note))
        self.assertIn(note, self.view(customer).text)

    def test_at_defaults_to_now(self):
        customer = self.ids["customers"][2]["customer_id"]
        answer = self.send("POST", f"/api/v1/customers/{customer}/follow-ups",
                           {"by": "li.na", "channel": "visit", "note": "on site"})
        self.assertStatus(answer, 201)
        self.assertTrue(answer.json()["at"])

    def test_bad_bodies(self):
        customer = self.ids["customers"][1]["customer_id"]
        path = f"/api/v1/customers/{customer}/follow-ups"
        for body in ({}, {"by": "li.na", "channel": "phone"}, {"channel": "phone", "note": "x"},
                     {"by": "li.na", "channel": "phone", "note": "x", "at": "last tuesday"},
                     {"by": 7, "channel": "phone", "note": "x"}, [], "text"):
            with self.subTest(body=body):
                self.assertProblem(self.send("POST", path, body), 400, "invalid-request")
        answer = self.client.request("POST", path, self.token("write"), body=b'{"by": "li.na",', content_type="application/json")
        self.assertProblem(answer, 400, "invalid-request")

    def test_unknown_customer(self):
        answer = self.send("POST", "/api/v1/customers/99999999/follow-ups", {"by": "a", "channel": "phone", "note": "x"})
        self.assertProblem(answer, 404, "not-found")

    def test_wrong_content_type(self):
        customer = self.ids["customers"][1]["customer_id"]
        answer = self.client.request("POST", f"/api/v1/customers/{customer}/follow-ups", self.token("write"),
                                     body=json.dumps({"by": "a", "channel": "phone", "note": "x"}),
                                     content_type="text/plain")
        self.assertProblem(answer, 415, "unsupported-media-type")


class Events(Base):
    def customer_key(self, index=3):
        source, external_id = self.ids["customers"][index]["known_as"].split(":", 1)
        return self.ids["customers"][index]["customer_id"], source, external_id

    def test_records_change_the_360_view_and_are_idempotent(self):
        # A record names its customer by the id its own source knows: the customer's source here.
        customer, source, external_id = self.customer_key()
        marker = f"Asked for a quote on the autumn range {uuid.uuid4()}"
        batch = {"source": source, "records": [
            {"type": "interaction", "external_id": f"i-{uuid.uuid4()}", "customer_external_id": external_id,
             "occurred_at_ms": 1315612800000, "channel": "email", "direction": "inbound", "subject": marker,
             "keywords": "quote", "is_complaint": False}]}
        answer = self.send("POST", "/api/v1/events", batch)
        self.assertStatus(answer, 200)
        self.assertEqual({key: answer.json()[key] for key in ("accepted", "rejected")}, {"accepted": 1, "rejected": []})
        self.assertIn(marker, self.view(customer).text)
        again = self.send("POST", "/api/v1/events", batch)
        self.assertEqual({key: again.json()[key] for key in ("accepted", "rejected")}, {"accepted": 1, "rejected": []})
        self.assertEqual(self.view(customer).text.count(marker), 1, "the same (source, external_id) is stored once")

    def test_rejected_records_are_listed_with_their_reason_and_quarantined(self):
        _, _, external_id = self.customer_key(4)
        bad_id = f"o-bad-{uuid.uuid4()}"
        batch = {"source": "crm_api_test", "records": [
            {"type": "order", "external_id": f"o-{uuid.uuid4()}", "customer_external_id": external_id,
             "ordered_at_ms": 1315612800000, "amount": 120.5, "currency": "GBP", "status": "confirmed"},
            {"type": "order", "external_id": bad_id, "customer_external_id": external_id,
             "ordered_at_ms": "not a time", "amount": "lots"},
            {"type": "spaceship", "external_id": "s-1"}]}
        answer = self.send("POST", "/api/v1/events", batch)
        self.assertStatus(answer, 200)
        result = answer.json()
        self.assertEqual(result["accepted"], 1)
        self.assertEqual([(row["index"], row["external_id"]) for row in result["rejected"]], [(1, bad_id), (2, "s-1")])
        for row in result["rejected"]:
            self.assertTrue(row["reason"])
        quarantine = self.get("/api/v1/connectors/crm_api_test/quarantine")
        self.assertStatus(quarantine, 200)
        self.assertTrue(any(bad_id in entry["raw_record"] for entry in items(quarantine)), quarantine.text[:1000])

    def test_bad_batches(self):
        for body in ({}, {"source": "x"}, {"records": []}, {"source": "x", "records": {}}, {"source": "", "records": []},
                     [{"type": "order"}]):
            with self.subTest(body=body):
                self.assertProblem(self.send("POST", "/api/v1/events", body), 400, "invalid-request")

    def test_wrong_content_type(self):
        answer = self.client.request("POST", "/api/v1/events", self.token("write"),
                                     body='{"source": "x", "records": []}', content_type="application/x-www-form-urlencoded")
        self.assertProblem(answer, 415, "unsupported-media-type")
        answer = self.client.request("POST", "/api/v1/events", self.token("write"), body='{"source": "x", "records": []}')
        self.assertProblem(answer, 415, "unsupported-media-type")

    def test_a_body_over_the_limit(self):
        answer = self.client.send_oversized("POST", "/api/v1/events", self.token("write"),
                                            harness.DEFAULT_MAX_BODY_BYTES + 1)
        self.assertProblem(answer, 413, "payload-too-large")
        # ... and the server still serves.
        self.assertStatus(self.get("/api/v1/alerts"), 200)


class Alerts(Base):
    def open_alerts(self):
        return items(self.get("/api/v1/alerts", query={"state": "open"}))

    def test_list_by_state(self):
        for state in ("open", "acknowledged", "resolved"):
            rows = items(self.get("/api/v1/alerts", query={"state": state}))
            self.assertEqual({row["state"] for row in rows} - {state}, set())
        self.assertTrue(self.open_alerts(), "the demo's runs raise alerts")
        self.assertProblem(self.get("/api/v1/alerts", query={"state": "sleeping"}), 400, "invalid-request")

    def test_show(self):
        alert = self.ids["alerts"][0]
        shown = self.get(f"/api/v1/alerts/{alert['id']}").json()
        history = shown.pop("escalation_history")
        self.assertEqual(shown.pop("actions"), [], "nobody acted on it yet")
        self.assertEqual(shown, alert)
        self.assertTrue(history, "every demo alert was notified when it opened")
        self.assertEqual(history[0]["event"], "opened")
        self.assertEqual([entry["outbox_id"] for entry in history], sorted(entry["outbox_id"] for entry in history))
        notified = {row["id"] for row in items(self.get("/api/v1/outbox")) if row["alert_id"] == alert["id"]}
        self.assertEqual({entry["outbox_id"] for entry in history}, notified)
        self.assertProblem(self.get("/api/v1/alerts/99999999"), 404, "not-found")
        self.assertProblem(self.get("/api/v1/alerts/abc"), 400, "invalid-request")

    def test_filters_by_owner_recipient_and_overdue(self):
        everyone = items(self.get("/api/v1/alerts"))
        owner_of = {band["name"]: band["owner"] for band in configured_bands()}
        second_owner = configured_bands()[1]["owner"]
        for owners in (["coo"], ["csm", "coo"]):
            with self.subTest(owners=owners):
                expected = [row["id"] for row in everyone if owner_of.get(row["level"], second_owner) in owners]
                got = [row["id"] for row in items(self.get("/api/v1/alerts", query={"owner": ",".join(owners)}))]
                self.assertEqual(got, expected)
        self.assertTrue([row for row in everyone if owner_of.get(row["level"], second_owner) == "coo"])
        alert = everyone[0]
        recipient = self.get(f"/api/v1/alerts/{alert['id']}").json()["escalation_history"][0]["recipients"][0]
        listed = items(self.get("/api/v1/alerts", query={"recipient": recipient}))
        self.assertIn(alert["id"], [row["id"] for row in listed])
        for row in listed:
            history = self.get(f"/api/v1/alerts/{row['id']}").json()["escalation_history"]
            self.assertIn(recipient, [who for entry in history for who in entry["recipients"]])
        self.assertEqual(items(self.get("/api/v1/alerts", query={"recipient": "nobody%@example.invalid"})), [])
        overview = self.get("/api/v1/overview").json()
        overdue = items(self.get("/api/v1/alerts", query={"overdue": "true"}))
        self.assertEqual(len(overdue), overview["alerts"]["past_deadline"])
        self.assertEqual({row["state"] for row in overdue} - {"open"}, set())
        self.assertProblem(self.get("/api/v1/alerts", query={"overdue": "maybe"}), 400, "invalid-request")

    def test_acknowledge_then_resolve(self):
        alert = self.open_alerts()[-1]
        path = f"/api/v1/alerts/{alert['id']}"
        acked = self.send("POST", path + "/acknowledge", {"by": "li.wei", "note": "calling them"})
        self.assertStatus(acked, 200)
        self.assertEqual((acked.json()["state"], acked.json()["acked_by"]), ("acknowledged", "li.wei"))
        # The note is kept (it was dropped before migration 15) and shown in the alert's history.
        self.assertEqual(acked.json()["ack_note"], "calling them")
        self.assertEqual([(a["action"], a["by"], a["note"]) for a in self.get(path).json()["actions"]],
                         [("acknowledged", "li.wei", "calling them")])
        self.assertProblem(self.send("POST", path + "/acknowledge", {"by": "li.wei"}), 404, "not-found")
        self.assertProblem(self.send("POST", path + "/resolve", {"by": "li.wei"}), 400, "invalid-request")
        resolved = self.send("POST", path + "/resolve", {"by": "li.wei", "note": "order placed"})
        self.assertStatus(resolved, 200)
        body = resolved.json()
        self.assertEqual((body["state"], body["resolved_by"], body["resolution_note"]),
                         ("resolved", "li.wei", "order placed"))
        self.assertEqual(self.get(path).json()["state"], "resolved")
        self.assertEqual([(a["action"], a["by"], a["note"]) for a in self.get(path).json()["actions"]],
                         [("acknowledged", "li.wei", "calling them"), ("resolved", "li.wei", "order placed")])
        self.assertProblem(self.send("POST", path + "/resolve", {"by": "li.wei", "note": "again"}), 404, "not-found")

    def test_acknowledge_errors(self):
        alert = self.open_alerts()[0]
        path = f"/api/v1/alerts/{alert['id']}/acknowledge"
        self.assertProblem(self.send("POST", path, {}), 400, "invalid-request")
        self.assertProblem(self.send("POST", path, {"by": ""}), 400, "invalid-request")
        self.assertProblem(self.send("POST", "/api/v1/alerts/99999999/acknowledge", {"by": "x"}), 404, "not-found")
        answer = self.client.request("POST", path, self.token("write"), body="by=x", content_type="text/plain")
        self.assertProblem(answer, 415, "unsupported-media-type")
        self.assertEqual(self.get(f"/api/v1/alerts/{alert['id']}").json()["state"], "open")


class Outbox(Base):
    def test_list_by_state(self):
        for state in ("pending", "sent", "dead"):
            rows = items(self.get("/api/v1/outbox", query={"state": state}))
            self.assertEqual({row["state"] for row in rows} - {state}, set())
        self.assertProblem(self.get("/api/v1/outbox", query={"state": "lost"}), 400, "invalid-request")

    def test_resend_a_dead_notification(self):
        dead = items(self.get("/api/v1/outbox", query={"state": "dead"}))
        self.assertTrue(dead, "the e-mails of red alerts went to a port where nothing listens, one attempt each")
        answer = self.send("POST", f"/api/v1/outbox/{dead[0]['id']}/resend")
        self.assertStatus(answer, 200)
        self.assertEqual(answer.json()["id"], dead[0]["id"])
        self.assertNotEqual(answer.json()["state"], "dead")
        self.assertProblem(self.send("POST", f"/api/v1/outbox/{dead[0]['id']}/resend"), 404, "not-found")
        self.assertProblem(self.send("POST", "/api/v1/outbox/99999999/resend"), 404, "not-found")


class Runs(Base):
    def test_runs_and_scoring_runs(self):
        runs = self.ids["runs"]
        self.assertGreaterEqual(len(runs), 2, "two main runs and a training")
        self.assertEqual(self.get(f"/api/v1/runs/{runs[0]['id']}").json()["id"], runs[0]["id"])
        self.assertLessEqual(len(items(self.get("/api/v1/runs", query={"limit": 1}))), 1)
        self.assertStatus(self.get("/api/v1/runs", query={"kind": "run"}), 200)
        self.assertProblem(self.get("/api/v1/runs/99999999"), 404, "not-found")
        self.assertProblem(self.get("/api/v1/runs", query={"limit": 0}), 400, "invalid-request")
        scoring = items(self.get("/api/v1/scores/runs"))
        self.assertGreaterEqual(len(scoring), 2)
        self.assertProblem(self.get("/api/v1/scores/runs", query={"limit": "x"}), 400, "invalid-request")


class Churn(Base):
    def test_list_and_show(self):
        self.assertTrue(self.ids["lost"], "the demo's second run finds lost customers")
        eligible = items(self.get("/api/v1/churn", query={"eligible": "true"}))
        self.assertTrue(all(row["eligible"] for row in eligible))
        self.assertProblem(self.get("/api/v1/churn", query={"eligible": "maybe"}), 400, "invalid-request")
        lost = self.ids["lost"][0]
        self.assertEqual(self.get(f"/api/v1/churn/{lost['customer_id']}").json()["customer_id"], lost["customer_id"])
        if self.ids["not_lost_customer"]:
            self.assertProblem(self.get(f"/api/v1/churn/{self.ids['not_lost_customer']}"), 404, "not-found")
        self.assertProblem(self.get("/api/v1/churn/99999999"), 404, "not-found")

    def test_reason_and_whys(self):
        lost = self.ids["lost"][-1]["customer_id"]
        answer = self.send("PUT", f"/api/v1/churn/{lost}/reason", {"reason": "forced_to_leave", "note": "plant closed", "by": "li.na"})
        self.assertStatus(answer, 200)
        self.assertEqual((answer.json()["reason"], answer.json()["reason_note"]), ("forced_to_leave", "plant closed"))
        self.assertProblem(self.send("PUT", f"/api/v1/churn/{lost}/reason", {"reason": "bored", "by": "li.na"}), 400,
                           "invalid-request")
        why = f"Their plant closed {uuid.uuid4()}"
        answer = self.send("POST", f"/api/v1/churn/{lost}/whys", {"why": why})
        self.assertStatus(answer, 200)
        self.assertEqual(answer.json()["why_chain"][-1], why)
        causes = items(self.get("/api/v1/churn/root-causes"))
        self.assertTrue(any(cause["cause"] == why and lost in cause["customers"] for cause in causes))
        self.assertProblem(self.send("POST", f"/api/v1/churn/{lost}/whys", {"why": ""}), 400, "invalid-request")
        if self.ids["not_lost_customer"]:
            self.assertProblem(self.send("POST", f"/api/v1/churn/{self.ids['not_lost_customer']}/whys", {"why": "x"}),
                               404, "not-found")


class Campaigns(Base):
    def test_list_show_report(self):
        campaigns = self.ids["campaigns"]
        self.assertTrue(campaigns, "the demo's playbook enrols the eligible lost customers")
        campaign = campaigns[0]
        self.assertEqual(self.get(f"/api/v1/campaigns/{campaign['id']}").json(), campaign)
        report = self.get(f"/api/v1/campaigns/{campaign['id']}/report").json()
        self.assertEqual(report["campaign_id"], campaign["id"])
        self.assertProblem(self.get("/api/v1/campaigns/99999999"), 404, "not-found")
        self.assertProblem(self.get("/api/v1/campaigns/99999999/report"), 404, "not-found")

    def test_close_a_task(self):
        open_tasks = items(self.get("/api/v1/tasks", query={"state": "open"}))
        self.assertTrue(open_tasks, "the playbook's first step is a call for the account manager")
        task = open_tasks[0]
        path = f"/api/v1/tasks/{task['id']}/close"
        self.assertProblem(self.send("POST", path, {"by": "li.na"}), 400, "invalid-request")
        answer = self.send("POST", path, {"outcome": "new buyer; quote sent", "by": "li.na"})
        self.assertStatus(answer, 200)
        body = answer.json()
        self.assertEqual((body["id"], body["state"], body["outcome"], body["done_by"]),
                         (task["id"], "done", "new buyer; quote sent", "li.na"))
        done = items(self.get("/api/v1/tasks", query={"state": "done"}))
        self.assertIn(task["id"], [row["id"] for row in done])
        self.assertProblem(self.send("POST", "/api/v1/tasks/99999999/close", {"outcome": "x", "by": "y"}), 404, "not-found")
        self.assertProblem(self.get("/api/v1/tasks", query={"state": "later"}), 400, "invalid-request")


class PluginsAndConnectors(Base):
    def test_plugins_and_connectors(self):
        plugins = items(self.get("/api/v1/plugins"))
        self.assertIn("erp_csv", [plugin["id"] for plugin in plugins])
        self.assertTrue(self.ids["connectors"])
        self.assertIn("erp_csv", json.dumps(self.ids["connectors"]))

    def test_quarantine_and_retry(self):
        self.assertStatus(self.get("/api/v1/connectors/erp_csv/quarantine"), 200)
        self.assertStatus(self.get("/api/v1/connectors/erp_csv/quarantine", query={"include_released": "true"}), 200)
        self.assertProblem(self.get("/api/v1/connectors/erp_csv/quarantine", query={"include_released": "perhaps"}), 400,
                           "invalid-request")
        self.assertProblem(self.get("/api/v1/connectors/no_such_connector/quarantine"), 404, "not-found")
        answer = self.send("POST", "/api/v1/connectors/erp_csv/quarantine/retry")
        self.assertIn(answer.status, (200, 409))  # 409: a scheduled job holds the store's lock
        if answer.status == 200:
            self.assertEqual(answer.json()["connector"], "erp_csv")
        self.assertProblem(self.send("POST", "/api/v1/connectors/no_such_connector/quarantine/retry"), 404, "not-found")


class Jobs(Base):
    def test_list_and_run(self):
        jobs = self.ids["jobs"]
        self.assertTrue(jobs, "the scheduler has the configured jobs")
        runs_before = {row["id"] for row in items(self.get("/api/v1/runs", query={"limit": 500}))}
        job = next((job for job in jobs if "alert" in job["id"]), jobs[0])
        answer = self.send("POST", f"/api/v1/jobs/{urllib.parse.quote(job['id'], safe='')}/run")
        self.assertIn(answer.status, (202, 409), answer.text)
        if answer.status == 202:
            self.assertEqual(answer.json()["id"], job["id"])
            # The run lands in `runs` as every run does.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                runs = {row["id"] for row in items(self.get("/api/v1/runs", query={"limit": 500}))}
                if runs - runs_before:
                    break
                time.sleep(0.2)
            self.assertTrue(runs - runs_before, "the triggered job's run is in /api/v1/runs")
            # Let it finish, so that later tests do not meet the store's job lock.
            new_run = max(runs - runs_before)
            while time.monotonic() < deadline and self.get(f"/api/v1/runs/{new_run}").json().get("status") == "running":
                time.sleep(0.2)
        self.assertProblem(self.send("POST", "/api/v1/jobs/no_such_job/run"), 404, "not-found")


class Tokens(Base):
    def test_create_use_list_and_revoke(self):
        name = f"bi-tool-{uuid.uuid4().hex[:8]}"
        answer = self.send("POST", "/api/v1/tokens", {"name": name, "scopes": ["read"]}, scope="admin")
        self.assertStatus(answer, 201)
        secret = answer.json()["token"]
        self.client.secrets.add(secret)
        self.assertEqual(answer.json()["name"], name)
        self.assertStatus(self.client.request("GET", "/api/v1/alerts", secret), 200)
        self.assertProblem(self.client.request("POST", "/api/v1/events", secret, json_body={"source": "x", "records": []}),
                           403, "forbidden")
        listed = self.get("/api/v1/tokens", scope="admin")
        self.assertIn(name, [token["name"] for token in items(listed)])
        for value in self.client.secrets:
            self.assertNotIn(value, listed.text, "a token list never shows a secret")
        self.assertProblem(self.send("POST", "/api/v1/tokens", {"name": name, "scopes": ["read"]}, scope="admin"), 409,
                           "conflict")
        deleted = self.send("DELETE", f"/api/v1/tokens/{name}", scope="admin")
        self.assertStatus(deleted, 204)
        self.assertProblem(self.client.request("GET", "/api/v1/alerts", secret), 401, "unauthorized")
        self.assertProblem(self.send("DELETE", f"/api/v1/tokens/{name}", scope="admin"), 404, "not-found")

    def test_bad_requests(self):
        for body in ({"name": "x"}, {"name": "x", "scopes": []}, {"name": "x", "scopes": ["root"]},
                     {"name": "", "scopes": ["read"]}):
            with self.subTest(body=body):
                self.assertProblem(self.send("POST", "/api/v1/tokens", body, scope="admin"), 400, "invalid-request")


class AcknowledgeLinks(Base):
    def test_a_link_that_was_not_signed_by_the_server(self):
        for token in ("not-a-signed-link", "a" * 200):
            for method in ("GET", "POST"):
                with self.subTest(token=token[:20], method=method):
                    answer = self.client.request(method, f"/ack/{token}", body="confirm=yes" if method == "POST" else None,
                                                 content_type="application/x-www-form-urlencoded" if method == "POST" else None)
                    self.assertStatus(answer, 404)
                    self.assertEqual(answer.content_type, "text/html")


class ProblemsLeakNothing(Base):
    def test_the_client_checked_problems_of_every_kind(self):
        # Every answer of every test went through ApiClient.check, which fails on SQL, paths and
        # tokens in problems; this test makes sure errors were among them.
        probes = [self.get("/api/v1/customers/99999999"), self.get("/api/v1/customers", query={"limit": "'; DROP TABLE x"}),
                  self.client.request("GET", "/api/v1/alerts", self.token("read") + "x")]
        for answer in probes:
            self.assertEqual(answer.content_type, "application/problem+json")
            self.assertNotIn(self.token("read"), answer.text)
        self.assertFalse(re.search(r"SELECT|sqlite|/tmp/", "".join(answer.text for answer in probes)))


def main():
    global CRMHOST
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crmhost", required=True, help="the crmhost binary")
    args, rest = parser.parse_known_args()
    CRMHOST = args.crmhost
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
