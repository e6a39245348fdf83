import { LocalHost } from "../host/local.js";
import { docker } from "./docker-argv.js";
import { deleteTag, type Fetch } from "./registry-api.js";
import type { Context } from "../host/context.js";

// When remove or prune has taken versions off every app host, the deploy
// machine lets go of them too: the built image (unless this machine is itself
// an app host, whose removal already took it) and the version's tag in depl's
// own registry. Without this, both grow with every version ever built.

export interface ForgetPlan {
  image: boolean;
  registry: boolean;
  /** Why nothing is forgotten (one host only, say), or null. */
  skip: string | null;
}

/** What may be forgotten here after a removal on the selected hosts. Pure. */
export function forgetPlan(o: { selected: number; configured: number; local: number; ship: Context["config"]["ship"] }): ForgetPlan {
  if (o.selected < o.configured) return { image: false, registry: false, skip: "--host named only some of the hosts" };
  // Only remote hosts were shipped to, and only depl's own registry is depl's to clean.
  const own = o.ship.method === "registry" && o.ship.registry === undefined && o.local < o.selected;
  return { image: o.local === 0, registry: own, skip: null };
}

export async function forgetVersions(ctx: Context, versions: readonly string[], o: { fetch?: Fetch } = {}): Promise<void> {
  if (versions.length === 0) return;
  const plan = forgetPlan({ selected: ctx.hosts.length, configured: ctx.config.hosts.length, local: ctx.hosts.filter((h) => h.isLocal).length, ship: ctx.config.ship });
  if (plan.skip) {
    ctx.say(`this machine: keeps the image and registry tag of ${versions.join(", ")} (${plan.skip})`);
    return;
  }
  const app = ctx.config.app;
  const done: string[] = [];
  if (plan.image) {
    const here = new LocalHost();
    for (const v of versions) await here.run(docker.removeImage(`${app}:${v}`), { allowFailure: true });
    await here.run(docker.pruneImages(app), { allowFailure: true });
    done.push("image");
  }
  if (plan.registry) {
    const repo = { base: `http://127.0.0.1:${ctx.config.ship.local_port}`, name: `depl/${app}`, fetch: o.fetch };
    try {
      const outcomes: string[] = [];
      for (const v of versions) outcomes.push(await deleteTag(repo, v));
      const shared = versions.filter((_, i) => outcomes[i] === "shared");
      done.push(shared.length ? `registry tag (kept for ${shared.join(", ")}: another tag has the same image)` : "registry tag");
    } catch (e) {
      ctx.say(`this machine: depl's registry kept the tags of ${versions.join(", ")}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (done.length) ctx.say(`this machine: forgot ${versions.join(", ")} (${done.join(", ")})`);
}
