import type { Readable } from "node:stream";
import { docker } from "./docker-argv.js";
import type { Host } from "../host/host.js";

export interface ImageInfo {
  id: string;
  sizeBytes: number;
  labels: Record<string, string>;
}

/** An image on a host (one `docker image inspect`), or null when it has none by that reference. */
export async function inspectImage(host: Host, ref: string): Promise<ImageInfo | null> {
  const r = await host.run(docker.inspectImage(ref), {
    allowFailure: true,
  });
  if (r.code !== 0) return null;
  // One JSON value a line: JSON escapes the newlines inside label values.
  const [id, size, labels] = r.stdout.trim().split("\n").map((s) => JSON.parse(s) as unknown);
  return { id: id as string, sizeBytes: size as number, labels: (labels as Record<string, string> | null) ?? {} };
}

/** Id of an image on a host, or null when it has none by that reference. */
export async function imageIdOn(host: Host, ref: string): Promise<string | null> {
  const r = await host.run(docker.imageId(ref), { allowFailure: true });
  return r.code === 0 ? r.stdout.trim() : null;
}

/**
 * Makes the image built on this machine available on `host`: nothing to do
 * for the local host (same Docker Engine), else `docker save | docker load`
 * streamed over SSH, skipped when the host already has that image id.
 */
export async function shipImage(host: Host, ref: string, localId: string, log: (m: string) => void): Promise<"local" | "present" | "shipped"> {
  if (host.isLocal) return "local";
  if ((await imageIdOn(host, ref)) === localId) return "present";
  const { default: Docker } = await import("dockerode");
  const stream = (await new Docker().getImage(ref).get()) as unknown as Readable;
  log(`${host.name}: shipping ${ref} (docker save | docker load)`);
  await host.run(docker.load(), { stdin: stream });
  const id = await imageIdOn(host, ref);
  if (id !== localId) throw new Error(`${host.name}: after docker load, ${ref} is ${id ?? "missing"}, expected ${localId}`);
  return "shipped";
}
