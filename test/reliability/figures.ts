import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { REPO } from "../helpers/cli.js";

/** Where the reliability suite's figures go: one JSON line per row; global-setup prints them as a table. */
export const FIGURES = `${REPO}/test-artifacts/reliability-figures.jsonl`;

export interface FigureRow {
  /** fault points, restarts, bad releases, hostile input, hardening */
  group: string;
  case: string;
  outcome: string;
  requests?: number;
  failed?: number;
  seconds?: number;
}

export function record(row: FigureRow): void {
  mkdirSync(dirname(FIGURES), { recursive: true });
  appendFileSync(FIGURES, JSON.stringify(row) + "\n");
}
