import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import type { TrafficState } from "../switch/traffic.js";
import { streamAccessLogs } from "./read.js";
import { startTails, type LogTail } from "./tail.js";
import { TimeSeries } from "./series.js";
import { readTimeline, sameTraffic, TrafficTimeline } from "./timeline.js";

/**
 * Figures that keep up with the access logs of several hosts: the window
 * before start() is read once (current and rotated files), then each poll()
 * adds only what the logs gained (a tail per host). Per host and summed.
 * Each host's traffic timeline (audit.log, then the links read at each
 * poll) says which version a request no version answered was meant for.
 */
export class LiveStats {
  readonly total: TimeSeries;
  readonly perHost: TimeSeries[];
  private tails: LogTail[] = [];
  private timelines: TrafficTimeline[];
  private t0 = 0;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly l: Layout,
    bucketSec: number,
    keep: number,
  ) {
    this.total = new TimeSeries(bucketSec, keep);
    this.perHost = hosts.map(() => new TimeSeries(bucketSec, keep));
    this.timelines = hosts.map(() => new TrafficTimeline());
  }

  /** Reads the last `windowSec` seconds of every host's logs. */
  async start(windowSec: number): Promise<void> {
    this.tails = await startTails(this.hosts, this.l);
    this.t0 = Date.now() / 1000;
    const since = this.t0 - windowSec;
    this.timelines = await Promise.all(this.hosts.map((h) => readTimeline(h, this.l, this.t0)));
    // Requests from t0 on are the tails'; nginx logs in time order, give or take a few ms.
    await Promise.all(
      this.hosts.map((h, i) =>
        streamAccessLogs(h, this.l, since, (r) => {
          if (r.time >= this.t0) return;
          const traffic = this.timelines[i]!.at(r.time);
          this.total.add(r, traffic);
          this.perHost[i]!.add(r, traffic);
        }),
      ),
    );
  }

  /**
   * Adds what the logs gained. `traffic[i]`: host i's links as read just
   * before (a change made since the last poll counts from this poll on).
   */
  async poll(traffic: readonly (TrafficState | null)[] = []): Promise<void> {
    const now = Date.now() / 1000;
    // A change since the last poll: audit.log says when it was made.
    await Promise.all(
      traffic.map(async (t, i) => {
        const tl = this.timelines[i];
        if (!t || !tl) return;
        const last = tl.latest();
        if (last && sameTraffic(last, t)) return;
        this.timelines[i] = await readTimeline(this.hosts[i]!, this.l, now).catch(() => tl);
        this.timelines[i]!.observe(now, t);
      }),
    );
    const got = await Promise.all(this.tails.map((t) => t.poll()));
    got.forEach((records, i) => {
      for (const r of records) {
        if (r.time < this.t0) continue;
        const t = this.timelines[i]!.at(r.time);
        this.total.add(r, t);
        this.perHost[i]!.add(r, t);
      }
    });
    this.total.prune(now);
    for (const s of this.perHost) s.prune(now);
  }
}
