// Reused buffers for large reply bodies: a download receives a gigabyte in 1 MiB bodies, and fresh ones pile up as garbage faster than it is collected.

/** How long kept buffers outlive the last body that needed one: a daemon between downloads should not hold them. */
export const POOL_IDLE_MS = 10_000;

/**
 * Buffers of one capacity, handed out for bodies that fill most of one and taken back by whoever
 * is done with the bytes. Only buffers this pool handed out are taken back, and only up to `max`:
 * a body nobody returns is ordinary garbage, never a leak. Once no body has been taken for
 * `idleMs`, the kept buffers are let go too.
 */
export class BodyPool {
  readonly capacity: number;
  private readonly max: number;
  private readonly idleMs: number;
  private free: ArrayBuffer[] = [];
  private readonly handedOut = new WeakSet<ArrayBuffer>();
  private lastTakenAt = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(capacity: number, max: number, idleMs = POOL_IDLE_MS) {
    this.capacity = capacity;
    this.max = max;
    this.idleMs = idleMs;
  }

  /** Buffers waiting to be handed out again. */
  get kept(): number {
    return this.free.length;
  }

  /** A buffer of `length` bytes: a pooled one when it fits well, else a fresh one. */
  take(length: number): Uint8Array {
    if (length > this.capacity || length < this.capacity / 2) return new Uint8Array(length);
    this.lastTakenAt = performance.now();
    const buffer = this.free.pop() ?? new ArrayBuffer(this.capacity);
    this.handedOut.add(buffer);
    return new Uint8Array(buffer, 0, length);
  }

  /** Gives back the buffer under `bytes` (any view of it); its contents must not be used again. */
  release(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.handedOut.has(buffer)) return;
    this.handedOut.delete(buffer);
    if (this.closed || this.free.length >= this.max) return;
    this.free.push(buffer);
    this.watchIdle(this.idleMs);
  }

  /** Lets every kept buffer go and stops the idle timer; buffers handed out may still be released, and are dropped. */
  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.free = [];
  }

  private letGo(): void {
    this.free = [];
    // An idle process allocates nothing, so nothing would ever collect them: once per idle spell, not per chunk.
    Bun.gc(true);
  }

  private watchIdle(delayMs: number): void {
    if (this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const idleFor = performance.now() - this.lastTakenAt;
      if (idleFor >= this.idleMs) this.letGo();
      else this.watchIdle(this.idleMs - idleFor);
    }, Math.max(1, delayMs));
    // Only a convenience: it must not keep a process alive that has nothing else to do.
    this.idleTimer.unref?.();
  }
}
