import { resolve } from "node:path";
import { BuildFailed, buildRelease, type BuiltImage } from "../build/build.js";
import { audit } from "../release/audit.js";
import { runMachineHook } from "../release/hooks.js";
import { gitInfo } from "../build/git.js";
import { nextVersion, assertVersion } from "../naming/version.js";
import { withContext, type Context, type GlobalOptions } from "./context.js";

export interface BuildOptions {
  versionName?: string;
  json?: boolean;
}

export interface Built {
  version: string;
  image: string;
  imageId: string;
  sizeBytes: number;
}

/** Tags <app>:* that exist in the local Docker Engine. */
async function localVersions(app: string): Promise<string[]> {
  const { default: Docker } = await import("dockerode");
  const images = await new Docker().listImages({ filters: JSON.stringify({ reference: [`${app}:*`] }) });
  return images.flatMap((i) => i.RepoTags ?? []).map((t) => t.slice(app.length + 1));
}

/** The version name a new build gets: the given one, or the UTC minute (with -N when taken). */
export async function chooseVersion(ctx: Context, o: BuildOptions): Promise<string> {
  return o.versionName
    ? assertVersion(o.versionName, ctx.config.subdomains)
    : nextVersion(new Date(), await localVersions(ctx.config.app));
}

/** pre_build hook, the image build, post_build hook. */
export async function buildVersion(ctx: Context, o: BuildOptions & { branch?: string }, version?: string): Promise<Built> {
  const { config } = ctx;
  version ??= await chooseVersion(ctx, o);
  const git = await gitInfo(resolve(ctx.dir, config.build.context));
  if (o.branch) git.branch = o.branch;
  await runMachineHook(config, "pre_build", { DEPL_VERSION: version }, { cwd: ctx.dir, say: ctx.say });
  ctx.say(`building ${config.app}:${version}`);
  const started = Date.now();
  let r: BuiltImage;
  try {
    r = await buildRelease({
      config,
      configFile: ctx.path,
      configDir: ctx.dir,
      version,
      meta: { ...git, builtAt: new Date().toISOString(), builtBy: ctx.actor },
      verbose: ctx.verbose,
      log: ctx.say,
    });
  } catch (e) {
    const seconds = e instanceof BuildFailed ? e.seconds : (Date.now() - started) / 1000;
    await recordBuild(ctx, version, "failed", `${(e as Error).message.split("\n")[0]} (${seconds.toFixed(1)} s)`);
    throw e;
  }
  await recordBuild(ctx, version, "ok", `${r.imageId} in ${r.seconds.toFixed(1)} s`);
  await runMachineHook(config, "post_build", { DEPL_VERSION: version, DEPL_IMAGE: r.image }, { cwd: ctx.dir, say: ctx.say });
  return { version, image: r.image, imageId: r.imageId, sizeBytes: r.sizeBytes };
}

/** A build in each host's audit log, where `depl history` reads; a host not set up yet is skipped. */
async function recordBuild(ctx: Context, version: string, result: "ok" | "failed", detail: string): Promise<void> {
  for (const host of ctx.hosts) {
    try {
      await audit(host, ctx.layout, { actor: ctx.actor, action: "build", version, result, detail });
    } catch (e) {
      ctx.say(`warning: could not record the build in ${host.name}'s history: ${(e as Error).message.split("\n")[0]}`);
    }
  }
}

export async function build(g: GlobalOptions, o: BuildOptions): Promise<void> {
  await withContext(g, {}, async (ctx) => {
    const b = await buildVersion(ctx, o);
    if (o.json) console.log(JSON.stringify(b));
    else console.log(`Built ${b.image} (${(b.sizeBytes / 1e6).toFixed(0)} MB)`);
  });
}
