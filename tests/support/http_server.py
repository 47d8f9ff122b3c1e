#!/usr/bin/python3
"""A real HTTP server for arkwatch's channel tests, answering as Slack's incoming webhooks, the
Telegram Bot API and an Alertmanager webhook receiver do.

Saves every request as DIR/N.json ({"method", "path", "headers", "body"}) before it answers,
and prints READY on stdout once it listens. Answers come from DIR/script.json when it names
the request's path prefix ({"/slack": [{"status": 500}, ...]}: each request takes the first
entry and the file is written back without it); otherwise:

  /slack...                     200 "ok" (400 "no_text" for a payload without text)
  /bot<TOKEN>/<method>          {"ok": true, "result": {...}}, 401 for another token
  anything else                 200 {"status": "success"}

  http_server.py --port P --dir D [--telegram-token T] [--cert C --key K]
"""
import argparse
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def scripted(directory, path):
    script_path = os.path.join(directory, "script.json")
    if not os.path.exists(script_path):
        return None
    with open(script_path) as f:
        script = json.load(f)
    for prefix in sorted(script, key=len, reverse=True):
        if path.startswith(prefix) and script[prefix]:
            answer = script[prefix].pop(0)
            tmp = script_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(script, f)
            os.replace(tmp, script_path)
            return answer
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        with LOCK:
            self.server.count += 1
            n = self.server.count
            record = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
            tmp = os.path.join(self.server.directory, "%d.tmp" % n)
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.replace(tmp, os.path.join(self.server.directory, "%d.json" % n))
            answer = scripted(self.server.directory, self.path)
        if answer is None:
            answer = self.default(body)
        payload = answer.get("body", "")
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        data = payload.encode()
        self.send_response(answer.get("status", 200))
        for k, v in answer.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def default(self, body):
        if self.path.startswith("/slack"):
            try:
                text = json.loads(body).get("text")
            except ValueError:
                text = None
            if not text:
                return {"status": 400, "body": "no_text"}
            return {"status": 200, "body": "ok"}
        if self.path.startswith("/bot"):
            token = self.path[len("/bot"):].split("/", 1)[0]
            if token != self.server.telegram_token:
                return {"status": 401, "body": {"ok": False, "error_code": 401,
                                                "description": "Unauthorized"}}
            return {"status": 200, "body": {"ok": True, "result": {"message_id": self.server.count}}}
        return {"status": 200, "body": {"status": "success"}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--telegram-token", default="")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.directory = args.dir
    server.count = 0
    server.telegram_token = args.telegram_token
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("READY", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
