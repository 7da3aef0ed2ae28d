// One framed connection: the only owner of a socket's write queue, its `drain` handling and frame reassembly.

import type { Socket } from "bun";
import { P2PError, asP2PError } from "./errors";
import { type ConnectionEvents, type ConnectionTimeouts, silenceLimitMs } from "./connection-events";
import type { Frame, FrameDecoder } from "./frame";
import type { LinkLayer } from "./link-layer";
import { RoleHold } from "./role-hold";
import type { ConnectionSink } from "./connection-sink";

/** Wraps one Bun socket. `socket.write()` may take only part of what it is given; the rest waits here until `drain`, so callers never lose bytes and can await `flushed()`. */
export class FramedConnection<Head> {
  readonly remoteAddress: string;
  /** The peer's port (0 on a Unix socket). */
  readonly remotePort: number;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushWaiters: Array<() => void> = [];
  private endWhenFlushed = false;
  private broken = false;
  private closedReason: P2PError | null | undefined = undefined;
  private resolveClosed: () => void = () => {};
  /** Between the last frame of one role and the first of the next (see `holdAfterFrames`). */
  private readonly hold = new RoleHold();
  private readonly openedAt = performance.now();
  private lastActivity = this.openedAt;
  private framesReceived = 0;
  private paused = false;
  private dropped = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sink: ConnectionSink | null = null;
  /** Resolves when the connection is gone. */
  readonly whenClosed: Promise<void> = new Promise((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly socket: Socket<FramedConnection<Head>>,
    private decoder: FrameDecoder<Head>,
    private events: ConnectionEvents<Head>,
    private timeouts: ConnectionTimeouts,
    private readonly layer?: LinkLayer,
  ) {
    this.remoteAddress = socket.remoteAddress || "local";
    this.remotePort = (socket as { remotePort?: number }).remotePort ?? 0;
    socket.data = this;
    // Bun's own socket timer ticks every 4 s and is not restarted by writes: a reply being sent would not
    // count as traffic. One timer of ours, checked lazily, restarts on every byte either way instead.
    socket.timeout(0);
    this.schedule(Math.min(timeouts.idleTimeoutMs, timeouts.firstFrameTimeoutMs ?? Number.POSITIVE_INFINITY));
    layer?.start({ send: (bytes) => this.enqueue([bytes]), fail: (reason) => this.destroy(reason) });
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Bytes accepted by `write` that the kernel has not taken yet. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Bytes still queued when the connection closed: dropped, never sent. */
  get droppedBytes(): number {
    return this.dropped;
  }

  /** True once a complete frame has arrived: the peer has spoken the protocol at least once. */
  get hasCompletedFrame(): boolean {
    return this.framesReceived > 0;
  }

  /** When `performance.now()` last saw a byte move either way. */
  get lastActivityAt(): number {
    return this.lastActivity;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops reading: the peer's writes back up into its own kernel buffers (TCP backpressure). */
  pauseReading(): void {
    if (this.isClosed || this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (this.isClosed || !this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** True while a frame has started and not finished, or bytes wait for a role change: the stream is mid-message. */
  get midFrame(): boolean {
    return this.decoder.midFrame || this.hold.bytes > 0;
  }

  /** After `frames` more frames, stop reading and keep what follows for `changeRole`: no byte of the next role is misread as this one's. */
  holdAfterFrames(frames: number): void {
    this.hold.arm(frames);
  }

  /** The same socket, write queue and cipher taken over in the other role (src/protocol/reversal.ts); held bytes are decoded at once. */
  changeRole<NewHead>(decoder: FrameDecoder<NewHead>, events: ConnectionEvents<NewHead>, timeouts: ConnectionTimeouts): FramedConnection<NewHead> {
    const changed = this as unknown as FramedConnection<NewHead>;
    [changed.decoder, changed.events, changed.timeouts, changed.framesReceived] = [decoder, events, timeouts, 0];
    // Once the new owner holds the connection (a held frame may reach it at once); reads wait in the hold till then.
    queueMicrotask(() => {
      for (const part of changed.hold.release()) changed.decode(part);
      changed.resumeReading();
    });
    return changed;
  }

  /** From now on bytes read, and `drain`, go to `sink`, not the decoder: one end of a relay's circuit. Writes, timeouts, closing unchanged. */
  divert(sink: ConnectionSink): void {
    this.sink = sink;
  }

  /** Queues bytes in order; nothing is dropped while the connection lives. */
  write(parts: readonly Uint8Array[]): void {
    if (this.isClosed) return;
    this.enqueue(this.layer ? this.layer.seal(parts) : parts);
  }

  private enqueue(parts: readonly Uint8Array[]): void {
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
    this.lastActivity = performance.now();
    this.events.received?.();
    if (this.layer) {
      let plaintext: Uint8Array[];
      try {
        plaintext = this.layer.receive(chunk);
      } catch (error) {
        // A peer outside the network, or bytes changed on the way: cut off, nothing answered.
        this.destroy(asP2PError(error));
        return;
      }
      for (const part of plaintext) {
        if (this.isClosed || this.endWhenFlushed || this.broken) return;
        this.deliver(part);
      }
      return;
    }
    this.deliver(chunk);
  }

  private deliver(chunk: Uint8Array): void {
    return this.sink ? this.sink.data(chunk) : this.decode(chunk);
  }

  private decode(chunk: Uint8Array): void {
    if (this.hold.holding) {
      this.keepForNextRole(chunk);
      return;
    }
    let frames: Frame<Head>[];
    let rest: Uint8Array;
    try {
      ({ frames, rest } = this.decoder.pushAtMost(chunk, this.hold.allowance));
    } catch (error) {
      // The stream's framing is lost: nothing after this point can be trusted.
      this.broken = true;
      this.events.malformed(asP2PError(error));
      return;
    }
    if (this.hold.counted(frames.length)) {
      this.pauseReading();
      this.keepForNextRole(rest);
    }
    for (const frame of frames) {
      if (this.isClosed || this.endWhenFlushed) return;
      this.framesReceived++;
      this.events.frame(frame);
    }
  }

  /** A peer that sends far more than its first frames of the next role before the link changed role is cut off. */
  private keepForNextRole(bytes: Uint8Array): void {
    if (!this.hold.keep(bytes)) this.destroy(new P2PError("MALFORMED", `${this.remoteAddress} sent too much before the link changed role`));
  }

  onDrain(): void {
    this.flush();
    if (this.isClosed) return;
    if (this.sink) this.sink.drained();
    else this.events.drained?.();
  }

  onTimeout(): void {
    this.timedOut();
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
      if (written > 0) this.lastActivity = performance.now();
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
    clearTimeout(this.timer);
    this.dropped = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    this.resolveFlushWaiters();
    this.layer?.close(reason);
    this.resolveClosed();
    this.events.closed(reason);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => this.checkTimeouts(), Math.max(10, delayMs));
    // The socket keeps a process alive while it is open; this timer alone must not.
    this.timer.unref?.();
  }

  private checkTimeouts(): void {
    if (this.isClosed) return;
    const now = performance.now();
    const { idleTimeoutMs, firstFrameTimeoutMs } = this.timeouts;
    if (firstFrameTimeoutMs !== undefined && this.framesReceived === 0 && now - this.openedAt >= firstFrameTimeoutMs) {
      this.destroy(new P2PError("TIMEOUT", `connection from ${this.remoteAddress} sent no complete request within ${firstFrameTimeoutMs} ms`));
      return;
    }
    const idleFor = now - this.lastActivity;
    const limitMs = silenceLimitMs(this.timeouts, !this.midFrame && this.queuedBytes === 0);
    if (idleFor >= limitMs) {
      this.timedOut();
      return;
    }
    // Checked at least every idleTimeoutMs: work that starts on a quiet link must time out as soon as on any other.
    let next = Math.min(limitMs - idleFor, idleTimeoutMs);
    if (firstFrameTimeoutMs !== undefined && this.framesReceived === 0) next = Math.min(next, firstFrameTimeoutMs - (now - this.openedAt));
    this.schedule(next);
  }

  private timedOut(): void {
    const what = this.decoder.midFrame ? "stalled in the middle of a frame" : "idle";
    this.destroy(new P2PError("TIMEOUT", `connection to ${this.remoteAddress} ${what} for too long`));
  }

  private resolveFlushWaiters(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
