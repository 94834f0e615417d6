#!/usr/bin/env python3
"""Server time of the web app's API reads (bench/web_bench.sh): each PATH requested COUNT times in a row
on one keep-alive connection after WARMUP requests not counted. For every request two figures:
  - server: the request's own duration as `crmhost serve` measured it, read from its Prometheus
    histogram crm_http_request_duration_seconds: the _sum of the route's series before and after
    the request (one request in between, on this client's connection; /metrics is another series);
  - client: the time from sending the request to the last byte of the answer, on loopback.
Prints one line per path: `PATH server_median_ms=.. client_median_ms=.. server_ms=[...] bytes=..`.

Usage: web_bench.py --url http://127.0.0.1:PORT --token TOKEN [--count 20] [--warmup 3] PATH...

--browser: the web app's pages in headless Chromium (Debian's chromium, chromium-driver and
python3-selenium, as tests/web uses them), signed in as --user with the password on stdin. Each
PATH=READY (an app path and the name the page sets in body[data-ready] once its data is shown) is
loaded COUNT times after WARMUP loads not counted (assets then come from the browser's cache, as
they do for people: they are immutable), each a new document; the figure is the time from the
navigation's start (PerformanceNavigationTiming, startTime 0) to the app's `crm-ready` performance
mark, set when the page has rendered its data. Prints one line per path:
`PATH ready_median_ms=.. ready_ms=[...] dom_content_loaded_median_ms=..`.
"""

import argparse
import http.client
import os
import re
import statistics
import sys
import time
import urllib.parse


def route_of(path):
    """The route template crmhost labels the metrics with (the paths measured here have no parameters)."""
    return urllib.parse.urlsplit(path).path


def duration_sum(metrics_text, route):
    pattern = re.compile(r'^crm_http_request_duration_seconds_sum\{([^}]*)\} (\S+)$', re.M)
    total = 0.0
    for labels, value in pattern.findall(metrics_text):
        if f'route="{route}"' in labels and 'method="GET"' in labels:
            total += float(value)
    return total


class Client:
    def __init__(self, url, token):
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.metrics_connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.token = token

    def get(self, path):
        started = time.perf_counter()
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed, body

    def metrics(self):
        self.metrics_connection.request("GET", "/metrics")
        response = self.metrics_connection.getresponse()
        return response.read().decode("utf-8")


def browser_main(args):
    for program, package in (("/usr/bin/chromium", "chromium"), ("/usr/bin/chromedriver", "chromium-driver")):
        if not os.access(program, os.X_OK):
            raise SystemExit(f"web_bench.py --browser: {program} is missing: install Debian's {package}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        raise SystemExit("web_bench.py --browser: Selenium is missing: install Debian's python3-selenium") from None
    password = sys.stdin.readline().rstrip("\n")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1366,900", "--lang=en-GB"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(120)

    def ready(name):
        WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.ready") == name)

    try:
        driver.get(args.url + "/app/overview")
        ready("signin")
        driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys(args.user)
        driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
        ready("overview")
        for spec in args.paths:
            path, _, name = spec.rpartition("=")
            figures, loaded = [], []
            for attempt in range(args.warmup + args.count):
                driver.get(args.url + path)
                ready(name)
                timing = driver.execute_script("""
                    const navigation = performance.getEntriesByType('navigation')[0];
                    const mark = performance.getEntriesByName('crm-ready').find((m) => m.detail === arguments[0]);
                    return [mark.startTime - navigation.startTime, navigation.domContentLoadedEventEnd];""", name)
                if attempt >= args.warmup:
                    figures.append(timing[0])
                    loaded.append(timing[1])
            print(f"{path} ready_median_ms={statistics.median(figures):.0f} "
                  f"ready_ms=[{' '.join(f'{v:.0f}' for v in figures)}] "
                  f"dom_content_loaded_median_ms={statistics.median(loaded):.0f}", flush=True)
    finally:
        driver.quit()
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--browser", action="store_true")
    parser.add_argument("--user", help="--browser: who signs in (the password on stdin)")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    if args.browser:
        if not args.user:
            parser.error("--browser needs --user")
        return browser_main(args)
    if not args.token:
        parser.error("--token is required")
    client = Client(args.url, args.token)
    for path in args.paths:
        route = route_of(path)
        try:
            for _ in range(args.warmup):
                client.get(path)
        except TimeoutError:
            print(f"{path} server_median_ms=timeout client_median_ms=timeout (no answer within 120 s)", flush=True)
            client = Client(args.url, args.token)  # the server may still be working on it: a new connection
            continue
        server, clients = [], []
        size = 0
        for _ in range(args.count):
            before = duration_sum(client.metrics(), route)
            elapsed, body = client.get(path)
            after = duration_sum(client.metrics(), route)
            server.append((after - before) * 1000)
            clients.append(elapsed * 1000)
            size = len(body)
        print(f"{path} server_median_ms={statistics.median(server):.2f} "
              f"client_median_ms={statistics.median(clients):.2f} "
              f"server_ms=[{' '.join(f'{v:.1f}' for v in server)}] bytes={size}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
