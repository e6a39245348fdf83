import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { REPO } from "../helpers/cli.js";

/**
 * Where the figures go: one JSON line per row, printed as a table when the suite ends
 * (global-setup.ts). The restarts suite, which stops services, runs alone and has its own file; so
 * does the faults suite, which runs in another group than the reliability suite.
 */
export const FIGURES = `${REPO}/test-artifacts/reliability-figures.jsonl`;
export const RESTART_FIGURES = `${REPO}/test-artifacts/restart-figures.jsonl`;
export const FAULT_FIGURES = `${REPO}/test-artifacts/fault-figures.jsonl`;

export interface FigureRow {
  /** fault points, restarts, bad releases, hostile input, hardening */
  group: string;
  case: string;
  outcome: string;
  requests?: number;
  failed?: number;
  seconds?: number;
}

export function record(row: FigureRow, file = row.group === "restarts" ? RESTART_FIGURES : row.group === "fault points" ? FAULT_FIGURES : FIGURES): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, JSON.stringify(row) + "\n");
}
