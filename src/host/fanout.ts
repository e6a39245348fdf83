// Running one operation on many hosts: bounded parallelism, each host's
// outcome kept (a failure on one does not hide the others), one summary line
// per host. Pure apart from calling fn.

export interface HostOutcome<T> {
  host: string;
  ok: boolean;
  value?: T;
  error?: Error;
  ms: number;
}

/** Runs fn for every item, at most `limit` at once, in order of start; never rejects. */
export async function fanOut<I extends { name: string }, T>(
  items: readonly I[],
  fn: (item: I) => Promise<T>,
  limit = 8,
): Promise<HostOutcome<T>[]> {
  const out: HostOutcome<T>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const item = items[i]!;
      const start = Date.now();
      try {
        out[i] = { host: item.name, ok: true, value: await fn(item), ms: Date.now() - start };
      } catch (e) {
        out[i] = { host: item.name, ok: false, error: e as Error, ms: Date.now() - start };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** A host's error message without the "<host>: " its own code may have put in front. */
export function reasonOf(host: string, e: Error): string {
  return e.message.startsWith(`${host}: `) ? e.message.slice(host.length + 2) : e.message;
}

/** "web1  ok  1.2 s" / "web2  FAILED  <reason>", names padded to one width. */
export function summaryLines(outcomes: readonly HostOutcome<unknown>[]): string[] {
  const w = Math.max(...outcomes.map((o) => o.host.length));
  return outcomes.map((o) =>
    `${o.host.padEnd(w)}  ${o.ok ? "ok" : "FAILED"}  ${o.ok ? `${(o.ms / 1000).toFixed(1)} s` : reasonOf(o.host, o.error!)}`,
  );
}

/** Prefixes a host's progress line with its name, unless the line already starts with it. */
export function prefixFor(host: string): (msg: string) => string {
  return (msg) => (msg.startsWith(`${host}: `) ? msg : msg.split("\n").map((l) => `${host}: ${l}`).join("\n"));
}
