import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import { streamAccessLogs } from "./read.js";
import { startTails, type LogTail } from "./tail.js";
import { TimeSeries } from "./series.js";

/**
 * Figures that keep up with the access logs of several hosts: the window
 * before start() is read once (current and rotated files), then each poll()
 * adds only what the logs gained (a tail per host). Per host and summed.
 */
export class LiveStats {
  readonly total: TimeSeries;
  readonly perHost: TimeSeries[];
  private tails: LogTail[] = [];
  private t0 = 0;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly l: Layout,
    bucketSec: number,
    keep: number,
  ) {
    this.total = new TimeSeries(bucketSec, keep);
    this.perHost = hosts.map(() => new TimeSeries(bucketSec, keep));
  }

  /** Reads the last `windowSec` seconds of every host's logs. */
  async start(windowSec: number): Promise<void> {
    this.tails = await startTails(this.hosts, this.l);
    this.t0 = Date.now() / 1000;
    const since = this.t0 - windowSec;
    // Requests from t0 on are the tails'; nginx logs in time order, give or take a few ms.
    await Promise.all(
      this.hosts.map((h, i) =>
        streamAccessLogs(h, this.l, since, (r) => {
          if (r.time >= this.t0) return;
          this.total.add(r);
          this.perHost[i]!.add(r);
        }),
      ),
    );
  }

  async poll(): Promise<void> {
    const got = await Promise.all(this.tails.map((t) => t.poll()));
    got.forEach((records, i) => {
      for (const r of records) {
        if (r.time < this.t0) continue;
        this.total.add(r);
        this.perHost[i]!.add(r);
      }
    });
    const now = Date.now() / 1000;
    this.total.prune(now);
    for (const s of this.perHost) s.prune(now);
  }
}
