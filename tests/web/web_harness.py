"""Helpers of the browser tests (tests/web): headless Chromium from Debian driven by Selenium, the
axe-core check injected from host/web/node_modules, full-page screenshots, and a cookie session
to the API for checking what the pages did.

Needs Debian's chromium, chromium-driver, python3-selenium and fonts-noto-cjk (scripts/lib.sh
installs them); fails naming the package when one is missing.
"""

import http.client
import http.cookies
import json
import os
import pathlib
import shutil
import time

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = HERE.parent.parent
AXE_PATH = SOURCE_DIR / "host" / "web" / "node_modules" / "axe-core" / "axe.min.js"

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the message is the point
    raise SystemExit("tests/web: Selenium is missing: install Debian's python3-selenium (scripts/lib.sh does)")

__all__ = ["By", "Select", "TimeoutException", "Browser", "CookieSession", "require_programs"]

DESKTOP = (1366, 900)
PHONE = (390, 844)


def require_programs():
    for program, package in (("/usr/bin/chromium", "chromium"), ("/usr/bin/chromedriver", "chromium-driver")):
        if not os.access(program, os.X_OK):
            raise SystemExit(f"tests/web: {program} is missing: install Debian's {package} (scripts/lib.sh does)")
    if not pathlib.Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc").exists():
        raise SystemExit("tests/web: the CJK fonts are missing: install Debian's fonts-noto-cjk (scripts/lib.sh does)")
    if not AXE_PATH.exists():
        raise SystemExit(f"tests/web: {AXE_PATH} is missing: run `npm ci` in host/web (scripts/test.sh does)")


class Browser:
    """One headless Chromium window of a given size on one server."""

    def __init__(self, base_url, size, artefacts, label):
        self.base_url = base_url
        self.size = size
        self.label = label
        self.artefacts = pathlib.Path(artefacts)
        self.artefacts.mkdir(parents=True, exist_ok=True)
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         f"--window-size={size[0]},{size[1]}", "--force-device-scale-factor=1", "--lang=en-GB"):
            options.add_argument(argument)
        options.binary_location = "/usr/bin/chromium"
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.set_window_size(*size)
        self.driver.set_script_timeout(60)
        self.axe_source = AXE_PATH.read_text(encoding="utf-8")

    def close(self):
        self.driver.quit()

    def open(self, path, ready=None, timeout_s=30):
        self.driver.get(self.base_url + path)
        return self.wait_ready(ready, timeout_s)

    def wait_ready(self, ready=None, timeout_s=30):
        """Waits until the shell says the page `ready` (or any page) has drawn its data."""
        def done(driver):
            value = driver.execute_script("return document.body.dataset.ready || ''")
            return value and (ready is None or value == ready)
        try:
            WebDriverWait(self.driver, timeout_s).until(done)
        except TimeoutException:
            raise AssertionError(f"{self.label}: the page {ready or ''} was not ready within {timeout_s} s at "
                                 f"{self.driver.current_url}; console: {self.console()}") from None
        return self

    def wait_for(self, condition, what, timeout_s=30):
        try:
            # The pages redraw after each action: an element found a moment ago may be gone; look again.
            return WebDriverWait(self.driver, timeout_s, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda driver: condition())
        except TimeoutException:
            raise AssertionError(f"{self.label}: {what} did not happen within {timeout_s} s at "
                                 f"{self.driver.current_url}; console: {self.console()}") from None

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def click(self, element):
        """Scrolls the element to the middle of the view and clicks it like a person (not under the bottom bar)."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def console(self):
        try:
            return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] in ("SEVERE",)]
        except Exception:  # noqa: BLE001 - diagnostics only
            return []

    def screenshot(self, name):
        """The whole page (beyond the window) as PNG in the artefacts folder; returns its path."""
        path = self.artefacts / f"{name}-{self.label}.png"
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        width = max(self.size[0], int(content["width"]))
        height = min(max(self.size[1], int(content["height"])), 12000)
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        import base64
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def horizontal_overflow(self):
        """How many CSS pixels the page is wider than the window (0: nothing to scroll sideways)."""
        return self.driver.execute_script(
            "return Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)")

    def axe(self):
        """axe-core's serious and critical violations on the page: [(id, impact, help, [targets])]."""
        self.driver.execute_script(self.axe_source)
        result = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then((r) => done(JSON.stringify(r.violations)))
              .catch((e) => done(JSON.stringify({error: String(e)})));""")
        violations = json.loads(result)
        if isinstance(violations, dict):
            raise AssertionError(f"axe-core failed: {violations['error']}")
        return [(v["id"], v["impact"], v["help"], [" ".join(map(str, n["target"])) for n in v["nodes"]][:5])
                for v in violations if v["impact"] in ("serious", "critical")]


class CookieSession:
    """The API as a signed-in user: the crm_session cookie and the CSRF token (for checks and setup)."""

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.cookie = None
        self.csrf = None
        self.user = None

    def request(self, method, path, body=None, csrf=True):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = f"crm_session={self.cookie}"
        if csrf and self.csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            payload = response.read()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    jar = http.cookies.SimpleCookie(value)
                    if "crm_session" in jar:
                        self.cookie = jar["crm_session"].value or None
            kind = response.getheader("Content-Type", "")
            data = json.loads(payload) if "json" in kind and payload else payload
            return response.status, data
        finally:
            connection.close()

    def sign_in(self, name, password):
        status, body = self.request("POST", "/api/v1/session", {"name": name, "password": password})
        if status != 200:
            raise AssertionError(f"sign-in of {name} answered {status}: {body}")
        self.csrf = body["csrf_token"]
        self.user = body["user"]
        return body


def wait_until(condition, what, timeout_s=30, interval_s=0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def clean_folder(path):
    path = pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path
