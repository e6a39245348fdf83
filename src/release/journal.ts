import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { faultPoint } from "./fault.js";
import { stateDir } from "../naming/state-dir.js";

/**
 * A long command's step journal on the deploy machine, so that
 * `--resume` continues a failed or interrupted run from its first unfinished
 * step. Written after every step (temp file + rename).
 */
export interface JournalData {
  command: string;
  app: string;
  started_at: string;
  updated_at: string;
  status: "running" | "failed" | "done";
  error: string | null;
  /** The options the run started with; a resumed run uses them again. */
  options: Record<string, string | number | boolean | null>;
  /** Facts later steps need (version, image id...). */
  facts: Record<string, string>;
  done: string[];
}

export function journalDir(): string {
  return stateDir();
}

export class Journal {
  private constructor(
    private readonly path: string,
    readonly data: JournalData,
  ) {}

  static fresh(command: string, app: string, options: JournalData["options"]): Journal {
    const now = new Date().toISOString();
    return new Journal(join(journalDir(), `${app}.${command}.json`), {
      command, app, started_at: now, updated_at: now, status: "running", error: null, options, facts: {}, done: [],
    });
  }

  /** A new run's journal or, with resume, the last failed or interrupted one's (a UsageError when there is none). */
  static async open(command: string, app: string, resume: boolean, options: JournalData["options"]): Promise<Journal> {
    if (!resume) return Journal.fresh(command, app, options);
    const found = await Journal.load(command, app);
    if (!found || found.data.status === "done") throw new UsageError(`no failed or interrupted ${command} of ${app} to resume`);
    return found;
  }

  static async load(command: string, app: string): Promise<Journal | null> {
    const path = join(journalDir(), `${app}.${command}.json`);
    try {
      return new Journal(path, JSON.parse(await readFile(path, "utf8")) as JournalData);
    } catch {
      return null;
    }
  }

  isDone(step: string): boolean {
    return this.data.done.includes(step);
  }

  /** Forgets a finished step, so that it runs again. */
  redo(step: string): void {
    this.data.done = this.data.done.filter((s) => s !== step);
  }

  /** Runs the command's steps; the journal ends done, or failed with the error's first line. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      await this.finish("done");
      return r;
    } catch (e) {
      await this.finish("failed", (e as Error).message.split("\n")[0]!);
      // A usage error changed nothing worth resuming; anything else says how to go on.
      if (e instanceof Error && !(e instanceof UsageError) && this.data.done.length > 0) {
        e.message += `\n(done: ${this.data.done.join(", ")}; \`depl ${this.data.command} --resume\` continues from there)`;
      }
      throw e;
    }
  }

  /** Runs fn unless the step is already done; records it when it ends well. */
  async step<T>(name: string, fn: () => Promise<T>, skipped?: () => void): Promise<T | undefined> {
    if (this.isDone(name)) {
      skipped?.();
      return undefined;
    }
    const r = await fn();
    this.data.done.push(name);
    await this.save();
    faultPoint(`${this.data.command}:${name}`);
    return r;
  }

  async fact(key: string, value: string): Promise<void> {
    this.data.facts[key] = value;
    await this.save();
  }

  async finish(status: "failed" | "done", error: string | null = null): Promise<void> {
    this.data.status = status;
    this.data.error = error;
    await this.save();
  }

  private saving: Promise<void> = Promise.resolve();

  /** Saves are queued: steps on several hosts finish concurrently, and each write must land whole. */
  save(): Promise<void> {
    const next = this.saving.then(async () => {
      this.data.updated_at = new Date().toISOString();
      await mkdir(journalDir(), { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.tmp`;
      await writeFile(tmp, JSON.stringify(this.data, null, 2) + "\n", { mode: 0o600 });
      await rename(tmp, this.path);
    });
    this.saving = next.catch(() => undefined);
    return next;
  }
}
