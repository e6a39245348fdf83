// Reads the legacy builder's JSON progress events. Pure: no I/O.

/** One event of Docker's /build stream (legacy builder). */
export interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

export interface Step {
  n: number;
  of: number;
  instruction: string;
}

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const TAIL_LINES = 30;

/** Collects what a build said: steps, cache hits, the image id, the error, and the last lines. */
export class BuildProgress {
  readonly steps: Step[] = [];
  cachedSteps = 0;
  imageId: string | null = null;
  error: string | null = null;
  /** Short ids of the images each step made (" ---> 0123456789ab"), intermediate ones included. */
  readonly layers: string[] = [];
  private readonly tail: string[] = [];

  /** Feeds one event; returns the lines it carried (for a verbose display) and the step it started, if any. */
  push(ev: BuildEvent): { lines: string[]; step: Step | null } {
    if (ev.aux?.ID) this.imageId = ev.aux.ID;
    const text = ev.stream ?? ev.status ?? "";
    const lines = text.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
    let step: Step | null = null;
    for (const line of lines) {
      const m = STEP.exec(line);
      if (m) {
        step = { n: Number(m[1]), of: Number(m[2]), instruction: m[3]! };
        this.steps.push(step);
      }
      if (line.trim() === "---> Using cache") this.cachedSteps++;
      const id = /^\s*---> ([0-9a-f]{12})$/.exec(line);
      if (id) this.layers.push(id[1]!);
      this.remember(line);
    }
    if (ev.error || ev.errorDetail) {
      this.error = ev.errorDetail?.message ?? ev.error ?? "unknown error";
      this.remember(`ERROR: ${this.error}`);
      lines.push(`ERROR: ${this.error}`);
    }
    return { lines, step };
  }

  get currentStep(): Step | null {
    return this.steps[this.steps.length - 1] ?? null;
  }

  /** The last lines of output, for an error message. */
  lastLines(n = TAIL_LINES): string[] {
    return this.tail.slice(-n);
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
}

/** "step 3/17: RUN apt-get update ..." cut to a terminal line. Pure. */
export function stepLine(s: Step, width = 100): string {
  const line = `step ${s.n}/${s.of}: ${s.instruction.replace(/\s+/g, " ")}`;
  return line.length > width ? `${line.slice(0, width - 3)}...` : line;
}
