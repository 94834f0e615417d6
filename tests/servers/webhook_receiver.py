#!/usr/bin/env python3
"""A real HTTP receiver on loopback for the webhook channel's tests and the
alert benchmark (stdlib asyncio, HTTP/1.1 with keep-alive, so that it keeps
up with thousands of notifications a second).

Usage: webhook_receiver.py [--port 0]; prints "listening PORT" on stdout once ready.
Every POST to any path other than /__control/ is recorded (path, headers, body) and
answered with the next scripted status (default 200).
  POST /__control/script    {"statuses": [503, 503, 200], "delay_s": 0}  scripts the next replies
  GET  /__control/requests  the recorded requests, oldest first
  GET  /__control/count     {"requests": N}
"""
import argparse
import asyncio
import json
import sys

STATE = {"statuses": [], "delay_s": 0.0, "requests": []}
REASONS = {200: "OK", 404: "Not Found", 400: "Bad Request"}


def response(status, body):
    data = json.dumps(body).encode()
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip()] = value.strip()
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            body = (await reader.readexactly(length)).decode("utf-8", "replace") if length else ""
            writer.write(await answer(method, path, headers, body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def answer(method, path, headers, body):
    if path == "/__control/requests":
        return response(200, STATE["requests"])
    if path == "/__control/count":
        return response(200, {"requests": len(STATE["requests"])})
    if path == "/__control/script" and method == "POST":
        script = json.loads(body)
        STATE["statuses"] = list(script.get("statuses", []))
        STATE["delay_s"] = float(script.get("delay_s", 0))
        return response(200, {"ok": True})
    if method != "POST":
        return response(404, {"error": "not found"})
    STATE["requests"].append({"path": path, "headers": headers, "body": body})
    status = STATE["statuses"].pop(0) if STATE["statuses"] else 200
    if STATE["delay_s"]:
        await asyncio.sleep(STATE["delay_s"])
    return response(status, {"status": status})


async def serve(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
