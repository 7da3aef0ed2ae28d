// The process exit codes of every p2p command, defined once (README "Exit codes" lists them) and mapped from P2PError codes.

import { P2PError, type ErrorCode } from "../protocol/errors";

export const EXIT = {
  OK: 0,
  /** Anything else that went wrong. */
  FAILURE: 1,
  /** The command line is wrong: unknown option or command, missing or extra argument, invalid value. */
  USAGE: 2,
  /** No such file, node or item. */
  NOT_FOUND: 3,
  /** Several things match (files of one name, running nodes): say which one. */
  AMBIGUOUS: 4,
  /** The node, or every holder of a file, does not answer. */
  UNREACHABLE: 5,
  /** Stopped by Ctrl-C (SIGINT). */
  INTERRUPTED: 130,
} as const;

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  MALFORMED: EXIT.USAGE,
  UNKNOWN_OPERATION: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  CONFLICT: EXIT.AMBIGUOUS,
  UNREACHABLE: EXIT.UNREACHABLE,
  UNAVAILABLE: EXIT.UNREACHABLE,
  CLOSED: EXIT.UNREACHABLE,
  TIMEOUT: EXIT.UNREACHABLE,
};

/** The exit code for a failure: P2PErrors by their code, anything else 1. */
export function exitCodeFor(error: unknown): number {
  return error instanceof P2PError ? (BY_CODE[error.code] ?? EXIT.FAILURE) : EXIT.FAILURE;
}
