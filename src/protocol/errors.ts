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
