import type { RequestRecord } from "./compute.js";

/**
 * "502, 502 : 200" ($upstream_status: the tries in order, ":" after an internal
 * redirect) -> [502, 502, 200]; a try without a status ("-", the client left
 * first) is 0; "" (nginx asked no version) is []. Pure.
 */
export function parseUpstreamStatus(s: string): number[] {
  if (s === "") return [];
  return s
    .split(/[,:]/)
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => (/^\d{3}$/.test(x) ? Number(x) : 0));
}

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" && v !== "-" ? v : null);

/**
 * One line of depl's JSON access log (templates/nginx) to a record; null for
 * a line that is not one (truncated, or from another format). Pure.
 */
export function parseLogLine(line: string): RequestRecord | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (o === null || typeof o !== "object") return null;
  const time = Number(o.msec ?? o.time);
  const status = Number(o.status);
  const requestTime = Number(o.request_time);
  if (!Number.isFinite(time) || !Number.isFinite(status) || !Number.isFinite(requestTime)) return null;
  const r: RequestRecord = { time, status, requestTime, version: text(o.version ?? o.upstream_version) };
  // Lines from before depl logged the route keep to the four fields above.
  if (typeof o.route === "string") {
    r.route = text(o.route);
    r.bucket = text(o.bucket);
    r.requested = text(o.requested);
    if (typeof o.upstream_status === "string") r.upstream = parseUpstreamStatus(o.upstream_status);
  }
  return r;
}

export function parseLog(text: string): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const r = parseLogLine(line);
    if (r) out.push(r);
  }
  return out;
}
