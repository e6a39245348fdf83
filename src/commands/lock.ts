import { createInterface } from "node:readline/promises";
import { describeLock, isStale, readLock } from "../release/lock.js";
import { audit } from "../release/audit.js";
import { UsageError } from "../errors.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function status(g: GlobalOptions): Promise<void> {
  await withContext(g, {}, async (ctx) => {
    const locks = await Promise.all(ctx.hosts.map((host) => readLock(host, ctx.layout)));
    ctx.hosts.forEach((host, i) => {
      const l = locks[i];
      console.log(`${host.name}: ${l ? describeLock(l, isStale(l)) : "not locked"}`);
    });
  });
}

export async function release(g: GlobalOptions, o: { force?: boolean }): Promise<void> {
  await withContext(g, {}, async (ctx) => {
    for (const host of ctx.hosts) {
      const l = await readLock(host, ctx.layout);
      if (!l) {
        console.log(`${host.name}: not locked`);
        continue;
      }
      if (!o.force) {
        if (!process.stdin.isTTY) throw new UsageError("depl lock release needs --force when not run from a terminal");
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`${host.name}: lock ${describeLock(l, isStale(l))}. Release it? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          console.log(`${host.name}: left locked`);
          continue;
        }
      }
      await host.remove(ctx.layout.lock);
      await audit(host, ctx.layout, { actor: ctx.actor, action: "lock-release", detail: describeLock(l, isStale(l)), result: "ok" });
      console.log(`${host.name}: lock released`);
    }
  });
}
