// One way out of a script that starts processes: on success, on failure and on Ctrl-C, nothing it started keeps running
// (unless it finished and chose to leave them).

import type { Subprocess } from "bun";
import { ScriptError, oneLine } from "./errors";

/** How long cleanup may take before the script exits anyway: a stuck child must not hold the terminal. */
const CLEANUP_DEADLINE_MS = 5_000;
/** After Ctrl-C the script's own flow fails fast (its processes are gone); if it does not, stop regardless. */
const INTERRUPT_FALLBACK_MS = 8_000;

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export class Lifecycle {
  private readonly processes: Subprocess[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private interruptedBy: NodeJS.Signals | null = null;
  private stopping: Promise<void> | null = null;

  /** `label` starts the one line printed on failure, e.g. "demo failed: ...". */
  constructor(private readonly label: string) {}

  /** Remembers a started process; one started after Ctrl-C (a start-up still in flight) is killed at once. */
  track(proc: Subprocess): void {
    this.processes.push(proc);
    if (this.interruptedBy) proc.kill("SIGKILL");
  }

  /** Work to do when stopping, after the processes are gone (close a testnet, kill client commands). */
  onStop(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  /** Call between steps: after Ctrl-C, the flow stops here instead of writing into a home being removed. */
  checkpoint(): void {
    if (this.interruptedBy) throw new ScriptError(`${this.interruptedBy}: stopped`);
  }

  private killAll(): void {
    for (const proc of this.processes) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  }

  /** Kills everything tracked and runs the cleanups, each bounded in time; runs once however often it is called. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      this.killAll();
      await Promise.race([Promise.all(this.processes.map((proc) => proc.exited)), Bun.sleep(CLEANUP_DEADLINE_MS)]);
      for (const cleanup of this.cleanups) {
        await Promise.race([Promise.resolve().then(cleanup).catch(() => undefined), Bun.sleep(CLEANUP_DEADLINE_MS)]);
      }
      // A cleanup may have waited on a start-up that spawned one more process meanwhile.
      this.killAll();
    })();
    return this.stopping;
  }

  private interrupt(signal: NodeJS.Signals): void {
    if (this.interruptedBy) return;
    this.interruptedBy = signal;
    console.error(`\n${signal}: stopping every process the ${this.label} started`);
    // Killing the processes makes the flow fail at its next step; `run` then cleans up and exits.
    this.killAll();
    setTimeout(() => void this.stopAll().then(() => process.exit(SIGNAL_EXIT_CODES[signal] ?? 1)), INTERRUPT_FALLBACK_MS);
  }

  /** Runs the script's body and exits: 0 on success, 1 with one line on failure, 130/143 after Ctrl-C/SIGTERM. */
  async run(body: () => Promise<void>): Promise<never> {
    process.on("SIGINT", () => this.interrupt("SIGINT"));
    process.on("SIGTERM", () => this.interrupt("SIGTERM"));
    try {
      await body();
      this.checkpoint();
      process.exit(0);
    } catch (error) {
      if (!this.interruptedBy) console.error(`${this.label} failed: ${oneLine(error)}`);
      await this.stopAll();
      process.exit(this.interruptedBy ? (SIGNAL_EXIT_CODES[this.interruptedBy] ?? 1) : 1);
    }
  }
}

/** The testnet a start-up produced, or null if it failed (then it already closed itself) or is still stuck. */
export async function settled<T>(startup: Promise<T> | null, timeoutMs = CLEANUP_DEADLINE_MS): Promise<T | null> {
  if (!startup) return null;
  return Promise.race([startup.catch(() => null), Bun.sleep(timeoutMs).then(() => null)]);
}
