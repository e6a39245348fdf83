import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

// A minimal WebSocket client over TCP to 127.0.0.1 with any Host header (Node
// does not resolve *.localhost, and Node 20 has no WebSocket of its own).

export interface WsClient {
  /** The handshake's response headers (lower-cased names). */
  headers: Record<string, string>;
  /** Sends a text message and resolves with the next text message. */
  ask(text: string): Promise<string>;
  close(): Promise<void>;
  /** Resolves when the connection ends, from either side. */
  closed: Promise<void>;
}

/** idleMs: the client gives up after this long without data (a test holding a socket open across slow steps needs more). */
export function openWs(port: number, host: string, path = "/ws", idleMs = 15_000): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let handshaken = false;
    const waiters: ((m: string) => void)[] = [];
    const closed = new Promise<void>((res) => sock.once("close", () => res()));
    sock.setTimeout(idleMs, () => sock.destroy(new Error("websocket: timed out")));
    sock.on("error", reject);
    const key = randomBytes(16).toString("base64");
    sock.on("connect", () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!handshaken) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const [status, ...lines] = buf.subarray(0, end).toString().split("\r\n");
        buf = buf.subarray(end + 4);
        if (!/^HTTP\/1\.1 101 /.test(status!)) return reject(new Error(`websocket: ${status}`));
        handshaken = true;
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
        // What a browser checks (RFC 6455, 4.1): the key hashed with the protocol's GUID.
        const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
        if (headers["sec-websocket-accept"] !== accept) return reject(new Error(`websocket: Sec-WebSocket-Accept ${headers["sec-websocket-accept"]}, expected ${accept}`));
        resolve({
          headers,
          closed,
          ask: (text) =>
            new Promise((res) => {
              waiters.push(res);
              sock.write(frame(0x1, Buffer.from(text)));
            }),
          close: () =>
            new Promise((res) => {
              sock.once("close", () => res());
              sock.write(frame(0x8, Buffer.from([0x03, 0xe8])));
              setTimeout(() => sock.destroy(), 2000).unref();
            }),
        });
      }
      // Unmasked frames from the server, short ones only (what the echo sends).
      while (buf.length >= 2) {
        const len = buf[1]! & 0x7f;
        const head = len === 126 ? 4 : 2;
        const n = len === 126 ? buf.readUInt16BE(2) : len;
        if (buf.length < head + n) return;
        const opcode = buf[0]! & 0x0f;
        const payload = buf.subarray(head, head + n);
        buf = buf.subarray(head + n);
        if (opcode === 0x1) waiters.shift()?.(payload.toString());
      }
    });
  });
}

/** A masked client frame. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  const len = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([0x80 | opcode]), len, mask, masked]);
}
