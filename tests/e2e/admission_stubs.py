# SPDX-License-Identifier: BSD-3-Clause
"""Stand-ins for tailscaled's LocalAPI and for an admission webhook.

Both implement exactly the request/response contract of
docs/protocol.md §8 and record every request they get, so tests can
check what the relay sent as well as how it acted on each answer.

- LocalAPIStub: HTTP/1.1 on a unix socket, like tailscaled's. GET
  /localapi/v0/whois?addr=nodekey%3A<hex> answers 200 and a WhoIsResponse
  JSON for allowed keys, 404 "no match for IP:port" otherwise, and 403 for
  a Host other than local-tailscaled.sock or a Referer/Origin header, as
  the LocalAPI does. This whois by node key is tailscaled v1.70's, which no
  tailscaled that builds here speaks: the stub stands in for it. With
  legacy=True it answers as the older ones do (v1.34.2 among them): whois
  by node key is a 400 "invalid 'addr' parameter", and
  /localapi/v0/status lists Self and the peers by node key (the real
  tailscaled is tested against the relay too: test_tailnet.py).
- WebhookStub: HTTP on loopback. POST with {"NodePublic","Source"}
  answers 200 {"Allow": <key allowed>}; `status` forces another status,
  `delay` holds the answer (per key), as a slow webhook would.
"""
import http.server
import json
import os
import socketserver
import threading
import time
import urllib.parse


class _Recorder:
    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()

    def record(self, r):
        with self.lock:
            self.requests.append(r)

    def seen(self, pred=lambda r: True):
        with self.lock:
            return [r for r in self.requests if pred(r)]


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def address_string(self):
        return "unix"

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # one request per connection: a stub that is closed is gone for its
        # clients at once, as a stopped tailscaled is
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)


class LocalAPIStub(_Recorder):
    def __init__(self, path, legacy=False):
        super().__init__()
        self.path = path
        self.allowed = set()    # node keys (bytes) tailscaled knows
        self.legacy = legacy
        stub = self

        def status():
            keys = sorted(stub.allowed)
            self_key = "nodekey:" + (keys[0].hex() if keys else "00" * 32)
            return {"Version": "1.34.2", "BackendState": "Running",
                    "Self": {"ID": "self", "PublicKey": self_key, "Online": True},
                    "Peer": {"nodekey:" + k.hex(): {"PublicKey": "nodekey:" + k.hex()}
                             for k in keys[1:]}}

        class Handler(_Quiet):
            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                stub.record({"method": "GET", "path": self.path, "headers": dict(self.headers)})
                host = self.headers.get("Host", "")
                if (host not in ("", "local-tailscaled.sock") or "Referer" in self.headers
                        or "Origin" in self.headers):
                    return self.reply(403, "forbidden\n", "text/plain")
                addr = q.get("addr", [""])[0]
                if stub.legacy and u.path == "/localapi/v0/status":
                    return self.reply(200, json.dumps(status()))
                if stub.legacy or u.path != "/localapi/v0/whois" or not addr.startswith("nodekey:"):
                    return self.reply(400, "invalid 'addr' parameter\n", "text/plain")
                try:
                    key = bytes.fromhex(addr[len("nodekey:"):])
                except ValueError:
                    return self.reply(400, "invalid nodekey in 'addr' parameter\n", "text/plain")
                if key not in stub.allowed:
                    return self.reply(404, "no match for IP:port\n", "text/plain")
                return self.reply(200, json.dumps({
                    "Node": {"ID": 1, "Key": addr, "Name": "node.tailnet.ts.net."},
                    "UserProfile": {"ID": 1, "LoginName": "user@example.com"},
                    "CapMap": {}}))

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        if os.path.exists(path):
            os.unlink(path)
        self.server = Server(path, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class WebhookStub(_Recorder):
    def __init__(self):
        super().__init__()
        self.allowed = set()
        self.status = 200
        self.delay = {}         # node key hex -> seconds to wait
        stub = self

        class Handler(_Quiet):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                stub.record({"method": "POST", "path": self.path,
                             "headers": dict(self.headers), "body": body, "raw": raw})
                key = (body or {}).get("NodePublic", "")
                hexkey = key[len("nodekey:"):] if key.startswith("nodekey:") else ""
                if hexkey in stub.delay:
                    time.sleep(stub.delay[hexkey])
                if stub.status != 200:
                    return self.reply(stub.status, "oops\n", "text/plain")
                try:
                    allow = bytes.fromhex(hexkey) in stub.allowed
                except ValueError:
                    allow = False
                return self.reply(200, json.dumps({"Allow": allow}))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/verify" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
