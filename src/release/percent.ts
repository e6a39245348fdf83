import { UsageError, quote } from "../errors.js";

/** "5%" -> 5. Whole percents from 1% to 99%; anything else is a usage error. */
export function parsePercent(s: string): number {
  const m = /^([1-9]\d?)%$/.exec(s);
  if (!m) {
    throw new UsageError(`invalid percentage ${quote(s)}: expected a whole number from 1% to 99%, such as 5%`);
  }
  return Number(m[1]);
}
