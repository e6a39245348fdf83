const BARS = "▁▂▃▄▅▆▇█";

/**
 * Values as a row of block characters scaled to the largest; a zero is "·"
 * so that "none" never looks like "a few". Pure.
 */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values
    .map((v) => {
      if (v <= 0 || max === 0) return "·";
      return BARS[Math.min(BARS.length - 1, Math.max(0, Math.ceil((v / max) * BARS.length) - 1))]!;
    })
    .join("");
}

/** Per-version sparklines of requests and 5xx per bucket, names aligned; `label` gives a version's role. Pure. */
export function sparklineRows(series: readonly { version: string; requests: number[]; s5xx: number[] }[], label: (v: string) => string): string[] {
  const names = series.map((s) => `${s.version} ${label(s.version)}`);
  const w = Math.max(0, ...names.map((n) => n.length));
  return series.map((s, i) => {
    const last = s.requests[s.requests.length - 1] ?? 0;
    return `${names[i]!.padEnd(w)}  requests ${sparkline(s.requests)} ${String(last).padStart(5)}/min  5xx ${sparkline(s.s5xx)} ${s.s5xx[s.s5xx.length - 1] ?? 0}/min`;
  });
}
