#!/usr/bin/env python3
"""A real HTTP receiver on loopback for the webhook channel's tests (stdlib only).

Usage: webhook_receiver.py [--port 0]; prints "listening PORT" on stdout once ready.
Every POST to any path other than /__control/ is recorded (path, headers, body) and
answered with the next scripted status (default 200).
  POST /__control/script   {"statuses": [503, 503, 200], "delay_s": 0}  scripts the next replies
  GET  /__control/requests  the recorded requests, oldest first
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"statuses": [], "delay_s": 0.0, "requests": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/__control/requests":
            with LOCK:
                self.reply(200, STATE["requests"])
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        if self.path == "/__control/script":
            script = json.loads(body)
            with LOCK:
                STATE["statuses"] = list(script.get("statuses", []))
                STATE["delay_s"] = float(script.get("delay_s", 0))
            self.reply(200, {"ok": True})
            return
        with LOCK:
            STATE["requests"].append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            status = STATE["statuses"].pop(0) if STATE["statuses"] else 200
            delay = STATE["delay_s"]
        if delay:
            time.sleep(delay)
        self.reply(status, {"status": status})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
