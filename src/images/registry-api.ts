// depl's own registry (Debian's docker-registry on this machine's loopback)
// through its HTTP API: the digest behind a tag, the tags of a repository,
// and deleting a version's manifest once no release anywhere needs it. The
// blobs are freed later by the registry's garbage-collect
// (scripts/services.sh registry-gc), which needs the registry stopped.

import { REGISTRY_REQUEST_MS } from "../timeouts.js";

const ACCEPT = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export interface RegistryRepo {
  /** http://127.0.0.1:5000 */
  base: string;
  /** depl/<app> */
  name: string;
  fetch?: Fetch;
}

const call = (r: RegistryRepo, path: string, init: RequestInit = {}) =>
  (r.fetch ?? fetch)(`${r.base}/v2/${r.name}/${path}`, { ...init, signal: AbortSignal.timeout(REGISTRY_REQUEST_MS) });

/** The manifest digest a tag points to, or null when the tag is not there. */
export async function tagDigest(r: RegistryRepo, tag: string): Promise<string | null> {
  const res = await call(r, `manifests/${encodeURIComponent(tag)}`, { method: "HEAD", headers: { accept: ACCEPT } });
  if (res.status === 404) return null;
  const digest = res.headers.get("docker-content-digest");
  if (!res.ok || !digest) throw new Error(`registry ${r.base}: HEAD ${r.name}:${tag} answered ${res.status}`);
  return digest;
}

export async function listTags(r: RegistryRepo): Promise<string[]> {
  const res = await call(r, "tags/list");
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`registry ${r.base}: tags of ${r.name} answered ${res.status}`);
  return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
}

export type DeleteOutcome = "deleted" | "absent" | "shared";

/**
 * Deletes the manifest behind `tag`. The registry deletes by digest, which
 * takes every tag on that digest with it: when another tag shares it, the
 * manifest is left alone ("shared").
 */
export async function deleteTag(r: RegistryRepo, tag: string): Promise<DeleteOutcome> {
  const digest = await tagDigest(r, tag);
  if (digest === null) return "absent";
  for (const other of await listTags(r)) {
    if (other !== tag && (await tagDigest(r, other)) === digest) return "shared";
  }
  const res = await call(r, `manifests/${digest}`, { method: "DELETE" });
  if (res.status === 404) return "absent";
  if (res.status !== 202 && !res.ok) throw new Error(`registry ${r.base}: deleting ${r.name}:${tag} answered ${res.status}${res.status === 405 ? " (deletes are not enabled in its config)" : ""}`);
  return "deleted";
}
