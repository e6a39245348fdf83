// Docker CLI commands depl runs on hosts, as argv arrays. Pure: unit tests read them.
// (`docker run` of a release's processes is built in src/supervisor/program.ts.)

export const docker = {
  /** One JSON value a line: id, size, labels (JSON escapes newlines inside label values). */
  inspectImage: (ref: string) => ["docker", "image", "inspect", "--format", "{{json .Id}}\n{{json .Size}}\n{{json .Config.Labels}}", ref],
  imageId: (ref: string) => ["docker", "image", "inspect", "--format", "{{.Id}}", ref],
  load: () => ["docker", "load"],
  tag: (from: string, to: string) => ["docker", "tag", from, to],
  push: (ref: string) => ["docker", "push", ref],
  pull: (ref: string) => ["docker", "pull", ref],
  untag: (ref: string) => ["docker", "image", "rm", "--no-prune", ref],
  /** SIGTERM to the container's init, SIGKILL after `seconds`. */
  stop: (name: string, seconds: number) => ["docker", "stop", "--time", String(seconds), name],
  /** Removes a container whatever its state; a missing one is no error worth reporting. */
  removeContainer: (name: string) => ["docker", "rm", "-f", name],
  /** Every container of one app, running or not: name, version and process labels, tab-separated, one a line. */
  listContainers: (app: string) => ["docker", "ps", "-a", "--no-trunc", "--filter", `label=depl.app=${app}`, "--format", '{{.Names}}\t{{.Label "depl.version"}}\t{{.Label "depl.process"}}'],
  /** Exit 0 while the container exists (removal in progress included). */
  inspectContainer: (name: string) => ["docker", "container", "inspect", "--format", "{{.State.Status}}", name],
  /** Untags; the image goes with its last tag. */
  removeImage: (ref: string) => ["docker", "image", "rm", ref],
  /** Dangling images of one app (the layers of removed releases). */
  pruneImages: (app: string) => ["docker", "image", "prune", "-f", "--filter", `label=depl.app=${app}`],
  /** A container that is never started: docker cp reads its filesystem. */
  createStopped: (name: string, app: string, image: string) => ["docker", "create", "--name", name, "--label", `depl.app=${app}`, image, "true"],
  /** `docker cp NAME:PATH -` into a tar file on the host (sh only redirects; the words are arguments). */
  copyOutTar: (name: string, path: string, tarFile: string) => ["sh", "-c", 'docker cp "$1:$2" - > "$3"', "sh", name, path, tarFile],
  /** A container's id and state (running, started, finished, exit code), as one line of JSON values. */
  inspectState: (name: string) => ["docker", "inspect", "--type", "container", "--format", "{{json .Id}} {{json .State}}", name],
  /** The engine answers. */
  info: () => ["docker", "info", "--format", "{{.ServerVersion}}"],
} as const;

/** Docker's answer for a container that is not there (gone already): no error for a stop or a removal. Pure. */
export function containerGone(stderr: string): boolean {
  return /No such container/i.test(stderr);
}
