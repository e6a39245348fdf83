import type { RequestRecord } from "../stats/compute.js";
import type { Sample } from "./judge.js";

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

/** Canary and live samples since `since` (seconds), for one host or the sum of several. */
export class PairSamples {
  readonly canary = new SampleBuilder();
  readonly live = new SampleBuilder();
  constructor(
    readonly canaryVersion: string,
    readonly liveVersion: string,
    private readonly since: number,
  ) {}

  add(r: RequestRecord): void {
    if (r.time < this.since) return;
    if (r.version === this.canaryVersion) this.canary.add(r);
    else if (r.version === this.liveVersion) this.live.add(r);
  }
}
