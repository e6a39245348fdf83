// The test-only switch of the fault suite, read in this one place:
//   DEPL_FAULT_AT=<point>   depl kills itself with SIGKILL on reaching that point
//   DEPL_FAULT_DROP=<host> a switch drops that host's connection right after its renames
//   DEPL_FAULT_LIST=1       depl names each point it passes on stderr ("depl-fault-point: <point>")
// A point is "<operation>:<step>", at a boundary between two steps of a mutating operation.

const at = process.env.DEPL_FAULT_AT ?? "";
const list = process.env.DEPL_FAULT_LIST === "1";

export function faultPoint(point: string): void {
  if (list) process.stderr.write(`depl-fault-point: ${point}\n`);
  if (at !== "" && point === at) process.kill(process.pid, "SIGKILL");
}

/** DEPL_FAULT_DROP=<host>: that host's connection is dropped right after its renames in a switch (test-only). */
export function dropAfterRename(host: string): boolean {
  return process.env.DEPL_FAULT_DROP === host;
}
