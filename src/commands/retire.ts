import { prune as pruneOp, removeRelease } from "../release/retire.js";
import { assertVersion } from "../naming/version.js";
import { UsageError, quote } from "../errors.js";
import { forgetVersions } from "../images/forget.js";
import { onHosts, withContext, withLocks, type Context, type GlobalOptions } from "./context.js";

export async function remove(g: GlobalOptions, version: string, o: { force?: boolean } = {}): Promise<void> {
  assertVersion(version);
  await withContext(g, {}, async (ctx) => {
    assertVersion(version, ctx.config.subdomains);
    await withLocks(ctx, `remove ${version}`, g.wait, async () => {
      await onHosts(ctx, `remove ${version}`, (a) => removeRelease(a, version, "remove", { force: o.force }));
      await forgetVersions(ctx, [version]);
    });
    console.log(`Removed ${version}`);
  });
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`invalid ${name} ${quote(v)}: expected a positive whole number`);
  return Number(v);
}

/** prune by the given or configured policy; returns what went. */
export async function pruneWith(ctx: Context, o: { keep?: string; keepDays?: string }): Promise<string[]> {
  const keep = positive("--keep", o.keep) ?? ctx.config.retention.keep;
  const keepDays = positive("--keep-days", o.keepDays) ?? ctx.config.retention.keep_days ?? null;
  const gone = new Set<string>();
  const now = new Date();
  const perHost = await onHosts(ctx, "prune", (a) => pruneOp(a, { keep, keepDays, now }));
  for (const vs of perHost) for (const v of vs) gone.add(v);
  // A version a host kept (it still held connections) is not forgotten here.
  await forgetVersions(ctx, [...gone].filter((v) => perHost.every((vs) => vs.includes(v))));
  return [...gone];
}

export async function prune(g: GlobalOptions, o: { keep?: string; keepDays?: string }): Promise<void> {
  positive("--keep", o.keep);
  positive("--keep-days", o.keepDays);
  await withContext(g, {}, async (ctx) => {
    const gone = await withLocks(ctx, "prune", g.wait, () => pruneWith(ctx, o));
    console.log(gone.length ? `Pruned ${gone.join(", ")}` : "Nothing to prune");
  });
}
