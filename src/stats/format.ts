import type { Figures, StatsReport, VersionStats } from "./compute.js";

export interface Labelled extends VersionStats {
  role: string;
}

/** What a table shows beside the versions: requests no version answered, nginx's own answers, the site's total. */
export type Beyond = Pick<StatsReport, "unanswered" | "nginx" | "site">;

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const ms = (x: number) => `${x.toFixed(1)}ms`;

/** The role column of a row of requests no version answered: where nginx sent them. Pure. */
export function unansweredRole(u: { route: string }): string {
  return `no version answered (${u.route})`;
}

/**
 * A plain-text table: the versions (live and canary first), then the requests
 * no version answered (by the side nginx sent them to), nginx's own answers,
 * and the site as its users saw it; then a line with canary and live's
 * difference. Pure.
 */
export function formatStats(rows: Labelled[], since: string, beyond?: Beyond): string {
  const site = beyond?.site;
  if (rows.length === 0 && (!site || site.requests === 0)) return `no requests served by any version in the last ${since}`;
  const header = ["version", "role", "requests", "share", "2xx", "3xx", "4xx", "5xx", "5xx rate", "p50", "p95", "p99"];
  const cells = (version: string, role: string, f: Figures, share: number | null) => [
    version, role, String(f.requests), share === null ? "-" : pct(share), String(f.s2xx), String(f.s3xx), String(f.s4xx), String(f.s5xx),
    pct(f.errorRate), ms(f.p50), ms(f.p95), ms(f.p99),
  ];
  const body = rows.map((r) => cells(r.version, r.role, r, r.share));
  for (const u of beyond?.unanswered ?? []) body.push(cells(u.version ?? "-", unansweredRole(u), u, u.share));
  if (beyond?.nginx) body.push(cells("-", "nginx itself (static, redirects, 404)", beyond.nginx, null));
  // Only worth a line when it differs from the one version's own.
  if (site && (body.length > 1 || beyond?.unanswered.length)) body.push(cells("all", "site as users saw it", site, null));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [line(header), ...body.map(line)];
  const live = rows.find((r) => r.role === "live");
  const can = rows.find((r) => r.role.startsWith("canary"));
  if (live && can) {
    const sign = (x: number, f: (n: number) => string) => (x >= 0 ? "+" : "-") + f(Math.abs(x));
    out.push(
      `canary vs live: 5xx rate ${sign(can.errorRate - live.errorRate, pct)}, p50 ${sign(can.p50 - live.p50, ms)}, ` +
        `p95 ${sign(can.p95 - live.p95, ms)}, p99 ${sign(can.p99 - live.p99, ms)}`,
    );
  }
  const lost = (beyond?.unanswered ?? []).reduce((n, u) => n + u.requests, 0);
  if (site && lost > 0) out.push(`${lost} request(s) reached no version: the site's 5xx rate as users saw it was ${pct(site.errorRate)}`);
  return out.join("\n");
}
