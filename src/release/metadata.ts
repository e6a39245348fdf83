import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";

export type ReleaseState = "installing" | "installed" | "failed" | "stopped";

/** releases/<version>/release.json */
export interface ReleaseMeta {
  app: string;
  version: string;
  image: string;
  image_id: string;
  git: { commit: string | null; dirty: boolean; branch: string | null };
  built_at: string;
  built_by: string;
  installed_at: string | null;
  installed_by: string | null;
  state: ReleaseState;
  /** Why the release failed, when it did. */
  error: string | null;
  keep_until: string | null;
  /** The branch preview name (<alias>.<domain>) of a branch build. */
  alias?: string | null;
  /** The workers it was installed with; every_release ones run even when it is not live. */
  processes?: Record<string, { every_release: boolean }>;
  /** The release phase (config `release`), once it passed or was skipped: it runs once per version. */
  release_phase?: { result: "ok" | "skipped"; at: string; by: string; host: string; seconds?: number } | null;
}

export async function readRelease(host: Host, l: Layout, version: string): Promise<ReleaseMeta | null> {
  const text = await host.readFile(l.releaseJson(version));
  return text ? (JSON.parse(text) as ReleaseMeta) : null;
}

export async function writeRelease(host: Host, l: Layout, meta: ReleaseMeta): Promise<void> {
  await host.writeFile(l.releaseJson(meta.version), JSON.stringify(meta, null, 2) + "\n", { mode: 0o644 });
}

export async function updateRelease(
  host: Host,
  l: Layout,
  version: string,
  patch: Partial<ReleaseMeta>,
): Promise<ReleaseMeta> {
  const cur = await readRelease(host, l, version);
  if (!cur) throw new Error(`${host.name}: release ${version} has no release.json`);
  const next = { ...cur, ...patch };
  await writeRelease(host, l, next);
  return next;
}
