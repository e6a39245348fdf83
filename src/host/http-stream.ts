import { request } from "node:http";
import type { Duplex } from "node:stream";
import { assertHttpGet } from "./checks.js";
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

/** The request of Host.httpGetUnix (path and Host header checked). */
export function unixGet(path: string, opts: { host: string; timeoutMs: number }): StreamRequest {
  assertHttpGet(path, opts.host);
  return { method: "GET", path, headers: { host: opts.host }, timeoutMs: opts.timeoutMs };
}

/** The request of Host.httpPostUnix (path and Host header checked). */
export function unixPost(path: string, opts: { host: string; contentType: string; body: string; timeoutMs: number }): StreamRequest {
  assertHttpGet(path, opts.host);
  return { method: "POST", path, headers: { host: opts.host, "content-type": opts.contentType }, body: opts.body, timeoutMs: opts.timeoutMs };
}

/**
 * One HTTP request over a unix socket on a host, for LocalHost and SshHost
 * alike: connect() opens the stream (Host.connectUnix), which must connect
 * within timeoutMs; the exchange gets what is left of it. A failure names the
 * request: "<prefix>GET http://<host><path> via <socket>: <why>". When
 * connecting fails other than by timing out and onConnectError is given, its
 * answer is the request's (SshHost's curl on the host).
 */
export async function unixRequest(
  connect: () => Promise<Duplex>,
  socketPath: string,
  req: StreamRequest,
  o: { prefix?: string; onConnectError?: (what: string) => Promise<HttpResponse> } = {},
): Promise<HttpResponse> {
  const what = `${o.prefix ?? ""}${req.method} http://${req.headers.host}${req.path} via ${socketPath}`;
  const failed = (err: unknown) => {
    const why = err instanceof HttpTimeoutError ? `timed out after ${req.timeoutMs} ms` : (err as Error).message;
    return new Error(`${what}: ${why}`, { cause: err });
  };
  const start = Date.now();
  let stream: Duplex;
  try {
    stream = await connectWithin(connect(), req.timeoutMs);
  } catch (err) {
    if (o.onConnectError && !(err instanceof HttpTimeoutError)) return o.onConnectError(what);
    throw failed(err);
  }
  try {
    return await httpOverStream(stream, { ...req, timeoutMs: Math.max(1, req.timeoutMs - (Date.now() - start)) });
  } catch (err) {
    throw failed(err);
  }
}
