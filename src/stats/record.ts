// One access-log line as stats, the canary and the dashboard read it.

/** One request from the access log, normalised. */
export interface RequestRecord {
  /** Seconds since the epoch, when nginx finished the request. */
  time: number;
  status: number;
  /** Seconds. */
  requestTime: number;
  /** The version that served it (X-Depl-Version), or null when none did (404, 503 from nginx). */
  version: string | null;
  /**
   * How nginx routed it: "live" (through a bucket), "forced" (header or cookie),
   * "preview", "static", "redirect", "none" (an unknown name). Absent in lines
   * written before the log had it.
   */
  route?: string | null;
  /** The live site's bucket, "00" to "99" (null off the live site). */
  bucket?: string | null;
  /** The version asked for by a preview name, header or cookie (null when none was). */
  requested?: string | null;
  /** The status of each upstream try in order ("502, 200" -> [502, 200]); [] when nginx asked no version. */
  upstream?: number[];
}
