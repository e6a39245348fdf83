"""A WebSocket echo at /ws, by hand over the socket gunicorn hands the app
(environ["gunicorn.socket"], threaded worker): no package beyond Debian's.
Each text message comes back as "<version>: <message>", so a client sees
which release holds its connection."""
import base64
import hashlib
import os
import struct

VERSION = os.environ.get("DEPL_VERSION", "dev")
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(sock):
    b1, b2 = _read_exact(sock, 2)
    opcode, masked, length = b1 & 0x0F, b2 & 0x80, b2 & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exact(sock, 8))[0]
    mask = _read_exact(sock, 4) if masked else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exact(sock, length)))
    return opcode, payload


def _send_frame(sock, opcode, payload):
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else bytes([126]) + struct.pack("!H", n) if n < 65536 else bytes([127]) + struct.pack("!Q", n))
    sock.sendall(head + payload)


def is_websocket(environ):
    return environ.get("HTTP_UPGRADE", "").lower() == "websocket" and "gunicorn.socket" in environ


def serve(environ):
    """Answers the handshake and echoes until the client closes."""
    sock = environ["gunicorn.socket"]
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").encode()
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
    sock.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\nX-Depl-Version: {VERSION}\r\n\r\n"
        ).encode()
    )
    sock.settimeout(None)
    try:
        while True:
            opcode, payload = _read_frame(sock)
            if opcode == 0x8:
                _send_frame(sock, 0x8, payload[:2])
                break
            if opcode == 0x9:
                _send_frame(sock, 0xA, payload)
            elif opcode == 0x1:
                _send_frame(sock, 0x1, f"{VERSION}: ".encode() + payload)
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            sock.shutdown(2)
        except OSError:
            pass
        sock.close()
