"""A small service of the kind teams write, used to test config sources: not Cascade-aware.

It reads its settings from a JSON file (CONFIG_FILE, re-read every 100 ms), or with ETCD_URL
from the etcd key ETCD_KEY (through etcd's v3 JSON gateway, every 100 ms), and from the PLAN
variable, validates them, and keeps the last good settings when a new file is bad:

    GET /quote       200 {"plan": ..., "price": ...}  (402 {"error": "plan 'free' ..."} on the free plan)
    GET /applied     200 {"sha256": "<of the settings it runs>", "revision": <etcd mod_revision>}
    GET /health      200
    POST /reload     re-read the file now (for reload = "http:POST /reload")

It logs "applied config sha256=<hex>" or "rejected config sha256=<hex>: <why>". With WATCH=0 it
reads the file only at start, on SIGHUP and on POST /reload. It listens on HOST (default
127.0.0.1; a container sets 0.0.0.0) and PORT, and exits on SIGTERM (also as a container's PID 1).
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = os.environ.get("CONFIG_FILE", "")
ETCD_URL = os.environ.get("ETCD_URL", "")
ETCD_KEY = os.environ.get("ETCD_KEY", "")
PLAN = os.environ.get("PLAN", "pro")
WATCH = os.environ.get("WATCH", "1") == "1"
HOST = os.environ.get("HOST", "127.0.0.1")
state = {"settings": None, "sha": "", "seen": "", "revision": 0}
lock = threading.Lock()


def log(line: str) -> None:
    print(line, flush=True)


def read() -> tuple[bytes, int]:
    if not ETCD_URL:
        return open(PATH, "rb").read(), 0
    body = json.dumps({"key": base64.b64encode(ETCD_KEY.encode()).decode()}).encode()
    req = urllib.request.Request(f"{ETCD_URL}/v3/kv/range", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=2) as r:
        kvs = json.loads(r.read()).get("kvs") or []
    if not kvs:
        seed()
        raise OSError(f"no key {ETCD_KEY} yet (seeded it from {PATH or 'nothing'})")
    return base64.b64decode(kvs[0].get("value", "")), int(kvs[0]["mod_revision"])


def seed() -> None:
    """An empty store gets the defaults from CONFIG_FILE, written only if the key is still absent."""
    if not PATH:
        return
    key = base64.b64encode(ETCD_KEY.encode()).decode()
    txn = {"compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
           "success": [{"request_put": {"key": key, "value": base64.b64encode(open(PATH, "rb").read()).decode()}}]}
    req = urllib.request.Request(f"{ETCD_URL}/v3/kv/txn", data=json.dumps(txn).encode(), method="POST")
    urllib.request.urlopen(req, timeout=2).read()


def load() -> None:
    try:
        data, revision = read()
    except OSError as exc:
        log(f"cannot read config: {exc}")
        return
    sha = hashlib.sha256(data).hexdigest()
    with lock:
        if sha == state["seen"]:
            return
        state["seen"] = sha
    try:
        settings = json.loads(data)
        price = settings["price_cents"]
        if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise ValueError(f"price_cents must be a positive integer, got {price!r}")
    except (ValueError, KeyError, TypeError) as exc:
        log(f"rejected config sha256={sha}: {exc!r}")
        return
    with lock:
        state["settings"], state["sha"], state["revision"] = settings, sha, revision
    log(f"applied config sha256={sha}")


def watch() -> None:
    while True:
        time.sleep(0.1)
        load()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            return self.answer(200, {"ok": True})
        if self.path == "/applied":
            with lock:
                return self.answer(200, {"sha256": state["sha"], "revision": state["revision"]})
        if self.path == "/quote":
            if PLAN == "free":
                return self.answer(402, {"error": "plan 'free' does not include quotes"})
            with lock:
                return self.answer(200, {"plan": PLAN, "price": state["settings"]["price_cents"]})
        self.answer(404, {"error": "no such path"})

    def do_POST(self) -> None:
        if self.path == "/reload":
            load()
            return self.answer(200, {"reloaded": True})
        self.answer(404, {"error": "no such path"})

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    for _ in range(50):  # its config store may still be starting
        load()
        if state["settings"] is not None:
            break
        time.sleep(0.1)
    if state["settings"] is None:
        sys.exit(f"no valid config in {PATH or ETCD_KEY}")
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=load).start())
    # As a container's PID 1 it gets no default action for SIGTERM: without this, `docker stop`
    # waits out its grace period and kills it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if WATCH:
        threading.Thread(target=watch, daemon=True).start()
    server = ThreadingHTTPServer((HOST, int(os.environ["PORT"])), Handler)
    log(f"listening on {server.server_address[1]} plan={PLAN}")
    server.serve_forever()


if __name__ == "__main__":
    main()
