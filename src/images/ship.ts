import { Transform, type Readable } from "node:stream";
import { docker } from "./docker-argv.js";
import type { Host } from "../host/host.js";
import { DeplError } from "../errors.js";
import { REGISTRY_PROBE_MS } from "../timeouts.js";

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

export interface ShipOptions {
  method: "registry" | "save-load";
  /** A registry the hosts reach themselves; absent: depl's own on this machine, through a reverse tunnel. */
  registry?: string | undefined;
  /** Port of depl's own registry on this machine's loopback. */
  localPort: number;
  say: (m: string) => void;
  /** This machine (where the image was built). */
  here: Host;
}

export interface ShipResult {
  how: "local" | "present" | "registry" | "save-load";
  /** Bytes that went from this machine to the host (null: a registry the host reached itself). */
  bytes: number | null;
  ms: number;
}

/** Where the image goes in a registry: <registry>/depl/<app>:<version>. Pure. */
export function registryRef(registry: string, ref: string): string {
  return `${registry}/depl/${ref}`;
}

/** "12.3 MB". Pure. */
export function formatBytes(n: number): string {
  return n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`;
}

class RegistryUnavailable extends Error {}

// One push per image and registry for the whole command, however many hosts pull it.
const pushes = new Map<string, Promise<void>>();
let fellBack = false;

async function ownRegistryAnswers(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(REGISTRY_PROBE_MS) });
    return r.status === 200;
  } catch {
    return false;
  }
}

async function push(here: Host, ref: string, remote: string): Promise<void> {
  let p = pushes.get(remote);
  if (!p) {
    p = (async () => {
      await here.run(docker.tag(ref, remote));
      try {
        await here.run(docker.push(remote));
      } finally {
        // The registry has it now: the extra tag would keep a pruned version's image on this machine.
        await here.run(docker.untag(remote), { allowFailure: true });
      }
    })();
    pushes.set(remote, p);
    p.catch(() => pushes.delete(remote));
  }
  await p;
}

async function viaRegistry(host: Host, ref: string, o: ShipOptions): Promise<number | null> {
  const own = o.registry === undefined;
  if (own && !(await ownRegistryAnswers(o.localPort))) {
    throw new RegistryUnavailable(`depl's registry does not answer on 127.0.0.1:${o.localPort} (make setup_deploy starts it)`);
  }
  const registry = o.registry ?? `127.0.0.1:${o.localPort}`;
  await push(o.here, ref, registryRef(registry, ref));
  const tunnel = own
    ? await host.tunnelToHere(o.localPort).catch((e: Error) => {
        throw new RegistryUnavailable(`${host.name}: no reverse tunnel to depl's registry (${e.message.replace(`${host.name}: `, "")})`);
      })
    : null;
  const pullRef = registryRef(tunnel ? `127.0.0.1:${tunnel.port}` : registry, ref);
  try {
    // Docker Engine treats registries on 127.0.0.0/8 as insecure-allowed: the tunnel needs no TLS or daemon config.
    await host.run(docker.pull(pullRef));
    await host.run(docker.tag(pullRef, ref));
    await host.run(docker.untag(pullRef), { allowFailure: true });
  } finally {
    await tunnel?.close();
  }
  return tunnel ? tunnel.bytes() : null;
}

async function viaSaveLoad(host: Host, ref: string): Promise<number> {
  const { default: Docker } = await import("dockerode");
  const stream = (await new Docker().getImage(ref).get()) as unknown as Readable;
  let bytes = 0;
  const counted = stream.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    }),
  );
  stream.once("error", (e) => counted.destroy(e));
  await host.run(docker.load(), { stdin: counted });
  return bytes;
}

/**
 * Makes the image built on this machine available on `host`: nothing to do
 * for the local host (same Docker Engine) or a host that has that image id
 * already; else through the registry (only the layers the host lacks move),
 * falling back to `docker save | docker load` over SSH when the registry does
 * not answer. Says how, and how many bytes went to the host.
 */
export async function shipImage(host: Host, ref: string, localId: string, o: ShipOptions): Promise<ShipResult> {
  const started = Date.now();
  if (host.isLocal) return { how: "local", bytes: 0, ms: 0 };
  if ((await imageIdOn(host, ref)) === localId) return { how: "present", bytes: 0, ms: Date.now() - started };
  let how: ShipResult["how"] = "save-load";
  let bytes: number | null = null;
  if (o.method === "registry") {
    try {
      bytes = await viaRegistry(host, ref, o);
      how = "registry";
    } catch (e) {
      if (!(e instanceof RegistryUnavailable)) throw e;
      if (!fellBack) o.say(`${e.message}: shipping whole images with docker save | docker load instead`);
      fellBack = true;
    }
  }
  if (how === "save-load") bytes = await viaSaveLoad(host, ref);
  const id = await imageIdOn(host, ref);
  if (id !== localId) throw new DeplError(`${host.name}: after shipping, ${ref} is ${id ?? "missing"}, expected ${localId}`);
  const ms = Date.now() - started;
  o.say(`${host.name}: shipped ${ref} ${how === "registry" ? "through the registry" : "with docker save | docker load"}: ${bytes === null ? "layers pulled by the host" : formatBytes(bytes)} in ${(ms / 1000).toFixed(1)} s`);
  return { how, bytes, ms };
}
