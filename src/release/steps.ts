import { DeplError } from "../errors.js";
import { faultPoint } from "./fault.js";

// One runner for every mutating operation: ordered steps, each with its undo.
// On any exception, and on SIGINT/SIGTERM (taken between two steps), the steps
// done so far are undone in reverse order, then the error goes on up.

export class InterruptedError extends DeplError {
  override name = "InterruptedError";
  override readonly exitCode = 130;
}

type Undo = () => Promise<unknown>;

export class Steps {
  private readonly undos: { name: string; undo: Undo }[] = [];
  private interrupted: NodeJS.Signals | null = null;

  constructor(
    /** The operation, for fault points and messages: "install", "promote"... */
    readonly op: string,
    private readonly say: (m: string) => void,
  ) {}

  /**
   * Runs one step. `undo` (given the step's result) is remembered for a later
   * failure; a step whose own failure leaves something behind cleans it up itself.
   */
  async step<T>(name: string, fn: () => Promise<T>, undo?: (result: T) => Promise<unknown>): Promise<T> {
    this.checkInterrupt(name);
    const result = await fn();
    if (undo) this.undos.push({ name, undo: () => undo(result) });
    faultPoint(`${this.op}:${name}`);
    return result;
  }

  /**
   * A point between two parts of a step that undoes itself as a whole (install):
   * an interruption is taken here, and the fault suite may kill depl here.
   */
  boundary(name: string): void {
    this.checkInterrupt(name);
    faultPoint(`${this.op}:${name}`);
  }

  /** Marks an interruption: the current step ends, the next one does not start. */
  interrupt(signal: NodeJS.Signals): void {
    if (this.interrupted) return;
    this.interrupted = signal;
    this.say(`${signal}: finishing the current step of ${this.op}, then undoing what it did`);
  }

  /** An interruption was asked for: a long wait inside a step may end early. */
  get isInterrupted(): boolean {
    return this.interrupted !== null;
  }

  private checkInterrupt(next: string): void {
    if (this.interrupted) throw new InterruptedError(`${this.op} interrupted by ${this.interrupted} before ${next}; its finished steps were undone`);
  }

  /** Undoes the finished steps, newest first. An undo that fails is reported and the others still run. */
  async undoAll(): Promise<string[]> {
    const failed: string[] = [];
    while (this.undos.length) {
      const { name, undo } = this.undos.pop()!;
      try {
        await undo();
      } catch (e) {
        failed.push(`${name}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    return failed;
  }

  /** Forgets the undos: what is done stays done (the operation passed the point of no return). */
  commit(): void {
    this.undos.length = 0;
  }
}

/**
 * Runs body with a Steps runner. While it runs, SIGINT and SIGTERM are taken
 * as "stop after this step and undo"; a second signal leaves at once (and
 * `depl doctor` repairs what is left).
 */
export async function runSteps<T>(op: string, say: (m: string) => void, body: (s: Steps) => Promise<T>): Promise<T> {
  const steps = new Steps(op, say);
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) process.exit(128 + (sig === "SIGINT" ? 2 : 15));
    steps.interrupt(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(steps);
  } catch (e) {
    const failed = await steps.undoAll();
    if (failed.length) {
      const msg = (e as Error).message;
      throw Object.assign(new DeplError(`${msg}\nundo failed for ${failed.join("; ")} (depl doctor repairs what it can)`), { cause: e });
    }
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
