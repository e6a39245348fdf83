"""Releases that misbehave, for depl's reliability suite. Each is a WSGI
entry point (run.wsgi: "testapp.faults:<name>"); importing it is the fault.

exits_at_start   the app fails while loading: gunicorn's workers never boot
no_socket        removes the socket gunicorn bound, then serves nothing
hangs            loading never ends: connections queue, nothing answers
crash_under_load answers one request at a time; a second one in flight kills the process
"""
import os
import sys
import threading
import time

from testapp.app import application as _app

_fault = os.environ.get("DEPL_WSGI", "").rpartition(":")[2]

if _fault == "exits_at_start":
    sys.stderr.write("faults: exits_at_start: refusing to load\n")
    sys.exit(3)

if _fault == "no_socket":
    try:
        os.unlink("/run/app/app.sock")
    except FileNotFoundError:
        pass
    sys.stderr.write("faults: no_socket: removed /run/app/app.sock\n")

if _fault == "hangs":
    sys.stderr.write("faults: hangs: loading forever\n")
    while True:
        time.sleep(3600)

_in_flight = 0
_lock = threading.Lock()


def exits_at_start(environ, start_response):  # never reached
    return _app(environ, start_response)


no_socket = _app
hangs = _app


def crash_under_load(environ, start_response):
    global _in_flight
    with _lock:
        _in_flight += 1
        busy = _in_flight > 1
    try:
        if busy:
            sys.stderr.write("faults: crash_under_load: two requests at once, exiting\n")
            os._exit(1)
        time.sleep(0.05)
        return _app(environ, start_response)
    finally:
        with _lock:
            _in_flight -= 1
