import type { RequestRecord } from "../stats/compute.js";
import type { Sample } from "./judge.js";
import { firstTryFailed, isCanaryBucket } from "../stats/attribute.js";

/** Latencies kept per version for the rank test: a uniform reservoir beyond this (counts stay exact). */
export const RESERVOIR = 20_000;

/**
 * A judge's Sample built one request at a time: exact request and 5xx
 * counts; latencies kept whole up to `cap`, then as a uniform reservoir
 * sample (Algorithm R) so that a long, busy window stays bounded in memory
 * and in the cost of the Mann-Whitney test.
 */
export class SampleBuilder {
  requests = 0;
  errors = 0;
  private readonly lat: number[] = [];
  constructor(
    private readonly cap = RESERVOIR,
    private readonly random: () => number = Math.random,
  ) {}

  add(r: Pick<RequestRecord, "status" | "requestTime">): void {
    this.requests++;
    if (r.status >= 500 && r.status <= 599) this.errors++;
    if (this.lat.length < this.cap) this.lat.push(r.requestTime);
    else {
      const j = Math.floor(this.random() * this.requests);
      if (j < this.cap) this.lat[j] = r.requestTime;
    }
  }

  sample(): Sample {
    return { requests: this.requests, errors: this.errors, latencies: this.lat };
  }
}

/**
 * Canary and live samples since `since` (seconds), for one host or the sum of
 * several. A request counts for the side nginx sent it to, answered or not:
 * on the live site the canary's buckets are 00 to `canaryPercent`-1 (the
 * watch ends when the share changes), so a request of the canary's bucket
 * that no version answered (503), or that the canary refused and live
 * answered by the way out (upstream tries "502, 200"), is a failure of the
 * canary; one of live's bucket that no version answered is live's. A forced
 * or preview request counts for the version it asked for. Without
 * `canaryPercent` (or in log lines without a route) only the version that
 * answered counts.
 */
export class PairSamples {
  readonly canary = new SampleBuilder();
  readonly live = new SampleBuilder();
  constructor(
    readonly canaryVersion: string,
    readonly liveVersion: string,
    private readonly since: number,
    readonly canaryPercent: number | null = null,
  ) {}

  add(r: RequestRecord): void {
    if (r.time < this.since) return;
    const side = this.sideOf(r);
    if (side === null) return;
    const to = side === "canary" ? this.canary : this.live;
    // Answered by the way out (live, previous): the side's own try was the error nginx got from it.
    if (r.version !== null && r.version !== (side === "canary" ? this.canaryVersion : this.liveVersion)) to.add({ status: r.upstream?.[0] ?? 502, requestTime: r.requestTime });
    else to.add(r);
  }

  /** Which side a request counts for, or null for neither. */
  sideOf(r: RequestRecord): "canary" | "live" | null {
    // nginx asked no version (a 404 for an unknown forced version): nobody's.
    if (r.version === null && r.upstream !== undefined && r.upstream.length === 0) return null;
    if (r.route === "live" && this.canaryPercent !== null && r.bucket) {
      // The bucket's own version failed (none answered, or the way out did): that version's failure.
      if (r.version === null || firstTryFailed(r)) return isCanaryBucket(r.bucket, this.canaryPercent) ? "canary" : "live";
    } else if (r.version === null) {
      if (r.route !== "forced" && r.route !== "preview") return null;
      return r.requested === this.canaryVersion ? "canary" : r.requested === this.liveVersion ? "live" : null;
    }
    return r.version === this.canaryVersion ? "canary" : r.version === this.liveVersion ? "live" : null;
  }
}
