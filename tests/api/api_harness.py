"""Black-box harness for the REST API of `crmhost serve` (Python 3 standard library + python3-jsonschema).

- `prepare_store` builds a store from real data: the demo's configuration
  (examples/demo/crmhost.json) and its Online Retail sample, run by the real
  `crmhost run` as of two dates (as scripts/demo.sh does), in a temporary folder;
  on PostgreSQL (CRM_TEST_POSTGRESQL_URL_FILE set, as ctest's ".postgresql"
  variants do) in a database of its own on the suite's server.
- `create_token` makes API tokens with `crmhost tokens create NAME --scopes ... --json`.
- `ServedStore` starts `crmhost serve --listen 127.0.0.1:PORT` on a free port,
  waits for /readyz, and stops it with SIGTERM (it must exit 0).
- `ApiClient` sends real HTTP requests and checks every answer against the
  OpenAPI document (host/api/openapi.json): the status must be one the operation
  documents, the content type one documented for that status, and the body must
  validate against the documented schema. Problem details must not leak SQL,
  file paths or any token. A mismatch raises `ContractViolation`.
"""

import copy
import dataclasses
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

try:
    import jsonschema
except ImportError:  # pragma: no cover - the message is the point
    raise SystemExit("tests/api: python3-jsonschema is missing: install Debian's python3-jsonschema (scripts/lib.sh does)")

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = HERE.parent.parent
DOCUMENT_PATH = SOURCE_DIR / "host" / "api" / "openapi.json"
DEMO_DIR = SOURCE_DIR / "examples" / "demo"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# The default request body limit of the server (host/http/server.hpp, ServerOptions::max_body_bytes).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not allow, or a problem body that leaks."""


class HarnessError(RuntimeError):
    """The harness could not prepare what the tests need (a command failed, the server did not start)."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_command(arguments, what, env=None, timeout_s=900):
    completed = subprocess.run(arguments, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    if completed.returncode != 0:
        raise HarnessError(f"{what}: `{' '.join(map(str, arguments))}` exited {completed.returncode}:\n"
                           f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}")
    return completed.stdout


# ---------------------------------------------------------------------------------------------
# The OpenAPI document


@dataclasses.dataclass
class Operation:
    method: str  # lower case
    path: str  # the template: /api/v1/alerts/{id}
    spec: dict
    pattern: re.Pattern

    @property
    def scope(self):
        return self.spec["x-crm-scope"]

    @property
    def operation_id(self):
        return self.spec["operationId"]

    def __str__(self):
        return f"{self.method.upper()} {self.path} ({self.operation_id})"


class ApiDocument:
    """host/api/openapi.json, with its operations matched to concrete request paths."""

    def __init__(self, path=DOCUMENT_PATH):
        with open(path, encoding="utf-8") as file:
            self.document = json.load(file)
        self.operations = []
        for template, item in self.document["paths"].items():
            # A path parameter is one segment: percent-encoded customer keys hold no '/'.
            regex = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
            for method in HTTP_METHODS:
                if method in item:
                    self.operations.append(Operation(method, template, item[method], re.compile(regex)))
        self._validators = {}

    def operation(self, method, path):
        """The operation serving METHOD on a concrete path (no query), or None."""
        path = urllib.parse.urlsplit(path).path
        matches = [op for op in self.operations if op.method == method.lower() and op.pattern.match(path)]
        # A literal segment wins over a template (/churn/root-causes over /churn/{customer}).
        matches.sort(key=lambda op: op.path.count("{"))
        return matches[0] if matches else None

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.document
            for token in node["$ref"].lstrip("#/").split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validator(self, schema):
        """A Draft 2020-12 validator of `schema`, its "#/components/..." references resolved in the document."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            wrapper = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                       "components": self.document["components"], "allOf": [schema]}
            self._validators[key] = jsonschema.Draft202012Validator(
                wrapper, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        return self._validators[key]

    def request_schema(self, operation):
        body = self.resolve(operation.spec.get("requestBody", {}))
        media = body.get("content", {}).get("application/json")
        return media["schema"] if media else None


# ---------------------------------------------------------------------------------------------
# HTTP


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict  # lower-cased names
    body: bytes
    operation: Operation

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")


# SQL as the database would echo it (upper-case keywords), and what its error messages say.
SQL_WORDS = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|WHERE|JOIN|VALUES\s*\()"
                       r"|relation \"|ON CONFLICT|RETURNING")
SQL_WORDS_ANY_CASE = re.compile(r"\b(sqlite3?|sqlstate|libpq|syntax error at|constraint failed|no such table|"
                                r"no such column|duplicate key value)\b", re.IGNORECASE)
FILE_PATHS = re.compile(r"(?<![\w.:/])/(?:tmp|work|home|usr|etc|var|root|opt|proc|srv)/|\.(?:cpp|hpp|db|so|json)\b"
                        r"|\bbuild/|\bhost/(?:api|app|store)/")


class ApiClient:
    """Real HTTP to one server; every answer checked against the document."""

    def __init__(self, host, port, document, secrets=()):
        self.host = host
        self.port = port
        self.document = document
        self.secrets = set(secrets)  # tokens and other values no answer may show
        self.checked = []  # (operation id, status) of every answer checked

    def request(self, method, path, token=None, json_body=None, body=None, content_type=None, headers=None,
                query=None):
        """Sends one request; returns the checked Answer. `path` may hold a query; `query` (a dict) is appended."""
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        operation = self.document.operation(method, path)
        if operation is None:
            raise ContractViolation(f"{method} {path}: the document has no such operation (test bug)")
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode("utf-8")
        if content_type:
            sent_headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method.upper(), path, body=body, headers=sent_headers)
            response = connection.getresponse()
            answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(),
                            operation)
        finally:
            connection.close()
        self.check(method, path, answer)
        return answer

    def send_oversized(self, method, path, token, size_bytes, content_type="application/json"):
        """Streams a body of `size_bytes` (valid JSON up to where the server stops reading); the checked Answer."""
        operation = self.document.operation(method, path)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.putrequest(method.upper(), path)
            connection.putheader("Authorization", f"Bearer {token}")
            connection.putheader("Content-Type", content_type)
            connection.putheader("Content-Length", str(size_bytes))
            connection.endheaders()
            chunk = b" " * 65536
            sent = 0
            try:
                # A JSON string of spaces: '"' + spaces + '"'.
                connection.send(b'"')
                sent = 1
                while sent < size_bytes - 1:
                    piece = chunk[: min(len(chunk), size_bytes - 1 - sent)]
                    connection.send(piece)
                    sent += len(piece)
                connection.send(b'"')
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before reading it all: read what it said
            response = connection.getresponse()
            answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(),
                            operation)
        finally:
            connection.close()
        self.check(method, path, answer)
        return answer

    def check(self, method, path, answer):
        operation = answer.operation
        where = f"{method.upper()} {path} -> {answer.status}"
        responses = operation.spec["responses"]
        declared = responses.get(str(answer.status)) or responses.get(f"{str(answer.status)[0]}XX") \
            or responses.get("default")
        if declared is None:
            raise ContractViolation(f"{where}: status {answer.status} is not documented for {operation} "
                                    f"(documented: {', '.join(responses)}); body: {answer.text[:500]}")
        declared = self.document.resolve(declared)
        content = declared.get("content", {})
        if not content:
            if answer.body:
                raise ContractViolation(f"{where}: the document declares no body, the server sent {answer.text[:200]!r}")
        else:
            media = content.get(answer.content_type)
            if media is None:
                raise ContractViolation(f"{where}: content type {answer.headers.get('content-type')!r} is not "
                                        f"documented (documented: {', '.join(content)}); body: {answer.text[:300]}")
            if answer.content_type in ("application/json", "application/problem+json"):
                try:
                    value = answer.json()
                except ValueError as error:
                    raise ContractViolation(f"{where}: the body is not JSON ({error}): {answer.text[:300]}") from None
                errors = sorted(self.document.validator(media.get("schema", {})).iter_errors(value),
                                key=lambda e: list(e.absolute_path))
                if errors:
                    details = "\n".join(f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                                        for e in errors[:10])
                    raise ContractViolation(f"{where}: the body does not match the schema of {operation}:\n{details}\n"
                                            f"body: {answer.text[:1500]}")
        if answer.content_type == "application/problem+json":
            self.check_problem(where, answer)
        if answer.status == 401 and "bearer" not in answer.headers.get("www-authenticate", "").lower():
            raise ContractViolation(f"{where}: a 401 must carry WWW-Authenticate: Bearer")
        self.checked.append((operation.operation_id, answer.status))

    def check_problem(self, where, answer):
        problem = answer.json()
        if problem.get("status") != answer.status:
            raise ContractViolation(f"{where}: the problem's status is {problem.get('status')}")
        text = answer.text
        for pattern in (SQL_WORDS, SQL_WORDS_ANY_CASE):
            found = pattern.search(text)
            if found:
                raise ContractViolation(f"{where}: the problem shows SQL or the database ({found.group(0)!r}): {text}")
        found = FILE_PATHS.search(text)
        if found:
            raise ContractViolation(f"{where}: the problem shows a file path ({found.group(0)!r}): {text}")
        for secret in self.secrets:
            if secret and secret in text:
                raise ContractViolation(f"{where}: the problem shows a token: {text}")
        if re.search(r"\bat 0x[0-9a-f]+|#\d+ 0x[0-9a-f]+|Traceback|terminate called", text):
            raise ContractViolation(f"{where}: the problem shows a stack trace: {text}")


# ---------------------------------------------------------------------------------------------
# The store, the tokens, the server


@dataclasses.dataclass
class PreparedStore:
    crmhost: str
    folder: pathlib.Path
    config_path: pathlib.Path
    database: str  # file path or postgresql:// URL
    env: dict

    def crmhost_command(self, *arguments):
        return [self.crmhost, "--config", str(self.config_path), "--log-level", "warn", *arguments]

    def run(self, *arguments, what=None):
        return run_command(self.crmhost_command(*arguments), what or f"crmhost {' '.join(arguments)}", env=self.env)


def postgresql_database(name):
    """A fresh database on the suite's PostgreSQL server, or None on SQLite (CRM_TEST_POSTGRESQL_URL_FILE unset)."""
    url_file = os.environ.get("CRM_TEST_POSTGRESQL_URL_FILE")
    if not url_file:
        return None
    try:
        server_url = pathlib.Path(url_file).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise HarnessError(f"CRM_TEST_POSTGRESQL_URL_FILE={url_file}: {error}: the suite's PostgreSQL server did not "
                           f"start (ctest starts it as the test postgresql.server.start)") from None
    if not shutil.which("psql"):
        raise HarnessError("psql not found: install Debian's postgresql-15 (scripts/lib.sh does)")
    run_command(["psql", server_url, "-v", "ON_ERROR_STOP=1", "-qc", f'DROP DATABASE IF EXISTS "{name}"'], "psql")
    run_command(["psql", server_url, "-v", "ON_ERROR_STOP=1", "-qc", f'CREATE DATABASE "{name}"'], "psql")
    return server_url.rsplit("/", 1)[0] + "/" + name


def demo_config(folder, database, smtp_port):
    """The demo's configuration, its paths moved into `folder` and to the demo's data."""
    with open(DEMO_DIR / "crmhost.json", encoding="utf-8") as file:
        config = json.load(file)
    config = copy.deepcopy(config)
    config["database"] = database
    config["log_level"] = "warn"
    plugins = config["plugins"]
    plugins["erp_csv"]["config"]["path"] = str(DEMO_DIR / "data" / "orders")
    plugins["alert_console"]["config"]["path"] = str(folder / "alerts.txt")
    # Nothing listens there: red alerts' e-mails fail, and with one attempt they are dead at
    # once, which gives the outbox dead notifications to resend.
    plugins["alert_email"]["config"]["smtp_url"] = f"smtp://127.0.0.1:{smtp_port}"
    plugins["alert_email"]["config"]["timeout_ms"] = 2000
    config["alerts"]["max_attempts"] = 1
    return config


def prepare_store(crmhost, name="api_routes"):
    """A store of the demo's real data after the main job as of 2011-06-01 and 2011-09-10."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix=f"crm-{name}-"))
    database = postgresql_database(f"{name}_{os.getpid()}") or str(folder / "crm.db")
    config_path = folder / "crmhost.json"
    config_path.write_text(json.dumps(demo_config(folder, database, free_port()), indent=2), encoding="utf-8")
    env = dict(os.environ)
    env.pop("CRMHOST_CONFIG", None)
    store = PreparedStore(crmhost, folder, config_path, database, env)
    store.run("run", "--as-of", "2011-06-01")
    store.run("train", "--as-of", "2011-06-01", "--horizon", "90")
    store.run("run", "--as-of", "2011-09-10")
    return store


def create_token(store, name, scopes):
    """A new token's secret (`crmhost tokens create NAME --scopes ... --json`)."""
    output = store.run("tokens", "create", name, "--scopes", ",".join(scopes), "--json",
                       what=f"crmhost tokens create {name}")
    try:
        created = json.loads(output)
    except ValueError:
        raise HarnessError(f"crmhost tokens create {name} --json printed no JSON: {output[:500]}") from None
    token = created.get("token")
    if not token:
        raise HarnessError(f"crmhost tokens create {name} --json printed no token: {sorted(created)}")
    return token


class ServedStore:
    """`crmhost serve` on a free loopback port over a prepared store."""

    def __init__(self, store, document):
        self.store = store
        self.document = document
        self.port = None
        self.process = None
        self.log_path = store.folder / "serve.log"

    def start(self, ready_timeout_s=120):
        self.port = free_port()
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            self.store.crmhost_command("serve", "--listen", f"127.0.0.1:{self.port}"),
            stdout=log, stderr=subprocess.STDOUT, env=self.store.env)
        deadline = time.monotonic() + ready_timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(f"crmhost serve exited {self.process.returncode} before it was ready:\n"
                                   f"{self.log()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/readyz")
                response = connection.getresponse()
                response.read()
                connection.close()
                if response.status == 200:
                    return self
                last = f"/readyz answered {response.status}"
            except OSError as error:
                last = str(error)
            time.sleep(0.1)
        self.stop()
        raise HarnessError(f"crmhost serve was not ready within {ready_timeout_s} s ({last}):\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout_s=30):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def client(self, secrets=()):
        return ApiClient("127.0.0.1", self.port, self.document, secrets)


def cleanup(store):
    if store is None:
        return
    if store.database.startswith("postgresql://"):
        server = store.database.rsplit("/", 1)[0] + "/postgres"
        name = store.database.rsplit("/", 1)[1]
        subprocess.run(["psql", server, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                       capture_output=True, check=False)
    shutil.rmtree(store.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# People of the web app and their browser sessions


def add_user(store, name, role, password, owners=()):
    """`crmhost users add NAME --role ROLE --password-stdin [--owner ID...] --json`; the user as JSON."""
    arguments = store.crmhost_command("users", "add", name, "--role", role, "--password-stdin", "--json")
    for owner in owners:
        arguments += ["--owner", owner]
    completed = subprocess.run(arguments, input=password + "\n", capture_output=True, text=True, env=store.env,
                               timeout=120, check=False)
    if completed.returncode != 0:
        raise HarnessError(f"crmhost users add {name} exited {completed.returncode}:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout)


@dataclasses.dataclass
class BrowserSession:
    """What a browser holds after signing in: the crm_session cookie and the CSRF token."""
    cookie: str
    csrf_token: str
    body: dict
    set_cookie: str

    def headers(self, csrf=True):
        sent = {"Cookie": f"crm_session={self.cookie}"}
        if csrf:
            sent["X-CSRF-Token"] = self.csrf_token
        return sent

    @property
    def permissions(self):
        return self.body["user"]["permissions"]


def sign_in(client, name, password):
    """POST /api/v1/session; the BrowserSession (raises HarnessError unless 200 with a cookie)."""
    answer = client.request("POST", "/api/v1/session", json_body={"name": name, "password": password})
    if answer.status != 200:
        raise HarnessError(f"sign-in of {name} answered {answer.status}: {answer.text[:500]}")
    set_cookie = answer.headers.get("set-cookie", "")
    found = re.match(r"crm_session=([A-Za-z0-9_-]{43});", set_cookie)
    if not found:
        raise HarnessError(f"sign-in of {name} set no crm_session cookie: {set_cookie!r}")
    body = answer.json()
    return BrowserSession(found.group(1), body["csrf_token"], body, set_cookie)
