import { existsSync, readFileSync, rmSync } from "node:fs";
import { FIGURES, type FigureRow } from "./figures.js";

/** Columns of text, left-aligned. */
function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows].map((r) => r.map((c, i) => (c ?? "").padEnd(w[i]!)).join("  ").trimEnd()).join("\n");
}

export function setup(): void {
  rmSync(FIGURES, { force: true });
}

/** Prints every figure the suite recorded, whatever passed or failed. */
export function teardown(): void {
  if (!existsSync(FIGURES)) return;
  const rows = readFileSync(FIGURES, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as FigureRow);
  const n = (x: number | undefined) => (x === undefined ? "-" : String(x));
  console.log("\nreliability figures\n" + table(
    ["GROUP", "CASE", "OUTCOME", "REQUESTS", "FAILED", "SECONDS"],
    rows.map((r) => [r.group, r.case, r.outcome, n(r.requests), n(r.failed), r.seconds === undefined ? "-" : r.seconds.toFixed(1)]),
  ));
}
