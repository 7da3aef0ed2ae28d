// What every command shares: logging flags and the one way an expected failure ends the process.

import { P2PError } from "../protocol/errors";
import { setLogLevel } from "../log";
import { EXIT, exitCodeFor } from "./exit-codes";

export const logArgs = {
  verbose: { type: "boolean", description: "Log debugging detail to stderr", default: false },
  quiet: { type: "boolean", description: "Log only warnings and errors", default: false },
} as const;

/** Runs a command body: a failure is one clear line (and, with --json, a JSON error on stdout), never a stack trace. */
export async function runCommand(options: { verbose?: boolean; quiet?: boolean; json?: boolean }, body: () => Promise<void>): Promise<void> {
  setLogLevel(options);
  try {
    await body();
  } catch (error) {
    failAndExit(error, Boolean(options.json));
  }
}

/** Reports a failure the same way on a terminal and in a pipe, and exits with its code (src/cli/exit-codes.ts). */
export function failAndExit(error: unknown, json: boolean): never {
  const code = exitCodeFor(error);
  const message = oneLine(error);
  const name = error instanceof P2PError ? error.code : ((error as { code?: unknown })?.code as string | undefined) ?? "ERROR";
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: name, message, exit: code } })}\n`);
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

/** One line for any failure: a P2PError's message, or a system error's message without its stack. */
export function oneLine(error: unknown): string {
  const system = error as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown };
  if (!(error instanceof P2PError) && typeof system?.syscall === "string" && typeof system.path === "string" && typeof system.message === "string") {
    // "ENOENT: no such file or directory, mkdir '/x'" reads better as what failed, on what, and why.
    const reason = system.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "");
    return `cannot ${system.syscall} ${system.path}: ${reason} (${String(system.code)})`;
  }
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split("\n").find((part) => part.trim().length > 0) ?? "unexpected failure";
  return line.replace(/[\x00-\x1f\x7f]/g, " ").trim();
}

/** What runs on Ctrl-C before a client command exits 130: a progress line ended, one line saying what was stopped. */
const interruptCleanups = new Set<() => void>();

/** Registers `cleanup` for Ctrl-C; the returned function unregisters it (call it when the work ends). */
export function onInterrupt(cleanup: () => void): () => void {
  interruptCleanups.add(cleanup);
  return () => interruptCleanups.delete(cleanup);
}

/** Ctrl-C during a client command: run the registered cleanups, then exit 130 (src/cli/exit-codes.ts). */
export function exitInterrupted(): never {
  for (const cleanup of interruptCleanups) {
    try {
      cleanup();
    } catch {
      // Exiting anyway: a cleanup that cannot write (stderr closed) must not keep the process alive.
    }
  }
  process.exit(EXIT.INTERRUPTED);
}

/** Parses a positive number of seconds given to `flag`. */
export function parseSeconds(value: string, flag: string, max: number): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(seconds > 0) || seconds > max) {
    throw P2PError.invalid(`--${flag}`, value, `seconds, more than 0 and at most ${max}`);
  }
  return seconds;
}

/** Resolves when the process is asked to stop (Ctrl-C or a service manager). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Parses a whole number given to `flag` within [min, max]. */
export function parseCount(value: string, flag: string, min: number, max: number): number {
  const count = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(count >= min && count <= max)) {
    throw P2PError.invalid(`--${flag}`, value, `a whole number from ${min} to ${max}`);
  }
  return count;
}
