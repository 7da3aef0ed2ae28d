// One framed connection: the only owner of a socket's write queue, its `drain` handling and frame reassembly.

import type { Socket } from "bun";
import { P2PError } from "./errors";
import type { Frame, FrameDecoder } from "./frame";

export interface ConnectionEvents<Head> {
  /** Called once per complete frame, in arrival order. */
  frame(frame: Frame<Head>): void;
  /** The stream broke a protocol rule; the connection should answer 422 and close. */
  malformed(error: P2PError): void;
  /** Called once when the connection is gone, whatever the reason. */
  closed(reason: P2PError | null): void;
}

/**
 * Wraps one Bun socket. `socket.write()` may take only part of what it is given;
 * the rest waits here until `drain`, so callers never lose bytes and can await `flushed()`.
 */
export class FramedConnection<Head> {
  readonly remoteAddress: string;
  private readonly socket: Socket<FramedConnection<Head>>;
  private readonly decoder: FrameDecoder<Head>;
  private readonly events: ConnectionEvents<Head>;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushWaiters: Array<() => void> = [];
  private endWhenFlushed = false;
  private broken = false;
  private closedReason: P2PError | null | undefined = undefined;
  private resolveClosed: () => void = () => {};
  /** Resolves when the connection is gone. */
  readonly whenClosed: Promise<void> = new Promise((resolve) => (this.resolveClosed = resolve));

  constructor(socket: Socket<FramedConnection<Head>>, decoder: FrameDecoder<Head>, events: ConnectionEvents<Head>) {
    this.socket = socket;
    this.decoder = decoder;
    this.events = events;
    this.remoteAddress = socket.remoteAddress ?? "local";
    socket.data = this;
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Bytes accepted by `write` that the kernel has not taken yet. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Queues bytes in order; nothing is dropped while the connection lives. */
  write(parts: readonly Uint8Array[]): void {
    if (this.isClosed) return;
    for (const part of parts) {
      if (part.length === 0) continue;
      this.queue.push(part);
      this.queuedBytes += part.length;
    }
    this.flush();
  }

  /** Resolves when everything written so far is in the kernel's hands (or the connection closed). */
  flushed(): Promise<void> {
    if (this.queuedBytes === 0 || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** Closes after the queued bytes are sent: the polite close, used after a final reply. */
  end(): void {
    if (this.isClosed) return;
    this.endWhenFlushed = true;
    if (this.queuedBytes === 0) this.socket.end();
  }

  /** Closes now, dropping anything still queued. */
  destroy(reason: P2PError | null = null): void {
    if (this.isClosed) return;
    this.markClosed(reason);
    this.socket.terminate();
  }

  // The socket handlers of the listener or connector forward here.

  onData(chunk: Uint8Array): void {
    if (this.isClosed || this.endWhenFlushed || this.broken) return;
    let frames: Frame<Head>[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      // The stream's framing is lost: nothing after this point can be trusted.
      this.broken = true;
      this.events.malformed(asP2PError(error));
      return;
    }
    for (const frame of frames) {
      if (this.isClosed || this.endWhenFlushed) return;
      this.events.frame(frame);
    }
  }

  onDrain(): void {
    this.flush();
  }

  onTimeout(): void {
    const what = this.decoder.midFrame ? "stalled in the middle of a frame" : "idle";
    this.destroy(new P2PError("TIMEOUT", `connection to ${this.remoteAddress} ${what} for too long`));
  }

  onClose(error?: Error): void {
    const reason = error ? new P2PError("CLOSED", `connection to ${this.remoteAddress} failed: ${error.message}`) : null;
    this.markClosed(reason);
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = this.socket.write(head);
      if (written < 0) {
        this.destroy(new P2PError("CLOSED", `connection to ${this.remoteAddress} closed while writing`));
        return;
      }
      this.queuedBytes -= written;
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return; // the kernel is full: `drain` calls flush again
      }
      this.queue.shift();
    }
    this.resolveFlushWaiters();
    if (this.endWhenFlushed) this.socket.end();
  }

  private markClosed(reason: P2PError | null): void {
    if (this.isClosed) return;
    this.closedReason = reason;
    this.queue = [];
    this.queuedBytes = 0;
    this.resolveFlushWaiters();
    this.resolveClosed();
    this.events.closed(reason);
  }

  private resolveFlushWaiters(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The socket handlers every listener and connector shares: each forwards to the connection in `socket.data`. */
export function connectionHandlers<Head>() {
  return {
    data(socket: Socket<FramedConnection<Head>>, chunk: Uint8Array) {
      socket.data?.onData(chunk);
    },
    drain(socket: Socket<FramedConnection<Head>>) {
      socket.data?.onDrain();
    },
    timeout(socket: Socket<FramedConnection<Head>>) {
      socket.data?.onTimeout();
    },
    close(socket: Socket<FramedConnection<Head>>, error?: Error) {
      socket.data?.onClose(error);
    },
    error(socket: Socket<FramedConnection<Head>>, error: Error) {
      socket.data?.onClose(error);
    },
  };
}

export function asP2PError(error: unknown): P2PError {
  if (error instanceof P2PError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new P2PError("ERROR", message, { cause: error });
}
