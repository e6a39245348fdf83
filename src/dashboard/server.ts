import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { UsageError } from "../errors.js";
import { actorName, withContext, type Context, type GlobalOptions } from "../commands/context.js";
import { inventory, type ReleaseRow } from "../release/inventory.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { LiveStats } from "../stats/live.js";
import { assertVersion } from "../naming/version.js";
import { parsePercent } from "../release/percent.js";
import { assertBindable, hostAllowed, isLoopback, tokenMatches, TOKEN_SECRET } from "./auth.js";
import { PAGE } from "./page.js";
import { failingNow, type Alarm } from "./alarm.js";

/** Seconds per chart point, and points kept (10 minutes). */
const BUCKET_SEC = 5;
const POINTS = 120;

export interface DashboardOptions {
  bind: string;
  port: number;
  /** More depl.yml files whose apps the page also shows (each with its own hosts, secrets and token). */
  also?: string[];
  /** Stop after this (tests); by default until Ctrl-C. */
  signal?: AbortSignal;
}

interface Snapshot {
  app: string;
  /** Every app this dashboard shows, in the order given. */
  apps: { app: string; domain: string }[];
  domain: string;
  at: string;
  bucket_sec: number;
  hosts: { name: string; traffic: TrafficState | null; releases: Pick<ReleaseRow, "version" | "state" | "health" | "process">[]; error?: string }[];
  /** Per version (kind "version") and per route whose requests no version answered (kind "unanswered"). */
  series: ReturnType<LiveStats["total"]["series"]>;
  /** Every logged request: the site as its users saw it. */
  site: ReturnType<LiveStats["total"]["site"]>;
  /** Set when the site's last points' 5xx rate passes the alarm threshold. */
  failing: Alarm | null;
  /** The same per host (with several hosts). */
  host_series?: Record<string, ReturnType<LiveStats["total"]["series"]>>;
  host_site?: Record<string, ReturnType<LiveStats["total"]["site"]>>;
}

export type Action = { action: "promote"; version: string } | { action: "rollback"; version?: string } | { action: "canary"; version: string; percent: string } | { action: "stop" };

/** A request body to an action, validated as the CLI validates its arguments. Pure. */
export function parseAction(body: unknown): Action {
  const b = (body ?? {}) as Record<string, unknown>;
  if (b.confirm !== true) throw new UsageError("an action needs confirm: true (the page asks first)");
  const version = typeof b.version === "string" && b.version !== "" ? b.version : undefined;
  if (version !== undefined) assertVersion(version);
  switch (b.action) {
    case "promote":
      if (!version) throw new UsageError("promote needs a version");
      return { action: "promote", version };
    case "rollback":
      return { action: "rollback", version };
    case "canary": {
      if (!version) throw new UsageError("a canary needs a version");
      const percent = String(b.percent ?? "");
      parsePercent(percent.endsWith("%") ? percent : `${percent}%`);
      return { action: "canary", version, percent: percent.endsWith("%") ? percent : `${percent}%` };
    }
    case "stop":
      return { action: "stop" };
    default:
      throw new UsageError(`unknown action ${JSON.stringify(b.action)}: promote, rollback, canary or stop`);
  }
}

/** The CLI's own commands (same locks, history, hooks); their printed lines become the answer. */
async function runAction(g: GlobalOptions, a: Action): Promise<string[]> {
  const traffic = await import("../commands/traffic.js");
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...x: unknown[]) => void lines.push(x.join(" "));
  console.error = (...x: unknown[]) => void lines.push(x.join(" "));
  try {
    if (a.action === "promote") await traffic.promote(g, a.version);
    else if (a.action === "rollback") await traffic.rollback(g, a.version);
    else if (a.action === "canary") await traffic.canary(g, a.version, a.percent, {});
    else await traffic.canary(g, undefined, undefined, { stop: true });
  } finally {
    console.log = log;
    console.error = err;
  }
  return lines;
}

function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const data = typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end(data);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 16_384) throw new UsageError("request body too large");
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    throw new UsageError("request body is not JSON");
  }
}

export async function dashboard(g: GlobalOptions, o: DashboardOptions): Promise<void> {
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new UsageError(`--port: expected 1 to 65535, got ${o.port}`);
  const also = o.also ?? [];
  if (also.length && g.host !== undefined) throw new UsageError("--host cannot be combined with --also: host names belong to one depl.yml");
  // Actions made from the page say so in the history.
  process.env.DEPL_ACTOR = `${actorName()} (dashboard)`;
  const gs: GlobalOptions[] = [g, ...also.map((config) => ({ ...g, config }))];
  await withContexts(gs, [], async (ctxs) => {
    const seen = new Map<string, string>();
    ctxs.forEach((ctx, i) => {
      const before = seen.get(ctx.config.app);
      if (before !== undefined) throw new UsageError(`${gs[i]!.config}: app ${JSON.stringify(ctx.config.app)} is already shown (from ${before}): give each depl.yml once`);
      seen.set(ctx.config.app, gs[i]!.config);
    });
    await serve(ctxs.map((ctx, i) => ({ ctx, g: gs[i]! })), o);
  });
}

/** Opens every config's context (its hosts connected), runs fn with all of them, closes them all. */
function withContexts<T>(gs: readonly GlobalOptions[], open: Context[], fn: (ctxs: Context[]) => Promise<T>): Promise<T> {
  if (gs.length === 0) return fn(open);
  return withContext(gs[0]!, {}, (ctx) => withContexts(gs.slice(1), [...open, ctx], fn));
}

/** One app on the page: its context, its own token, its live series and host rows. */
interface AppView {
  g: GlobalOptions;
  ctx: Context;
  token: string | null;
  live: LiveStats;
  hostRows: Snapshot["hosts"];
}

async function refreshHosts(v: AppView): Promise<void> {
  const { ctx } = v;
  v.hostRows = await Promise.all(
    ctx.hosts.map(async (h) => {
      try {
        const inv = await inventory(h, ctx.config, ctx.layout);
        return { name: h.name, traffic: inv.traffic, releases: inv.rows.map((r) => ({ version: r.version, state: r.state, health: r.health, process: r.process })) };
      } catch (e) {
        return { name: h.name, traffic: await readTraffic(h, ctx.layout).catch(() => null), releases: [], error: (e as Error).message };
      }
    }),
  );
}

async function serve(apps: { ctx: Context; g: GlobalOptions }[], o: DashboardOptions): Promise<void> {
  const views: AppView[] = apps.map(({ ctx, g }) => ({ g, ctx, token: ctx.secrets[TOKEN_SECRET]?.reveal() ?? null, live: new LiveStats(ctx.hosts, ctx.layout, BUCKET_SEC, POINTS), hostRows: [] }));
  for (const v of views) {
    try {
      assertBindable(o.bind, v.token);
    } catch (e) {
      throw views.length > 1 ? new UsageError(`${(e as Error).message} (app ${v.ctx.config.app}, ${v.g.config})`) : e;
    }
  }
  const chartJs = join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js");
  await Promise.all(views.map(async (v) => {
    await v.live.start(BUCKET_SEC * POINTS);
    await refreshHosts(v);
  }));
  const say = views[0]!.ctx.say;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      // Traffic first: a series never shows requests of a canary the host rows do not know yet.
      await Promise.all(views.map(async (v) => {
        try {
          await refreshHosts(v);
          await v.live.poll(v.hostRows.map((h) => h.traffic));
        } catch (e) {
          say(`dashboard: ${v.ctx.config.app}: ${(e as Error).message}`);
        }
      }));
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 2000);
  let acting: Promise<unknown> = Promise.resolve();
  const list = views.map((v) => ({ app: v.ctx.config.app, domain: v.ctx.config.domain }));
  const pick = (name: string | null | undefined): AppView => {
    if (name === undefined || name === null || name === "") return views[0]!;
    const v = views.find((x) => x.ctx.config.app === name);
    if (!v) throw new NotFound(`no app ${JSON.stringify(name)} on this dashboard: ${list.map((a) => a.app).join(", ")}`);
    return v;
  };

  const server = createServer(async (req, res) => {
    try {
      if (!hostAllowed(req.headers.host, o.bind)) return send(res, 421, { error: "this dashboard answers only to loopback names" });
      const url = new URL(req.url ?? "/", "http://dashboard");
      if (req.method === "GET" && url.pathname === "/") return send(res, 200, PAGE, "text/html; charset=utf-8");
      if (req.method === "GET" && url.pathname === "/static/chart.umd.min.js") return send(res, 200, await readFile(chartJs), "text/javascript; charset=utf-8");
      if (req.method === "GET" && url.pathname === "/api/state") {
        const v = pick(url.searchParams.get("app"));
        if (!isLoopback(o.bind) && !tokenMatches(req.headers.authorization, v.token)) {
          return send(res, 401, { error: "this dashboard listens beyond loopback: every request needs the app's token" });
        }
        const { ctx } = v;
        const now = Date.now() / 1000;
        const site = v.live.total.site(now);
        const snap: Snapshot = {
          app: ctx.config.app, apps: list, domain: ctx.config.domain, at: new Date().toISOString(), bucket_sec: BUCKET_SEC, hosts: v.hostRows,
          series: v.live.total.series(now), site, failing: failingNow(site, BUCKET_SEC),
        };
        if (ctx.hosts.length > 1) {
          snap.host_series = Object.fromEntries(ctx.hosts.map((h, i) => [h.name, v.live.perHost[i]!.series(now)]));
          snap.host_site = Object.fromEntries(ctx.hosts.map((h, i) => [h.name, v.live.perHost[i]!.site(now)]));
        }
        return send(res, 200, { ...snap, actions: Boolean(v.token) });
      }
      if (req.method === "POST" && url.pathname === "/api/action") {
        const body = await readBody(req);
        const v = pick(typeof (body as { app?: unknown })?.app === "string" ? (body as { app: string }).app : undefined);
        if (!v.token) return send(res, 403, { error: `actions are off for ${v.ctx.config.app}: set ${TOKEN_SECRET} in its depl.yml's secrets` });
        if (!tokenMatches(req.headers.authorization, v.token)) return send(res, 401, { error: `refused: a valid token for ${v.ctx.config.app} is needed for actions` });
        const action = parseAction(body);
        const run = acting.then(() => runAction(v.g, action));
        acting = run.catch(() => undefined);
        const lines = await run;
        await tick();
        return send(res, 200, { ok: true, app: v.ctx.config.app, action, output: lines });
      }
      return send(res, 404, { error: "not found" });
    } catch (e) {
      const err = e as Error & { exitCode?: number };
      return send(res, err instanceof NotFound ? 404 : err instanceof UsageError ? 400 : 409, { ok: false, error: err.message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.bind, () => resolve());
  });
  const shown = o.bind.includes(":") ? `[${o.bind}]` : o.bind;
  const tokens = views.every((v) => v.token) ? "actions need the token" : views.some((v) => v.token) ? `actions only for ${views.filter((v) => v.token).map((v) => v.ctx.config.app).join(", ")} (the others have no ${TOKEN_SECRET} secret)` : `read-only: no ${TOKEN_SECRET} secret`;
  console.log(`depl dashboard for ${list.map((a) => a.app).join(", ")}: http://${shown}:${o.port}/ (${tokens}; Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    o.signal?.addEventListener("abort", stop, { once: true });
  });
  clearInterval(timer);
  await new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections?.();
}

class NotFound extends Error {}
