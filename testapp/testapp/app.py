"""depl's example WSGI app.

Answers "Hello from base domain" on <domain> (and on any other name, so that
preview hosts such as <version>.<domain> work), "Hello from foo" on
foo.<domain>, and has /health (which exercises the C extension), /error
(always 500, for canary statistics), /slow?ms=N, /notes (SQLite in a
shared directory), /ws (a WebSocket echo naming its version) and
/events?n=N&ms=M (server-sent events, one every M ms).
"""
import os
import threading
import time
from urllib.parse import parse_qs

from testapp import _speedups, ws

VERSION = os.environ.get("DEPL_VERSION", "dev")
DOMAIN = os.environ.get("DEPL_DOMAIN", "app1.localhost")
# FNV-1a of b"depl": a wrong or missing build of the extension fails /health.
_HEALTH_HASH = 0xB005858E
_MAX_SLOW_MS = 30_000
# Faults a test can switch on per release (through depl.yml's env), so that a
# canary can misbehave where live does not:
# paths that answer 500, e.g. "/checkout,/pay"
_FAIL_PATHS = {p for p in os.environ.get("TESTAPP_FAIL_PATHS", "").split(",") if p}
# "1": every request that came through nginx (it sets X-Request-Id) answers 500,
# while direct requests over the socket (depl's health check) succeed.
_FAIL_PROXIED = os.environ.get("TESTAPP_FAIL_PROXIED") == "1"
# names users asked nginx for (X-Forwarded-Host) that answer 500, e.g. "app1.localhost":
# the base domain fails while the version's preview <version>.app1.localhost works.
_FAIL_HOSTS = {h for h in os.environ.get("TESTAPP_FAIL_HOSTS", "").split(",") if h}
# N: after N requests through nginx (per worker process), every further one
# answers 500: a canary that starts well and goes bad. Health checks do not count.
_FAIL_AFTER = int(os.environ.get("TESTAPP_FAIL_AFTER", "0") or "0")
_served = 0
_served_lock = threading.Lock()


def _went_bad(environ):
    global _served
    if _FAIL_AFTER <= 0 or "HTTP_X_REQUEST_ID" not in environ:
        return False
    with _served_lock:
        _served += 1
        return _served > _FAIL_AFTER


def _respond(start_response, status, body):
    data = body.encode()
    start_response(status, [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(data))),
        ("X-App-Version", VERSION),
    ])
    return [data]


def _who(host):
    name = host.split(":")[0].lower().rstrip(".")
    if name == f"foo.{DOMAIN}" or (name.startswith("foo.") and name.endswith(f".{DOMAIN}")):
        return "foo"
    return "base domain"


def _slow(environ, start_response):
    raw = parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["100"])[0]
    if not raw.isdigit():
        return _respond(start_response, "400 Bad Request", "ms must be a whole number\n")
    ms = min(int(raw), _MAX_SLOW_MS)
    time.sleep(ms / 1000)
    return _respond(start_response, "200 OK", f"slow {ms}ms from version {VERSION}\n")


def _events(environ, start_response):
    """n server-sent events, ms apart, each written as soon as it is made and
    naming the version and the time it was sent (a client sees what held it back)."""
    q = parse_qs(environ.get("QUERY_STRING", ""))
    n, ms = q.get("n", ["3"])[0], q.get("ms", ["500"])[0]
    if not (n.isdigit() and ms.isdigit()):
        return _respond(start_response, "400 Bad Request", "n and ms must be whole numbers\n")
    n, ms = min(int(n), 100), min(int(ms), 10_000)
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("X-App-Version", VERSION)])

    def stream():
        for i in range(1, n + 1):
            if i > 1:
                time.sleep(ms / 1000)
            yield f"id: {i}\ndata: {VERSION} event {i} sent {time.time():.3f}\n\n".encode()

    return stream()


def _notes(environ, start_response):
    """/notes/add?text=... and /notes: a SQLite database in the shared directory
    (TESTAPP_DB), so that data written through one release is read through another."""
    import sqlite3

    db_path = os.environ.get("TESTAPP_DB")
    if not db_path:
        return _respond(start_response, "404 Not Found", "no TESTAPP_DB configured\n")
    with sqlite3.connect(db_path, timeout=10) as db:
        db.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT, version TEXT)")
        if environ.get("PATH_INFO") == "/notes/add":
            text = parse_qs(environ.get("QUERY_STRING", "")).get("text", [""])[0]
            db.execute("INSERT INTO notes VALUES (?, ?)", (text, VERSION))
        rows = db.execute("SELECT text, version FROM notes ORDER BY rowid").fetchall()
    return _respond(start_response, "200 OK", "".join(f"{t} (written by {v})\n" for t, v in rows))


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path in _FAIL_PATHS or (_FAIL_PROXIED and "HTTP_X_REQUEST_ID" in environ) or environ.get("HTTP_X_FORWARDED_HOST", "") in _FAIL_HOSTS or _went_bad(environ):
        return _respond(start_response, "500 Internal Server Error", f"injected failure in version {VERSION}\n")
    if path == "/ws" and ws.is_websocket(environ):
        ws.serve(environ)
        return []
    if path == "/health":
        if _speedups.fnv1a(b"depl") != _HEALTH_HASH:
            return _respond(start_response, "500 Internal Server Error", "C extension broken\n")
        return _respond(start_response, "200 OK", "ok")
    if path == "/error":
        return _respond(start_response, "500 Internal Server Error", f"error from version {VERSION}\n")
    if path == "/slow":
        return _slow(environ, start_response)
    if path == "/events":
        return _events(environ, start_response)
    if path.startswith("/notes"):
        return _notes(environ, start_response)
    # Read what was sent: answering before the body is in makes gunicorn close
    # while nginx still writes it (EPIPE, and nginx answers 502).
    _discard_body(environ)
    who = _who(environ.get("HTTP_HOST", ""))
    return _respond(start_response, "200 OK", f"Hello from {who}\nversion {VERSION}\n")


def _discard_body(environ):
    left = int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        chunk = environ["wsgi.input"].read(min(left, 65536))
        if not chunk:
            break
        left -= len(chunk)
