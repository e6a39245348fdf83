import { inventory, processSummary, type ReleaseRow } from "../release/inventory.js";
import { readAudit, type AuditEntry } from "../release/audit.js";
import { UsageError, quote } from "../errors.js";
import { siteUrl, withContext, type Context, type GlobalOptions } from "./context.js";
import { servedCertificates } from "../tls/install.js";
import { expiryText } from "../tls/certificates.js";

/** Columns of text, left-aligned. Pure. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows].map((r) => r.map((c, i) => (c ?? "").padEnd(w[i]!)).join("  ").trimEnd()).join("\n");
}

const mb = (b: number | null) => (b === null ? "-" : `${Math.round(b / 1e6)} MB`);

export async function list(g: GlobalOptions, o: { json?: boolean }): Promise<void> {
  await withContext(g, {}, async (ctx) => {
    const all: (ReleaseRow & { url: string })[] = [];
    for (const { rows } of await Promise.all(ctx.hosts.map((host) => inventory(host, ctx.config, ctx.layout)))) {
      all.push(...rows.map((r) => ({ ...r, url: siteUrl(ctx.config, r.version) })));
    }
    if (o.json) {
      console.log(JSON.stringify(all, null, 2));
      return;
    }
    const certs = ctx.config.tls ? await certificateRows(ctx) : [];
    if (all.length === 0) {
      console.log("no releases installed");
      if (certs.length) console.log(`\n${table(["HOST", "CERTIFICATE", "NAMES", "EXPIRY"], certs)}`);
      return;
    }
    const multi = ctx.hosts.length > 1;
    console.log(
      table(
        [...(multi ? ["HOST"] : []), "VERSION", "STATE", "HEALTH", "CONNS", "PROCESSES", "COMMIT", "BRANCH", "BUILT", "BY", "SIZE", "KEEP UNTIL", "PREVIEW"],
        all.map((r) => [
          ...(multi ? [r.host] : []),
          r.version,
          r.state,
          r.health,
          r.connections === null ? "?" : String(r.connections),
          processSummary(r.processes),
          r.meta?.git.commit ? r.meta.git.commit.slice(0, 10) + (r.meta.git.dirty ? "+" : "") : "-",
          r.meta?.git.branch ?? "-",
          r.meta?.built_at ? r.meta.built_at.slice(0, 16).replace("T", " ") : "-",
          r.meta?.built_by ?? "-",
          mb(r.imageBytes),
          r.meta?.keep_until ? r.meta.keep_until.slice(0, 10) : "-",
          r.url,
        ]),
      ),
    );
    if (certs.length) console.log(`\n${table(["HOST", "CERTIFICATE", "NAMES", "EXPIRY"], certs)}`);
  });
}

/** What each host's nginx serves under HTTPS, and when it expires. */
async function certificateRows(ctx: Context): Promise<string[][]> {
  const each = await Promise.all(ctx.hosts.map(async (h) => ({ host: h.name, certs: await servedCertificates(h, ctx.layout) })));
  return each.flatMap(({ host, certs }) => certs.map((c) => [host, c.path, c.names.join(",") || "-", expiryText(c.notAfter)]));
}

/** One audit entry as a line. Pure. */
export function historyLine(e: AuditEntry): string {
  const fmt = (x: unknown) => (x === null || x === undefined ? "-" : typeof x === "string" ? x : summarize(x));
  const change = e.from !== undefined || e.to !== undefined ? ` ${fmt(e.from)} -> ${fmt(e.to)}` : "";
  return `${e.at.slice(0, 19).replace("T", " ")}  ${e.actor}  ${e.action}${e.version ? ` ${e.version}` : ""}${change}  ${e.result}${e.detail ? `: ${e.detail}` : ""}`;
}

function summarize(x: unknown): string {
  const t = x as { live?: string | null; canary?: { version: string; percent: number } | null; version?: string; percent?: number };
  if (t && "live" in t) return `live=${t.live ?? "-"}${t.canary ? ` canary=${t.canary.version}@${t.canary.percent}%` : ""}`;
  if (t && t.version) return `${t.version}@${t.percent}%`;
  return JSON.stringify(x);
}

export async function history(g: GlobalOptions, o: { json?: boolean; n?: string }): Promise<void> {
  const n = o.n === undefined ? 50 : Number(o.n);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid -n ${quote(String(o.n))}: expected a positive whole number`);
  await withContext(g, {}, async (ctx) => {
    const entries: (AuditEntry & { host: string })[] = [];
    const each = await Promise.all(ctx.hosts.map(async (host) => (await readAudit(host, ctx.layout)).map((e) => ({ ...e, host: host.name }))));
    for (const e of each) entries.push(...e);
    entries.sort((a, b) => a.at.localeCompare(b.at));
    const last = entries.slice(-n);
    if (o.json) console.log(JSON.stringify(last, null, 2));
    else console.log(last.length ? last.map((e) => (ctx.hosts.length > 1 ? `${e.host}  ` : "") + historyLine(e)).join("\n") : "no history yet");
  });
}
