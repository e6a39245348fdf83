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

/** Seconds per chart point, and points kept (10 minutes). */
const BUCKET_SEC = 5;
const POINTS = 120;

export interface DashboardOptions {
  bind: string;
  port: number;
  /** Stop after this (tests); by default until Ctrl-C. */
  signal?: AbortSignal;
}

interface Snapshot {
  app: string;
  domain: string;
  at: string;
  bucket_sec: number;
  hosts: { name: string; traffic: TrafficState | null; releases: Pick<ReleaseRow, "version" | "state" | "health" | "process">[]; error?: string }[];
  series: ReturnType<LiveStats["total"]["series"]>;
  /** The same per host (with several hosts). */
  host_series?: Record<string, ReturnType<LiveStats["total"]["series"]>>;
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
  // Actions made from the page say so in the history.
  process.env.DEPL_ACTOR = `${actorName()} (dashboard)`;
  await withContext(g, {}, async (ctx) => serve(ctx, g, o));
}

async function serve(ctx: Context, g: GlobalOptions, o: DashboardOptions): Promise<void> {
  const token = ctx.secrets[TOKEN_SECRET]?.reveal() ?? null;
  assertBindable(o.bind, token);
  const chartJs = join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js");
  const live = new LiveStats(ctx.hosts, ctx.layout, BUCKET_SEC, POINTS);
  await live.start(BUCKET_SEC * POINTS);
  let hostRows: Snapshot["hosts"] = [];
  const refreshHosts = async () => {
    hostRows = await Promise.all(
      ctx.hosts.map(async (h) => {
        try {
          const inv = await inventory(h, ctx.config, ctx.layout);
          return { name: h.name, traffic: inv.traffic, releases: inv.rows.map((r) => ({ version: r.version, state: r.state, health: r.health, process: r.process })) };
        } catch (e) {
          return { name: h.name, traffic: await readTraffic(h, ctx.layout).catch(() => null), releases: [], error: (e as Error).message };
        }
      }),
    );
  };
  await refreshHosts();
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      // Traffic first: a series never shows requests of a canary the host rows do not know yet.
      await refreshHosts();
      await live.poll();
    } catch (e) {
      ctx.say(`dashboard: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 2000);
  let acting: Promise<unknown> = Promise.resolve();

  const server = createServer(async (req, res) => {
    try {
      if (!hostAllowed(req.headers.host, o.bind)) return send(res, 421, { error: "this dashboard answers only to loopback names" });
      const url = new URL(req.url ?? "/", "http://dashboard");
      const authed = tokenMatches(req.headers.authorization, token);
      if (req.method === "GET" && url.pathname === "/") return send(res, 200, PAGE, "text/html; charset=utf-8");
      if (req.method === "GET" && url.pathname === "/static/chart.umd.min.js") return send(res, 200, await readFile(chartJs), "text/javascript; charset=utf-8");
      if (url.pathname.startsWith("/api/") && !authed && !isLoopback(o.bind)) {
        return send(res, 401, { error: "this dashboard listens beyond loopback: every request needs the token" });
      }
      if (req.method === "GET" && url.pathname === "/api/state") {
        const now = Date.now() / 1000;
        const snap: Snapshot = { app: ctx.config.app, domain: ctx.config.domain, at: new Date().toISOString(), bucket_sec: BUCKET_SEC, hosts: hostRows, series: live.total.series(now) };
        if (ctx.hosts.length > 1) snap.host_series = Object.fromEntries(ctx.hosts.map((h, i) => [h.name, live.perHost[i]!.series(now)]));
        return send(res, 200, { ...snap, actions: Boolean(token) });
      }
      if (req.method === "POST" && url.pathname === "/api/action") {
        if (!token) return send(res, 403, { error: `actions are off: set ${TOKEN_SECRET} in depl.yml's secrets` });
        if (!authed) return send(res, 401, { error: "refused: a valid token is needed for actions" });
        const action = parseAction(await readBody(req));
        const run = acting.then(() => runAction(g, action));
        acting = run.catch(() => undefined);
        const lines = await run;
        await tick();
        return send(res, 200, { ok: true, action, output: lines });
      }
      return send(res, 404, { error: "not found" });
    } catch (e) {
      const err = e as Error & { exitCode?: number };
      return send(res, err instanceof UsageError ? 400 : 409, { ok: false, error: err.message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.bind, () => resolve());
  });
  const shown = o.bind.includes(":") ? `[${o.bind}]` : o.bind;
  console.log(`depl dashboard for ${ctx.config.app}: http://${shown}:${o.port}/ (${token ? "actions need the token" : `read-only: no ${TOKEN_SECRET} secret`}; Ctrl-C stops)`);
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
