// Sends generated inputs to one server over several raw connections and checks every reply it gets back.

import type { Socket } from "bun";
import { readFileSync } from "node:fs";
import { type ResponseHead, responseDecoder } from "../../src/protocol/frame";
import type { FuzzInput, Random } from "./generate";

export interface FuzzStats {
  inputs: number;
  replies: number;
  byStatus: Record<number, number>;
  /** Every reply that broke a rule (500, an unknown status, bad framing), with the input that caused it. */
  violations: string[];
  connections: number;
  peakRssMb: number;
}

export interface DriveOptions {
  connect: { hostname: string; port: number } | { unix: string };
  next: () => FuzzInput;
  random: Random;
  /** Stop after this many inputs... */
  inputs: number;
  /** ...or this long, whichever comes first. */
  deadlineMs: number;
  workers: number;
  /** The server's pid, for its memory. */
  pid: number;
}

/** Statuses a server may answer with; 500 is not among them for generated input. */
const ALLOWED = new Set([200, 202, 400, 404, 409, 422, 503, 504]);
/** A batch whose replies stop for this long is abandoned (a lying length leaves the server waiting, rightly). */
const QUIET_MS = 400;

export async function drive(options: DriveOptions): Promise<FuzzStats> {
  const stats: FuzzStats = { inputs: 0, replies: 0, byStatus: {}, violations: [], connections: 0, peakRssMb: 0 };
  const deadline = Date.now() + options.deadlineMs;
  const sampler = setInterval(() => (stats.peakRssMb = Math.max(stats.peakRssMb, rssMb(options.pid))), 100);
  const more = () => stats.inputs < options.inputs && Date.now() < deadline && stats.violations.length < 20;
  try {
    await Promise.all(
      Array.from({ length: options.workers }, async () => {
        for (let round = 0; round < 1_000_000 && more(); round++) await oneConnection(options, stats, more);
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  stats.peakRssMb = Math.max(stats.peakRssMb, rssMb(options.pid));
  return stats;
}

/** One connection: batches of pipelined inputs, reused while the server keeps it open. */
async function oneConnection(options: DriveOptions, stats: FuzzStats, more: () => boolean): Promise<void> {
  const link = await RawLink.open(options.connect);
  stats.connections++;
  try {
    for (let batch = 0; batch < 50 && more() && !link.closed; batch++) {
      const inputs: FuzzInput[] = [];
      let expected = 0;
      let broken = false;
      for (let count = options.random.int(1, 12); inputs.length < count && more(); ) {
        const input = options.next();
        inputs.push(input);
        stats.inputs++;
        if (input.answerable) expected++;
        if (input.breaksStream || !input.answerable) {
          broken = true;
          break;
        }
      }
      const before = link.finals;
      for (const input of inputs) await link.send(input.bytes, options.random);
      await link.waitFor(before + expected, QUIET_MS);
      for (const head of link.takeHeads()) {
        stats.replies++;
        stats.byStatus[head.status] = (stats.byStatus[head.status] ?? 0) + 1;
        if (!ALLOWED.has(head.status)) stats.violations.push(`${head.status} ${head.reason} after ${describe(inputs)}: ${head.detail}`);
      }
      if (link.error) stats.violations.push(`bad framing from the server after ${describe(inputs)}: ${link.error}`);
      if (broken || link.finals < before + expected) break;
    }
  } finally {
    link.close();
  }
}

function describe(inputs: FuzzInput[]): string {
  return inputs.map((input) => `[${input.label}] ${JSON.stringify(new TextDecoder().decode(input.bytes.subarray(0, 160)))}`).join(" ");
}

/** A connection that records reply heads; writes respect backpressure. */
class RawLink {
  closed = false;
  error: string | null = null;
  finals = 0;
  private heads: Array<ResponseHead & { detail: string }> = [];
  private readonly decoder = responseDecoder();
  private socket!: Socket<RawLink>;
  private wake: (() => void) | null = null;
  private lastHeard = performance.now();
  private queue: Uint8Array[] = [];

  static async open(target: DriveOptions["connect"]): Promise<RawLink> {
    const link = new RawLink();
    link.socket = await Bun.connect<RawLink>({
      ...target,
      data: link,
      socket: {
        data: (socket, chunk) => socket.data.onData(chunk),
        drain: (socket) => socket.data.flush(),
        close: (socket) => socket.data.onClose(),
        error: (socket) => socket.data.onClose(),
      },
    } as Parameters<typeof Bun.connect<RawLink>>[0]);
    return link;
  }

  /** Sends one input cut at random points, letting the event loop run between pieces so they arrive split. */
  async send(bytes: Uint8Array, random: Random): Promise<void> {
    const cuts = random.chance(0.3) ? [random.int(0, bytes.length), random.int(0, bytes.length)].sort((a, b) => a - b) : [];
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      if (cut > from) {
        this.queue.push(bytes.subarray(from, cut));
        this.flush();
        if (cuts.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
      from = cut;
    }
  }

  flush(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      const written = this.socket.write(head);
      if (written < 0) return this.onClose();
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
    }
  }

  /** Resolves when `finals` reaches `count`, the connection closes, or nothing arrives for `quietMs`. */
  async waitFor(count: number, quietMs: number): Promise<void> {
    this.lastHeard = performance.now();
    for (let spin = 0; spin < 10_000 && !this.closed && this.finals < count && performance.now() - this.lastHeard < quietMs; spin++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, quietMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  takeHeads(): Array<ResponseHead & { detail: string }> {
    return this.heads.splice(0);
  }

  close(): void {
    this.closed = true;
    this.socket.terminate();
  }

  private onData(chunk: Uint8Array): void {
    this.lastHeard = performance.now();
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (frame.head.status !== 202) this.finals++;
        this.heads.push({ ...frame.head, detail: new TextDecoder().decode(frame.body.subarray(0, 200)).trim() });
      }
    } catch (error) {
      this.error = (error as Error).message;
      this.close();
    }
    this.wake?.();
  }

  private onClose(): void {
    this.closed = true;
    this.wake?.();
  }
}

export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
