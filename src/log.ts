// The process-wide logger: consola, always on stderr, so stdout carries only data.

import { createConsola, type ConsolaInstance } from "consola";

const LEVELS: Record<string, number> = { silent: -999, error: 0, warn: 1, log: 2, info: 3, debug: 4, trace: 5 };

/** Level from P2P_LOG_LEVEL (a name or number), else info. */
function initialLevel(): number {
  const wanted = process.env.P2P_LOG_LEVEL?.trim().toLowerCase();
  if (!wanted) return LEVELS.info!;
  if (wanted in LEVELS) return LEVELS[wanted]!;
  const numeric = Number(wanted);
  return Number.isFinite(numeric) ? numeric : LEVELS.info!;
}

// `fancy` is read by consola's createConsola at runtime but missing from the type it resolves to here,
// so the options go in as a variable (no excess-property check) rather than a literal.
const options = {
  level: initialLevel(),
  stdout: process.stderr,
  stderr: process.stderr,
  // Boxes and blank lines help at a terminal; a service's log file wants one plain line per event.
  fancy: Boolean(process.stderr.isTTY),
  // columns 0: consola would otherwise pad every line on a terminal with spaces up to its width (to right-align a date).
  formatOptions: { date: false, columns: 0 },
};

export const log: ConsolaInstance = createConsola(options);

/** Applies --verbose/--quiet; the environment variable wins over neither. */
export function setLogLevel(options: { verbose?: boolean; quiet?: boolean }): void {
  if (options.verbose) log.level = LEVELS.debug!;
  if (options.quiet) log.level = LEVELS.warn!;
}
