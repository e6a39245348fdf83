import { request } from "node:http";
import type { Duplex } from "node:stream";
import type { HttpResponse } from "./host.js";

export interface StreamRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

/** Raised when the whole exchange took longer than timeoutMs. */
export class HttpTimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * One HTTP/1.1 request over an already connected stream (a unix socket here,
 * or an SSH channel to one on a remote host), Node's own parser reading the
 * answer. The stream is used once (Connection: close) and always destroyed.
 */
export function httpOverStream(stream: Duplex, req: StreamRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, res?: HttpResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = setTimeout(() => {
      finish(new HttpTimeoutError(`timed out after ${req.timeoutMs} ms`));
      r.destroy();
    }, req.timeoutMs);
    const body = req.body === undefined ? undefined : Buffer.from(req.body, "utf8");
    const r = request({
      method: req.method,
      path: req.path,
      headers: { ...req.headers, connection: "close", ...(body ? { "content-length": String(body.length) } : {}) },
      createConnection: () => stream as never,
    });
    r.on("error", (err) => finish(err));
    r.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err) => finish(err));
      res.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = [v].flat().join(", ");
        finish(null, { status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    r.end(body);
  });
}

/** The connected stream, or a timeout error; one that connects too late is destroyed. */
export function connectWithin(connecting: Promise<Duplex>, ms: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new HttpTimeoutError(`timed out after ${ms} ms`));
    }, ms);
    connecting.then(
      (s) => {
        clearTimeout(timer);
        if (late) s.destroy();
        else resolve(s);
      },
      (err: Error) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
