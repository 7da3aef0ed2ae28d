// What every command shares: logging flags and the one way an expected failure ends the process.

import { P2PError } from "../protocol/errors";
import { log, setLogLevel } from "../log";

export const logArgs = {
  verbose: { type: "boolean", description: "Log debugging detail to stderr", default: false },
  quiet: { type: "boolean", description: "Log only warnings and errors", default: false },
} as const;

/** Runs a command body: an expected failure is one clear line on stderr and exit 1, never a stack trace. */
export async function runCommand(options: { verbose?: boolean; quiet?: boolean }, body: () => Promise<void>): Promise<void> {
  setLogLevel(options);
  try {
    await body();
  } catch (error) {
    if (error instanceof P2PError) {
      log.error(error.message);
    } else {
      log.error(error);
    }
    process.exit(1);
  }
}

/** Parses a positive number of seconds given to `flag`. */
export function parseSeconds(value: string, flag: string, max: number): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(seconds > 0) || seconds > max) {
    throw new P2PError("MALFORMED", `invalid --${flag} '${value}': expected seconds, more than 0 and at most ${max}`);
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
    throw new P2PError("MALFORMED", `invalid --${flag} '${value}': expected a whole number from ${min} to ${max}`);
  }
  return count;
}
