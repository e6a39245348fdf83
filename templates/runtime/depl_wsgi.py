"""depl's WSGI wrapper, installed in every runtime image at /opt/depl.

Loads the app named by DEPL_WSGI, `module:callable` or `module:factory()`
(an app factory, called once per process), and adds an X-Depl-Version
header to every response, so that nginx's access log attributes each
request to the version that really served it, without the app's help. Run
it as `gunicorn ... depl_wsgi:application`.
"""
import importlib
import os
import re

_TARGET = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)(\(\))?", re.ASCII)


def _load(target):
    m = _TARGET.fullmatch(target)
    if not m:
        raise RuntimeError(f"DEPL_WSGI must be module:callable or module:factory(), got {target!r}")
    module, name, call = m.groups()
    obj = getattr(importlib.import_module(module), name)
    if call:
        if not callable(obj):
            raise RuntimeError(f"DEPL_WSGI {target!r}: {module}.{name} is not callable")
        obj = obj()
    if not callable(obj):
        raise RuntimeError(f"DEPL_WSGI {target!r} is not a WSGI callable")
    return obj


def _version():
    v = os.environ.get("DEPL_VERSION", "")
    # A header value must not carry CR/LF or other control characters.
    return v if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", v) else "unknown"


_app = _load(os.environ.get("DEPL_WSGI", ""))
_header = ("X-Depl-Version", _version())


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        headers = [(k, v) for (k, v) in headers if k.lower() != "x-depl-version"]
        headers.append(_header)
        return start_response(status, headers, exc_info)

    return _app(environ, start)
