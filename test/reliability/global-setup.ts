import { existsSync, readFileSync, rmSync } from "node:fs";
import { FAULT_FIGURES, FIGURES, RESTART_FIGURES, type FigureRow } from "./figures.js";

/** Columns of text, left-aligned. */
function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows].map((r) => r.map((c, i) => (c ?? "").padEnd(w[i]!)).join("  ").trimEnd()).join("\n");
}

/** The reliability suites' global setup: clears their figures file, prints it as a table at the end. */
export function figuresTable(file: string, title: string) {
  return {
    setup: () => rmSync(file, { force: true }),
    teardown: () => printFigures(file, title),
  };
}

const reliability = figuresTable(FIGURES, "reliability figures");
export const setup = reliability.setup;
export const teardown = reliability.teardown;
export const restarts = figuresTable(RESTART_FIGURES, "restart figures");
export const faults = figuresTable(FAULT_FIGURES, "fault point figures");

/** Prints every figure the suite recorded, whatever passed or failed. */
function printFigures(file: string, title: string): void {
  if (!existsSync(file)) return;
  const rows = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as FigureRow);
  const n = (x: number | undefined) => (x === undefined ? "-" : String(x));
  console.log(`\n${title}\n` + table(
    ["GROUP", "CASE", "OUTCOME", "REQUESTS", "FAILED", "SECONDS"],
    rows.map((r) => [r.group, r.case, r.outcome, n(r.requests), n(r.failed), r.seconds === undefined ? "-" : r.seconds.toFixed(1)]),
  ));
}
