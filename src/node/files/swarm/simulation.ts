// A swarm in one process and virtual time: one seeder and N downloaders, each with a rate-limited uplink, driving the production ChunkScheduler.

import { mulberry32 } from "../../../random";
import { holderRefreshDelay } from "../download";
import { MAX_CONCURRENT_CHUNK_READS, MAX_WAITING_CHUNK_REQUESTS } from "../upload-queue";
import { Bitfield } from "./bitfield";
import { ChunkScheduler, type SchedulerLimits } from "./scheduler";

export interface SwarmSimOptions {
  downloaders: number;
  chunks: number;
  /** Nominal size of a chunk: what its transfer costs on an uplink. */
  chunkBytes: number;
  /** Every node's upload limit. */
  uplinkBytesPerSecond: number;
  /** One-way delay of every message. */
  latencyMs?: number;
  /** How often a downloader re-reads the ring's holder list (default: as a download does), finding partial holders that announced since. */
  refreshMs?: number | ((elapsedMs: number) => number);
  /** Partial holders that claim every chunk and send wrong bytes. */
  liars?: number;
  /** Downloaders that start this long after the others. */
  late?: { count: number; afterMs: number };
  seed?: number;
  limits?: Partial<SchedulerLimits>;
  /** Virtual time after which the simulation gives up. */
  maxMs?: number;
  /** Requests a holder queues; past it, it answers "busy" at once. */
  queueLimit?: number;
}

export interface SwarmSimResult {
  /** Per downloader: virtual milliseconds from its own start to its last verified chunk; null if it never finished. */
  finishMs: (number | null)[];
  startMs: number[];
  /** F/X: the time the seeder needs to send the file once. */
  idealMs: number;
  /** Chunks the seeder sent (the file once is `chunks`). */
  seederChunksSent: number;
  /** Chunks that arrived with wrong bytes: rejected by verification, never stored. */
  rejectedChunks: number;
}

/** A node's queue as the UploadQueue has it: all but one of its concurrent reads wait on the uplink too. */
const SIM_QUEUE_LIMIT = MAX_CONCURRENT_CHUNK_READS - 1 + MAX_WAITING_CHUNK_REQUESTS;
/** Bounds the event loop, whatever the options. */
const MAX_EVENTS = 50_000_000;

export function simulateSwarm(options: SwarmSimOptions): SwarmSimResult {
  return new SwarmSimulation(options).run();
}

interface SimNode {
  id: number;
  address: string;
  kind: "seeder" | "downloader" | "liar";
  startMs: number;
  scheduler: ChunkScheduler | null;
  have: Bitfield;
  /** Announced on the ring (first chunk stored), and when. */
  announcedAt: number | null;
  complete: boolean;
  finishedAt: number | null;
  /** Peers whose HAVE updates reach this node. */
  following: Set<number>;
  followers: Set<number>;
  uplink: UplinkQueue;
  wakeAt: number | null;
  /** How often this node sent each chunk. */
  sent: Uint32Array;
}

interface PendingRequest {
  from: number;
  /** null: the holder picks among `wanted`. */
  index: number | null;
  wanted?: Bitfield;
}

// Requesters served round-robin, one chunk at a time, as the holder's UploadQueue does.
class UplinkQueue {
  busy = false;
  size = 0;
  private readonly rotation: number[] = [];
  private readonly queues = new Map<number, PendingRequest[]>();

  push(request: PendingRequest): void {
    let queue = this.queues.get(request.from);
    if (!queue) {
      this.queues.set(request.from, (queue = []));
      this.rotation.push(request.from);
    }
    queue.push(request);
    this.size++;
  }

  next(): PendingRequest | undefined {
    const from = this.rotation.shift();
    if (from === undefined) return undefined;
    const queue = this.queues.get(from)!;
    const request = queue.shift()!;
    this.size--;
    if (queue.length > 0) this.rotation.push(from);
    else this.queues.delete(from);
    return request;
  }
}

class SwarmSimulation {
  private readonly options: Required<Omit<SwarmSimOptions, "late" | "limits">> & Pick<SwarmSimOptions, "late" | "limits">;
  private readonly nodes: SimNode[] = [];
  private readonly events = new EventQueue();
  private readonly random: () => number;
  private now = 0;
  private seederSent = 0;
  private rejected = 0;

  constructor(options: SwarmSimOptions) {
    this.options = { latencyMs: 1, refreshMs: holderRefreshDelay, liars: 0, seed: 1, maxMs: 3_600_000, queueLimit: SIM_QUEUE_LIMIT, ...options };
    this.random = mulberry32(this.options.seed);
  }

  run(): SwarmSimResult {
    const { downloaders, chunks, liars, late } = this.options;
    this.addNode("seeder", 0);
    for (let index = 0; index < downloaders; index++) {
      const isLate = late !== undefined && index >= downloaders - late.count;
      this.addNode("downloader", isLate ? late.afterMs : 0);
    }
    for (let index = 0; index < liars; index++) this.addNode("liar", 0);
    for (const node of this.nodes) {
      if (node.kind === "downloader") this.events.push(node.startMs, () => this.start(node));
    }
    for (let count = 0; count < MAX_EVENTS; count++) {
      const event = this.events.pop();
      if (!event || event.at > this.options.maxMs) break;
      this.now = event.at;
      event.run();
      if (this.nodes.every((node) => node.kind !== "downloader" || node.complete)) break;
    }
    const downloadersList = this.nodes.filter((node) => node.kind === "downloader");
    return {
      finishMs: downloadersList.map((node) => (node.finishedAt === null ? null : node.finishedAt - node.startMs)),
      startMs: downloadersList.map((node) => node.startMs),
      idealMs: ((chunks * this.options.chunkBytes) / this.options.uplinkBytesPerSecond) * 1000,
      seederChunksSent: this.seederSent,
      rejectedChunks: this.rejected,
    };
  }

  private addNode(kind: SimNode["kind"], startMs: number): void {
    const id = this.nodes.length;
    const have = new Bitfield(this.options.chunks);
    if (kind !== "downloader") for (let index = 0; index < this.options.chunks; index++) have.set(index);
    this.nodes.push({
      id,
      address: `node-${id}`,
      kind,
      startMs,
      scheduler: null,
      have,
      announcedAt: kind === "liar" ? 0 : null,
      complete: kind === "seeder",
      finishedAt: null,
      following: new Set(),
      followers: new Set(),
      uplink: new UplinkQueue(),
      wakeAt: null,
      sent: new Uint32Array(this.options.chunks),
    });
  }

  private start(node: SimNode): void {
    node.scheduler = new ChunkScheduler({ chunkCount: this.options.chunks, clock: () => this.now, random: this.random, limits: this.options.limits });
    this.refresh(node);
  }

  /** Re-reads the holder list: the seeder, complete downloaders, and partial holders that announced. */
  private refresh(node: SimNode): void {
    if (node.complete || node.scheduler === null) return;
    for (const other of this.nodes) {
      if (other.id === node.id || node.scheduler.hasPeer(other.address)) continue;
      const complete = other.kind === "seeder" || other.complete;
      if (!complete && (other.announcedAt === null || other.announcedAt > this.now)) continue;
      // GET_HAVE: what it has now, seen one round trip later; then its updates follow.
      const snapshot = complete ? null : other.have.copy();
      other.followers.add(node.id);
      node.following.add(other.id);
      this.events.push(this.now + 2 * this.options.latencyMs, () => {
        node.scheduler?.setPeer(other.address, snapshot);
        this.pump(node);
      });
    }
    const { refreshMs } = this.options;
    const delay = typeof refreshMs === "number" ? refreshMs : refreshMs(this.now - node.startMs);
    this.events.push(this.now + delay, () => this.refresh(node));
    this.pump(node);
  }

  private pump(node: SimNode): void {
    const scheduler = node.scheduler;
    if (scheduler === null || node.complete) return;
    for (const assignment of scheduler.assign()) {
      const holder = this.nodes[Number(assignment.peer.slice(5))]!;
      const request: PendingRequest =
        assignment.index === null ? { from: node.id, index: null, wanted: assignment.wanted } : { from: node.id, index: assignment.index };
      this.events.push(this.now + this.options.latencyMs, () => this.arrive(holder, request));
    }
    const wake = scheduler.nextWakeAt();
    if (wake !== null && (node.wakeAt === null || wake < node.wakeAt || node.wakeAt <= this.now)) {
      node.wakeAt = wake;
      this.events.push(Math.max(wake, this.now), () => {
        if (node.wakeAt === wake) node.wakeAt = null;
        this.pump(node);
      });
    }
  }

  /** A request reaches a holder: answered "not yet" at once, or queued for its uplink. */
  private arrive(holder: SimNode, request: PendingRequest): void {
    if (holder.kind === "downloader" && request.index !== null && !holder.have.has(request.index)) {
      this.events.push(this.now + this.options.latencyMs, () => this.answerNotYet(holder, request));
      return;
    }
    if (holder.uplink.size >= this.options.queueLimit) {
      this.events.push(this.now + this.options.latencyMs, () => {
        const node = this.nodes[request.from]!;
        node.scheduler?.failed(holder.address, request.index, "busy");
        this.pump(node);
      });
      return;
    }
    holder.uplink.push(request);
    this.serveNext(holder);
  }

  private serveNext(holder: SimNode): void {
    if (holder.uplink.busy) return;
    const request = holder.uplink.next();
    if (!request) return;
    const index = request.index ?? this.leastSent(holder, request.wanted!);
    if (index === null) {
      this.events.push(this.now + this.options.latencyMs, () => this.answerNotYet(holder, request));
      this.serveNext(holder);
      return;
    }
    holder.sent[index]!++;
    holder.uplink.busy = true;
    const sendMs = (this.options.chunkBytes / this.options.uplinkBytesPerSecond) * 1000;
    if (holder.kind === "seeder") this.seederSent++;
    this.events.push(this.now + sendMs, () => {
      holder.uplink.busy = false;
      const genuine = holder.kind !== "liar";
      this.events.push(this.now + this.options.latencyMs, () => this.receive(this.nodes[request.from]!, holder, index, genuine, request.index === null));
      this.serveNext(holder);
    });
  }

  /** The holder's choice: of the chunks wanted that it has, the one it sent least (random among equals). */
  private leastSent(holder: SimNode, wanted: Bitfield): number | null {
    let best: number | null = null;
    let ties = 0;
    for (const index of wanted.indices()) {
      if (!holder.have.has(index)) continue;
      if (best === null || holder.sent[index]! < holder.sent[best]!) {
        best = index;
        ties = 1;
      } else if (holder.sent[index] === holder.sent[best]) {
        ties++;
        if (this.random() * ties < 1) best = index;
      }
    }
    return best;
  }

  private answerNotYet(holder: SimNode, request: PendingRequest): void {
    const node = this.nodes[request.from]!;
    node.scheduler?.failed(holder.address, request.index, "not-yet");
    this.pump(node);
  }

  private receive(node: SimNode, holder: SimNode, index: number, genuine: boolean, chosen: boolean): void {
    const scheduler = node.scheduler;
    if (scheduler === null || node.complete) return;
    // The downloader checks every chunk against the manifest's hash: wrong bytes never get stored.
    if (!genuine) {
      this.rejected++;
      scheduler.failed(holder.address, chosen ? null : index, "bad");
      this.pump(node);
      return;
    }
    if (scheduler.delivered(holder.address, index, chosen) === "write") {
      scheduler.stored(index);
      node.have.set(index);
      if (node.announcedAt === null) node.announcedAt = this.now + this.options.latencyMs;
      for (const followerId of node.followers) {
        const follower = this.nodes[followerId]!;
        this.events.push(this.now + this.options.latencyMs, () => {
          follower.scheduler?.peerHas(node.address, index);
          this.pump(follower);
        });
      }
      if (scheduler.complete) {
        node.complete = true;
        node.finishedAt = this.now;
        // Now a complete holder: its followers see it so at their next update.
        for (const followerId of node.followers) {
          const follower = this.nodes[followerId]!;
          this.events.push(this.now + this.options.latencyMs, () => follower.scheduler?.setPeer(node.address, null));
        }
        return;
      }
    }
    this.pump(node);
  }
}

// A binary heap of timed events; ties run in the order they were pushed, so every run is the same.
class EventQueue {
  private readonly heap: Array<{ at: number; seq: number; run: () => void }> = [];
  private seq = 0;

  push(at: number, run: () => void): void {
    const heap = this.heap;
    heap.push({ at, seq: this.seq++, run });
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  pop(): { at: number; run: () => void } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined) return undefined;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === index) break;
        [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
        index = smallest;
      }
    }
    return top;
  }
}

function before(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

