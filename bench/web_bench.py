#!/usr/bin/env python3
"""Server time of the web app's API reads (bench/web_bench.sh): each PATH requested COUNT times in a row
on one keep-alive connection after WARMUP requests not counted. For every request two figures:
  - server: the request's own duration as `crmhost serve` measured it, read from its Prometheus
    histogram crm_http_request_duration_seconds: the _sum of the route's series before and after
    the request (one request in between, on this client's connection; /metrics is another series);
  - client: the time from sending the request to the last byte of the answer, on loopback.
Prints one line per path: `PATH server_median_ms=.. client_median_ms=.. server_ms=[...] bytes=..`.

Usage: web_bench.py --url http://127.0.0.1:PORT --token TOKEN [--count 20] [--warmup 3] PATH...
"""

import argparse
import http.client
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
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
