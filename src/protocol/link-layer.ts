// The port between a framed connection and what may sit under its framing (the private network's cipher).

import type { P2PError } from "./errors";

/**
 * An optional layer between the socket and the framing that sees every byte both ways: the private
 * network's cipher (src/protocol/secure-link.ts). The connection stays the only writer to the socket:
 * the layer hands its own bytes (handshake messages) to `LinkIo.send`, which queues them like any other.
 */
export interface LinkLayer {
  /** Called once by the connection's constructor. */
  start(io: LinkIo): void;
  /** Bytes read from the socket in, plaintext for the frame decoder out (none while it handshakes). Throws a P2PError to end the connection. */
  receive(chunk: Uint8Array): Uint8Array[];
  /** Plaintext to send in, bytes for the socket out; the layer may hold plaintext back (and return nothing) until it is ready. */
  seal(parts: readonly Uint8Array[]): Uint8Array[];
  /** The connection is gone. */
  close(reason: P2PError | null): void;
}

export interface LinkIo {
  /** Queues bytes for the socket as they are, in order with everything else. */
  send(bytes: Uint8Array): void;
  /** Ends the connection now (a handshake that timed out). */
  fail(reason: P2PError): void;
}
