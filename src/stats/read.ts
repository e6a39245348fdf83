import type { Host } from "../host/host.js";
import { listLogFiles, rotatedAccessLogs } from "../logs/rotate.js";
import type { Layout } from "../naming/layout.js";
import type { RequestRecord } from "./compute.js";
import { parseLogLine } from "./parse.js";

/** Bytes read from a log per command: what stats holds in memory at once (plus one line). */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * The access log files that may hold requests since `since` (seconds), newest
 * first: access.log, then the rotated ones down to the first whose last write
 * is older than `since` (it and every older one hold nothing newer). Pure.
 */
export function filesToRead(files: { name: string; size: number; mtimeMs: number }[], since: number) {
  const out = files.filter((f) => f.name === "access.log");
  for (const f of rotatedAccessLogs(files)) {
    if (f.mtimeMs / 1000 < since) break;
    out.push(f);
  }
  return out;
}

/**
 * Streams the request records of one host's access logs (current and rotated)
 * newest file first, in chunks of CHUNK_BYTES, never a whole file in memory.
 * Returns the names of the files read.
 */
export async function streamAccessLogs(host: Host, l: Layout, since: number, onRecord: (r: RequestRecord) => void, chunkBytes = CHUNK_BYTES): Promise<string[]> {
  const files = filesToRead(await listLogFiles(host, l.logDir), since);
  for (const f of files) {
    const path = `${l.logDir}/${f.name}`;
    let carry = "";
    for (let k = 0; k * chunkBytes < f.size; k++) {
      const r = await host.run(["dd", `if=${path}`, `bs=${chunkBytes}`, `skip=${k}`, "count=1", "status=none"], { allowFailure: true });
      if (r.code !== 0) break; // rotated away or removed meanwhile
      const lines = (carry + r.stdout).split("\n");
      carry = lines.pop()!;
      for (const line of lines) {
        const rec = line ? parseLogLine(line) : null;
        if (rec) onRecord(rec);
      }
    }
    // The last line without a newline is being written: left for the next stats.
  }
  return files.map((f) => f.name);
}
