// The one error type of p2p: a string code that maps to a wire status, and a message a user can act on.

/** Every status the protocol knows, by code name. `status` and `reason` are what goes on the wire. */
export const STATUS = {
  OK: { status: 200, reason: "OK" },
  IN_PROGRESS: { status: 202, reason: "IN PROGRESS" },
  UNKNOWN_OPERATION: { status: 400, reason: "UNKNOWN OPERATION" },
  NOT_FOUND: { status: 404, reason: "NOT FOUND" },
  CONFLICT: { status: 409, reason: "CONFLICT" },
  /** A partial holder asked for a chunk it does not have yet: ask another, or it later. */
  NOT_YET: { status: 425, reason: "NOT YET" },
  MALFORMED: { status: 422, reason: "MALFORMED" },
  ERROR: { status: 500, reason: "ERROR" },
  UNAVAILABLE: { status: 503, reason: "UNAVAILABLE" },
  TIMEOUT: { status: 504, reason: "TIMEOUT" },
} as const;

export type StatusName = keyof typeof STATUS;

/**
 * Local-only failures of a link; they never travel as a status of their own.
 * REFUSED: the peer is not on this private network (it has another --key, or none, or we have none).
 */
export type LinkFailure = "UNREACHABLE" | "CLOSED" | "REFUSED";

export type ErrorCode = Exclude<StatusName, "OK" | "IN_PROGRESS"> | LinkFailure;

export class P2PError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "P2PError";
    this.code = code;
  }

  // Factories for the failures that recur, so one kind reads the same wherever it happens (dht-rpc's DHTError
  // factories are the model), and text that came from outside is always quoted cut short.

  /** A value that does not parse: `invalid <what> '<value>': expected <expected>`. */
  static invalid(what: string, value: string, expected: string): P2PError {
    return new P2PError("MALFORMED", `invalid ${what} '${quote(value)}': expected ${expected}`);
  }

  /** A peer's reply that breaks the op's contract: `<from> answered <op> <what>`. */
  static badAnswer(from: string, op: string, what: string): P2PError {
    return new P2PError("MALFORMED", `${from} answered ${op} ${what}`);
  }

  /** A request line that does not match its op's syntax. */
  static usage(usage: string): P2PError {
    return new P2PError("MALFORMED", `usage: ${usage}`);
  }

  /** A peer that kept silent past its deadline. */
  static noAnswer(who: string, op: string, timeoutMs: number): P2PError {
    return new P2PError("TIMEOUT", `${who} did not answer ${op} within ${timeoutMs} ms`);
  }

  /** A peer that kept a reply going (busy notices, trickled bytes) past the whole reply's deadline. */
  static tookTooLong(who: string, op: string, deadlineMs: number): P2PError {
    return new P2PError("TIMEOUT", `${who} took longer than ${deadlineMs} ms to answer ${op}`);
  }

  /** An output path that is taken, where only --force may replace it. */
  static alreadyExists(path: string): P2PError {
    return new P2PError("CONFLICT", `${path} already exists; use --force to overwrite it`);
  }

  /** An output path whose folder is missing. */
  static missingFolder(folder: string): P2PError {
    return new P2PError("NOT_FOUND", `the folder ${folder} does not exist; create it first or choose another --out`);
  }

  /** A path to share or hash that is a device, socket or pipe rather than a file. */
  static notAFile(path: string): P2PError {
    return new P2PError("MALFORMED", `${path} is not a regular file`);
  }

  /** The status line a server answers with for this error. */
  get wireStatus(): { status: number; reason: string } {
    if (this.code === "UNREACHABLE" || this.code === "CLOSED" || this.code === "REFUSED") return STATUS.UNAVAILABLE;
    return STATUS[this.code];
  }
}

/** The status name for a numeric wire status, or ERROR for a code this version does not know. */
export function statusName(status: number): StatusName {
  for (const [name, entry] of Object.entries(STATUS)) {
    if (entry.status === status) return name as StatusName;
  }
  return "ERROR";
}

export function isP2PError(error: unknown, code?: ErrorCode): error is P2PError {
  return error instanceof P2PError && (code === undefined || error.code === code);
}

/** Longest piece of outside text an error message quotes. */
export const MAX_QUOTED_CHARS = 80;

/** Outside text as an error quotes it: at most MAX_QUOTED_CHARS characters, so a hostile value cannot flood a log. */
export function quote(value: string, maxChars = MAX_QUOTED_CHARS): string {
  return value.length > maxChars ? `${value.slice(0, maxChars)}…` : value;
}

export function asP2PError(error: unknown): P2PError {
  if (error instanceof P2PError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new P2PError("ERROR", message, { cause: error });
}
