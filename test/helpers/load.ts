import { Agent, request } from "undici";

export interface LoadResult {
  requests: number;
  failed: number;
  /** status (or error code) -> count, for the failures. */
  failures: Record<string, number>;
  /** GETs resent once because their reused connection was closed under them (retryOnReset). */
  retried: number;
  seconds: number;
  /** The longest request, ms (a stall shows here even when nothing failed). */
  maxMs: number;
}

/**
 * A bounded request loop against nginx on this machine: `connections` loops
 * send GETs with the Host header until stop() is called or maxSeconds pass.
 * A request fails when it errors or answers something other than 200.
 */
export function startLoad(o: {
  host: string;
  port?: number;
  path?: string;
  connections?: number;
  maxSeconds?: number;
  address?: string;
  /** false: a new connection per request (Connection: close), as nginx gives its upstreams. */
  keepAlive?: boolean;
  /** HTTPS, trusting this CA (PEM), the host named in the handshake (SNI). */
  ca?: string;
  /**
   * Resend a GET once when its keep-alive connection was closed before any answer
   * (what browsers do, e.g. when nginx reloads and closes idle connections).
   */
  retryOnReset?: boolean;
}) {
  const port = o.port ?? 80;
  const started = Date.now();
  const deadline = started + (o.maxSeconds ?? 300) * 1000;
  const dispatcher = new Agent({
    connections: o.connections ?? 8,
    keepAliveTimeout: 1000,
    ...(o.ca ? { connect: { ca: o.ca, servername: o.host } } : {}),
  });
  const result: LoadResult = { requests: 0, failed: 0, failures: {}, retried: 0, seconds: 0, maxMs: 0 };
  let stopping = false;
  const url = `${o.ca ? "https" : "http"}://${o.address ?? "127.0.0.1"}:${port}${o.path ?? "/"}`;
  const RESET = new Set(["ECONNRESET", "UND_ERR_SOCKET", "EPIPE"]);
  const loop = async () => {
    while (!stopping && Date.now() < deadline) {
      let why: string | null = null;
      const sent = Date.now();
      for (let attempt = 0; attempt < 2; attempt++) {
        why = null;
        try {
          const r = await request(url, { headers: { host: o.host }, dispatcher, reset: o.keepAlive === false, headersTimeout: 20_000, bodyTimeout: 20_000 });
          await r.body.text();
          if (r.statusCode !== 200) why = String(r.statusCode);
        } catch (e) {
          why = (e as NodeJS.ErrnoException).code ?? (e as Error).name;
        }
        if (!(o.retryOnReset && attempt === 0 && why !== null && RESET.has(why))) break;
        result.retried++;
      }
      result.requests++;
      result.maxMs = Math.max(result.maxMs, Date.now() - sent);
      if (why !== null) {
        result.failed++;
        result.failures[why] = (result.failures[why] ?? 0) + 1;
      }
    }
  };
  const loops = Array.from({ length: o.connections ?? 8 }, loop);
  return {
    result,
    async stop(): Promise<LoadResult> {
      stopping = true;
      await Promise.all(loops);
      await dispatcher.close();
      result.seconds = (Date.now() - started) / 1000;
      return result;
    },
  };
}
