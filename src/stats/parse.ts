import type { RequestRecord } from "./compute.js";

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
  const time = Number(o.msec ?? o.time);
  const status = Number(o.status);
  const requestTime = Number(o.request_time);
  if (!Number.isFinite(time) || !Number.isFinite(status) || !Number.isFinite(requestTime)) return null;
  const v = o.version ?? o.upstream_version;
  return { time, status, requestTime, version: typeof v === "string" && v !== "" && v !== "-" ? v : null };
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
