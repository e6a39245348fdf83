import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import type { RequestRecord } from "./compute.js";
import { parseLogLine } from "./parse.js";

/** Bytes read per poll at most: a watch that falls behind catches up over several polls. */
const MAX_READ = 8 * 1024 * 1024;

/**
 * Complete lines of `text` (the bytes from the tail's offset): the records and
 * how many bytes they took; a last line without a newline is being written and
 * is left for the next poll. Pure.
 */
export function takeLines(text: string): { records: RequestRecord[]; bytes: number } {
  const end = text.lastIndexOf("\n");
  if (end < 0) return { records: [], bytes: 0 };
  const whole = text.slice(0, end + 1);
  const records: RequestRecord[] = [];
  for (const line of whole.split("\n")) {
    const r = line ? parseLogLine(line) : null;
    if (r) records.push(r);
  }
  return { records, bytes: Buffer.byteLength(whole) };
}

/**
 * Follows one host's access.log from where it ended when start() ran: each
 * poll returns the requests written since. A rotation (access.log renamed
 * away and reopened by nginx) is followed: the rest of the renamed file is
 * read first, then the new access.log from its start.
 */
export class LogTail {
  private offset = 0;
  private inode = "";
  constructor(
    private readonly host: Host,
    private readonly l: Layout,
  ) {}

  private get path(): string {
    return `${this.l.logDir}/access.log`;
  }

  private async stat(): Promise<{ size: number; inode: string } | null> {
    const r = await this.host.run(["stat", "-c", "%s %i", this.path], { allowFailure: true });
    if (r.code !== 0) return null;
    const [size, inode] = r.stdout.trim().split(" ");
    return { size: Number(size), inode: inode ?? "" };
  }

  /** From now on: what the log holds already is not this tail's. */
  async start(): Promise<void> {
    const s = await this.stat();
    this.offset = s?.size ?? 0;
    this.inode = s?.inode ?? "";
  }

  private async readFrom(path: string, offset: number): Promise<{ records: RequestRecord[]; bytes: number }> {
    const r = await this.host.run(["sh", "-c", 'tail -c "+$1" "$2" | head -c "$3"', "depl-tail", String(offset + 1), path, String(MAX_READ)], { allowFailure: true });
    if (r.code !== 0) return { records: [], bytes: 0 };
    return takeLines(r.stdout);
  }

  async poll(): Promise<RequestRecord[]> {
    const s = await this.stat();
    if (!s) return [];
    const out: RequestRecord[] = [];
    if (this.inode && s.inode !== this.inode) {
      const found = await this.host.run(["find", this.l.logDir, "-mindepth", "1", "-maxdepth", "1", "-inum", this.inode, "-printf", "%f\\n"], { allowFailure: true });
      const old = found.stdout.split("\n").find((n) => n.startsWith("access.log"));
      if (old) {
        // The rest of the renamed file, however much: nginx no longer writes to it.
        for (;;) {
          const got = await this.readFrom(`${this.l.logDir}/${old}`, this.offset);
          out.push(...got.records);
          this.offset += got.bytes;
          if (got.bytes === 0) break;
        }
      }
      this.inode = s.inode;
      this.offset = 0;
    } else if (s.size < this.offset) {
      this.offset = 0; // truncated in place
    }
    if (s.size > this.offset) {
      const got = await this.readFrom(this.path, this.offset);
      out.push(...got.records);
      this.offset += got.bytes;
    }
    return out;
  }
}

/** One tail per host, started at once. */
export async function startTails(hosts: readonly Host[], l: Layout): Promise<LogTail[]> {
  const tails = hosts.map((h) => new LogTail(h, l));
  await Promise.all(tails.map((t) => t.start()));
  return tails;
}
