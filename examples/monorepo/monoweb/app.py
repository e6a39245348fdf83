"""The monorepo's web app: plain WSGI, using both libraries of the repo."""

import json
import os

import fastcount
from common import page

DATA = os.environ.get("MONOWEB_DATA", "/app/data")


def _heartbeat():
    try:
        with open(os.path.join(DATA, "heartbeat")) as f:
            return f.read().strip()
    except OSError:
        return "none"


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    version = os.environ.get("DEPL_VERSION", "dev")
    if path == "/health":
        body, ctype = b"ok\n", "text/plain"
    elif path == "/count":
        text = environ.get("QUERY_STRING", "")
        body = json.dumps({"text": text, "vowels": fastcount.vowels(text), "impl": fastcount.IMPL}).encode()
        ctype = "application/json"
    elif path == "/":
        body = page(
            "monorepo web app",
            f'<p>version <span id="version">{version}</span></p>'
            f'<p>vowels in "monorepo": <span id="vowels">{fastcount.vowels("monorepo")}</span> ({fastcount.IMPL})</p>'
            f'<p>worker heartbeat: <span id="heartbeat">{_heartbeat()}</span></p>',
        ).encode()
        ctype = "text/html; charset=utf-8"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]
