// Reused buffers for large reply bodies: a download receives a gigabyte in 1 MiB bodies, and fresh ones pile up as garbage faster than it is collected.

/**
 * Buffers of one capacity, handed out for bodies that fill most of one and taken back by whoever
 * is done with the bytes. Only buffers this pool handed out are taken back, and only up to `max`:
 * a body nobody returns is ordinary garbage, never a leak.
 */
export class BodyPool {
  readonly capacity: number;
  private readonly max: number;
  private readonly free: ArrayBuffer[] = [];
  private readonly handedOut = new WeakSet<ArrayBuffer>();

  constructor(capacity: number, max: number) {
    this.capacity = capacity;
    this.max = max;
  }

  /** A buffer of `length` bytes: a pooled one when it fits well, else a fresh one. */
  take(length: number): Uint8Array {
    if (length > this.capacity || length < this.capacity / 2) return new Uint8Array(length);
    const buffer = this.free.pop() ?? new ArrayBuffer(this.capacity);
    this.handedOut.add(buffer);
    return new Uint8Array(buffer, 0, length);
  }

  /** Gives back the buffer under `bytes` (any view of it); its contents must not be used again. */
  release(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.handedOut.has(buffer)) return;
    this.handedOut.delete(buffer);
    if (this.free.length < this.max) this.free.push(buffer);
  }
}
