import type { HttpResponse } from "./host.js";

// httpGetUnix on a remote host runs curl there (so app servers need curl).

/** argv of one GET over a unix socket; headers then body on stdout. Pure. */
export function curlGetArgv(socketPath: string, path: string, opts: { host: string; timeoutMs: number }): string[] {
  const secs = (opts.timeoutMs / 1000).toFixed(3);
  return ["curl", "-sS", "--max-time", secs, "--unix-socket", socketPath, "-H", `Host: ${opts.host}`, "-D", "-", "-o", "-", `http://localhost${path}`];
}

/** argv of one POST over a unix socket, the body read from stdin; headers then body on stdout. Pure. */
export function curlPostArgv(socketPath: string, path: string, opts: { host: string; contentType: string; timeoutMs: number }): string[] {
  const get = curlGetArgv(socketPath, path, opts);
  return [...get.slice(0, -1), "-H", `Content-Type: ${opts.contentType}`, "--data-binary", "@-", get.at(-1)!];
}

/** curl's exit code for --max-time. */
export const CURL_TIMED_OUT = 28;

/** Splits `curl -D - -o -` output: header blocks (1xx ones skipped), a blank line, the body. Pure. */
export function parseCurlResponse(out: string): HttpResponse {
  let rest = out;
  for (;;) {
    const at = rest.indexOf("\r\n\r\n");
    const head = at < 0 ? rest : rest.slice(0, at);
    rest = at < 0 ? "" : rest.slice(at + 4);
    const [statusLine = "", ...lines] = head.split("\r\n");
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine)?.[1]);
    if (!status) throw new Error(`unexpected HTTP response from curl: ${JSON.stringify(statusLine)}`);
    if (status >= 200 || !rest) {
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        if (i <= 0) continue;
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
      }
      return { status, headers, body: rest };
    }
  }
}
