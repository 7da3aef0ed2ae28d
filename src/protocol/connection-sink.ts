// Where a diverted connection's bytes go instead of its frame decoder: one end of a relay's byte pipe (splice.ts).

export interface ConnectionSink {
  /** Bytes read (after the link layer: plaintext), in order; the chunk may be reused after the call. */
  data(chunk: Uint8Array): void;
  /** The kernel took queued bytes after a `drain`. */
  drained(): void;
}
