// SHA-256 of downloaded chunks on a worker thread, so verifying one chunk overlaps with receiving the next.

import { sha256Hex } from "./manifest";

/**
 * Bodies smaller than this are hashed in place: the round trip to the worker costs more than it
 * saves. A 1 MiB chunk takes about 0.7 ms to hash, as long as it takes to receive.
 */
export const MIN_WORKER_HASH_BYTES = 64 * 1024;
/** Hashes waiting for the worker, in all; past it a chunk is hashed in place rather than queued without bound. */
export const MAX_QUEUED_HASHES = 64;

/**
 * One worker per node. Only bodies in shared memory (the transport's body pool) go to it: they
 * are hashed where they lie, with no copy and no transfer. Any other body, or any body once the
 * worker has failed, is hashed on the calling thread: a hash is never lost, only slower.
 */
export class ChunkHasher {
  private worker: Worker | null = null;
  private failed = false;
  private closed = false;
  private nextId = 0;
  private onWorker = 0;
  private inPlace = 0;
  private readonly onFailure: ((message: string) => void) | undefined;
  private readonly waiting = new Map<number, { resolve: (hex: string) => void; bytes: Uint8Array }>();

  /** `onFailure` hears, once, that the worker failed and hashing went back to the calling thread. */
  constructor(onFailure?: (message: string) => void) {
    this.onFailure = onFailure;
  }

  /** The SHA-256 of `bytes` as lowercase hex; never rejects. */
  hash(bytes: Uint8Array): Promise<string> {
    const shared = bytes.buffer instanceof SharedArrayBuffer;
    if (!shared || bytes.length < MIN_WORKER_HASH_BYTES || this.failed || this.closed || this.waiting.size >= MAX_QUEUED_HASHES) {
      this.inPlace++;
      return Promise.resolve(sha256Hex(bytes));
    }
    this.onWorker++;
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<string>((resolve) => {
      this.waiting.set(id, { resolve, bytes });
      worker.postMessage([id, bytes.buffer, bytes.byteOffset, bytes.length]);
    });
  }

  /** How many hashes went to the worker and how many were done in place. */
  stats(): { onWorker: number; inPlace: number } {
    return { onWorker: this.onWorker, inPlace: this.inPlace };
  }

  /** Stops the worker; hashes still waiting for it are done in place. */
  close(): void {
    this.closed = true;
    this.worker?.terminate();
    this.worker = null;
    this.hashWaitingInPlace();
  }

  private start(): Worker {
    const worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })));
    // The node's lifetime is decided by its sockets and signals, never by this helper thread.
    (worker as Worker & { unref(): void }).unref();
    worker.onmessage = (event: MessageEvent<[number, string]>) => {
      const [id, hex] = event.data;
      const waiter = this.waiting.get(id);
      this.waiting.delete(id);
      waiter?.resolve(hex);
    };
    worker.onerror = (event) => {
      // Not expected (the worker only hashes): hash in place from now on, and say so once.
      this.failed = true;
      this.worker = null;
      worker.terminate();
      this.onFailure?.(`the hashing thread failed (${event.message}); chunks are hashed on the main thread from now on`);
      this.hashWaitingInPlace();
    };
    this.worker = worker;
    return worker;
  }

  private hashWaitingInPlace(): void {
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiters) waiter.resolve(sha256Hex(waiter.bytes));
  }
}

/** Plain JavaScript: it runs from a Blob URL, which works the same from source and in the compiled binary. */
const WORKER_SOURCE = `
self.onmessage = (event) => {
  const [id, buffer, offset, length] = event.data;
  const hex = new Bun.CryptoHasher("sha256").update(new Uint8Array(buffer, offset, length)).digest("hex");
  self.postMessage([id, hex]);
};
`;
