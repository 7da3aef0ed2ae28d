// The peers of one file as a download sees them: who holds it, fully or in part, and the three requests a download makes of a holder.

import { isP2PError } from "../../../protocol/errors";
import type { Bitfield, HaveReport } from "../../../model/bitfield";
import type { RequestFailure } from "./scheduler";

export interface Holder {
  /** `ip:port`. */
  address: string;
  /** Announced while still downloading: it serves the chunks it has verified. */
  partial: boolean;
}

/**
 * What a download needs from the network. The TCP implementation speaks GET_CHUNK, GET_ANY_CHUNK
 * and GET_HAVE through the node's transport and asks the ring for holders; tests and simulations
 * provide their own.
 */
export interface FilePeers {
  /** The holders the ring lists now. */
  holders(): Promise<Holder[]>;
  /** One chunk. */
  chunk(address: string, index: number): Promise<Uint8Array>;
  /** A chunk of the holder's choice among `wanted` (the one it has sent least). */
  chosenChunk(address: string, wanted: Bitfield): Promise<{ index: number; bytes: Uint8Array }>;
  /** What the holder has; with `knownVersion`, it may wait a little for news before answering. */
  have(address: string, knownVersion: number | null): Promise<HaveReport>;
  /** The download is done with a chunk's bytes (written, or dropped): its buffer may be reused. */
  release?(bytes: Uint8Array): void;
  /** The download ended (done, failed or cancelled): requests still queued at holders are dropped. */
  close?(): void;
}

/** How a failed request counts against the holder: a status says it all. */
export function failureOf(error: unknown): RequestFailure {
  if (!isP2PError(error)) return "link";
  switch (error.code) {
    case "NOT_YET":
      return "not-yet";
    case "NOT_FOUND":
      return "missing";
    case "MALFORMED":
      return "bad"; // it does not speak of the same file
    case "UNAVAILABLE":
      return "busy";
    default:
      return "link";
  }
}
