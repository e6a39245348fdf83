import type { SiteSeries } from "../stats/series.js";

/** The site's 5xx rate over its last points above which the page says plainly that it is failing. */
export const ALARM_5XX_RATE = 0.05;
/** Points looked at: the one being filled and the last whole one (10 s at 5 s a point). */
export const ALARM_POINTS = 2;

export interface Alarm {
  /** Seconds covered, and the figures of every request logged in them. */
  seconds: number;
  requests: number;
  s5xx: number;
  rate: number;
}

/**
 * Is the site failing now? The 5xx rate of every logged request (answered or
 * not) in the last ALARM_POINTS points, when it passes `threshold`; null
 * otherwise, and when those points hold no request (nothing to say). Pure.
 */
export function failingNow(site: SiteSeries, bucketSec: number, threshold = ALARM_5XX_RATE): Alarm | null {
  const n = Math.min(ALARM_POINTS, site.requests.length);
  const requests = site.requests.slice(-n).reduce((a, b) => a + b, 0);
  const s5xx = site.s5xx.slice(-n).reduce((a, b) => a + b, 0);
  if (requests === 0 || s5xx / requests <= threshold) return null;
  return { seconds: n * bucketSec, requests, s5xx, rate: s5xx / requests };
}
