// A swarm in one process and virtual time: one seeder and N downloaders, each with a rate-limited uplink, driving the production ChunkScheduler.

import { mulberry32 } from "../../../random";
import { holderRefreshDelay } from "../download";
import { MAX_CONCURRENT_CHUNK_READS, MAX_WAITING_BEHIND_OTHERS, MAX_WAITING_CHUNK_REQUESTS } from "../upload-queue";
import { Bitfield } from "../../../model/bitfield";
import { EventQueue } from "./event-queue";
import { ChunkScheduler } from "./scheduler";
import { type PendingRequest, type SimNode, type SwarmSimOptions, type SwarmSimResult, Uplink, leastSent } from "./simulation-nodes";

export type { SwarmSimOptions, SwarmSimProfile, SwarmSimResult } from "./simulation-nodes";

/** Bounds the event loop, whatever the options. */
const MAX_EVENTS = 50_000_000;

export function simulateSwarm(options: SwarmSimOptions): SwarmSimResult {
  return new SwarmSimulation(options).run();
}

class SwarmSimulation {
  private readonly options: Required<Omit<SwarmSimOptions, "late" | "limits">> & Pick<SwarmSimOptions, "late" | "limits">;
  private readonly nodes: SimNode[] = [];
  private readonly events = new EventQueue();
  private readonly random: () => number;
  private now = 0;
  private seederSent = 0;
  private rejected = 0;
  private seederUnsent: number;
  private readonly seederCopies: Uint32Array;
  private seederAllSentMs: number | null = null;
  private seederEarlyDuplicates = 0;
  private busyAnswers = 0;
  private notYetAnswers = 0;
  /** Downloaders not complete yet: the run ends at 0. */
  private downloading = 0;

  constructor(options: SwarmSimOptions) {
    this.options = { latencyMs: 1, jitter: 0.5, refreshMs: holderRefreshDelay, liars: 0, seed: 1, maxMs: 3_600_000, maxWaiting: MAX_WAITING_CHUNK_REQUESTS, ...options };
    this.random = mulberry32(this.options.seed);
    this.seederUnsent = this.options.chunks;
    this.seederCopies = new Uint32Array(this.options.chunks);
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
      if (node.kind !== "downloader") continue;
      this.downloading++;
      this.events.push(node.startMs, () => this.start(node));
    }
    let count = 0;
    for (; count < MAX_EVENTS; count++) {
      const event = this.events.pop();
      if (!event || event.at > this.options.maxMs) break;
      this.now = event.at;
      event.run();
      if (this.downloading === 0) break;
    }
    const downloadersList = this.nodes.filter((node) => node.kind === "downloader");
    const endMs = this.now;
    const seeder = this.nodes[0]!;
    const downloaderBusyMs = downloadersList.reduce((sum, node) => sum + node.uplinkBusyMs, 0);
    return {
      finishMs: downloadersList.map((node) => (node.finishedAt === null ? null : node.finishedAt - node.startMs)),
      startMs: downloadersList.map((node) => node.startMs),
      idealMs: ((chunks * this.options.chunkBytes) / this.options.uplinkBytesPerSecond) * 1000,
      seederChunksSent: this.seederSent,
      rejectedChunks: this.rejected,
      profile: {
        seederAllSentMs: this.seederAllSentMs,
        seederEarlyDuplicates: this.seederEarlyDuplicates,
        seederIdleMs: endMs - seeder.uplinkBusyMs,
        downloaderUplinkUse: downloaderBusyMs / Math.max(1, downloadersList.length * endMs),
        busyAnswers: this.busyAnswers,
        notYetAnswers: this.notYetAnswers,
        events: count,
      },
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
      uplink: new Uplink(),
      wakeAt: null,
      sent: new Uint32Array(this.options.chunks),
      uplinkBusyMs: 0,
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
      this.events.push(this.now + this.delay() + this.delay(), () => {
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
      this.events.push(this.now + this.delay(), () => this.arrive(holder, request));
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

  /** A request reaches a holder: answered "not yet" or "busy" at once, or queued for its uplink. */
  private arrive(holder: SimNode, request: PendingRequest): void {
    if (holder.kind === "downloader" && request.index !== null && !holder.have.has(request.index)) {
      this.events.push(this.now + this.delay(), () => this.answerNotYet(holder, request));
      return;
    }
    const { uplink } = holder;
    const behindOthers = uplink.turns.size - uplink.turns.waitingOf(String(request.from));
    if (uplink.taken.length >= MAX_CONCURRENT_CHUNK_READS && (uplink.turns.size >= this.options.maxWaiting || behindOthers >= MAX_WAITING_BEHIND_OTHERS)) {
      const evicted = uplink.turns.evictFor(String(request.from));
      if (!evicted) return this.answerBusy(holder, request);
      this.answerBusy(holder, evicted.item);
    }
    uplink.turns.push(String(request.from), request);
    this.take(holder);
  }

  private answerBusy(holder: SimNode, request: PendingRequest): void {
    this.busyAnswers++;
    this.events.push(this.now + this.delay(), () => {
      const node = this.nodes[request.from]!;
      node.scheduler?.failed(holder.address, request.index, "busy");
      this.pump(node);
    });
  }

  /** Requests leave the turns as reads free up; a chosen chunk is chosen then, as the ChunkServer does. */
  private take(holder: SimNode): void {
    const { uplink } = holder;
    while (uplink.taken.length < MAX_CONCURRENT_CHUNK_READS) {
      const turn = uplink.turns.next();
      if (!turn) break;
      const request = turn.item;
      const index = request.index ?? leastSent(holder, request.wanted!, this.random);
      if (index === null) {
        this.events.push(this.now + this.delay(), () => this.answerNotYet(holder, request));
        continue;
      }
      holder.sent[index]!++;
      uplink.taken.push({ request, index });
    }
    this.sendNext(holder);
  }

  /** The first request taken goes on the wire, paced at the uplink's rate. */
  private sendNext(holder: SimNode): void {
    const { uplink } = holder;
    const first = uplink.taken[0];
    if (uplink.sending || !first) return;
    const { request, index } = first;
    uplink.sending = true;
    const sendMs = (this.options.chunkBytes / this.options.uplinkBytesPerSecond) * 1000;
    holder.uplinkBusyMs += sendMs;
    if (holder.kind === "seeder") this.countSeederSend(index);
    this.events.push(this.now + sendMs, () => {
      uplink.sending = false;
      uplink.taken.shift();
      const genuine = holder.kind !== "liar";
      this.events.push(this.now + this.delay(), () => this.receive(this.nodes[request.from]!, holder, index, genuine, request.index === null));
      this.take(holder);
    });
  }

  /**
   * One message's one-way delay: the latency, give or take `jitter` of it. Without jitter, messages
   * sent at once arrive in the order sent, so requests for a new chunk reach its holder in the
   * order of node ids, and the same few nodes would win every race as no real network lets them.
   */
  private delay(): number {
    const { latencyMs, jitter } = this.options;
    return jitter === 0 ? latencyMs : latencyMs * (1 - jitter + 2 * jitter * this.random());
  }

  private countSeederSend(index: number): void {
    this.seederSent++;
    const copies = ++this.seederCopies[index]!;
    if (copies > 1 && this.seederUnsent > 0) this.seederEarlyDuplicates++;
    if (copies === 1 && --this.seederUnsent === 0) this.seederAllSentMs = this.now;
  }

  private answerNotYet(holder: SimNode, request: PendingRequest): void {
    this.notYetAnswers++;
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
      if (node.announcedAt === null) node.announcedAt = this.now + this.delay();
      for (const followerId of node.followers) {
        const follower = this.nodes[followerId]!;
        this.events.push(this.now + this.delay(), () => {
          if (follower.scheduler?.peerHas(node.address, index)) this.pump(follower);
        });
      }
      if (scheduler.complete) {
        node.complete = true;
        this.downloading--;
        node.finishedAt = this.now;
        // Now a complete holder: its followers see it so at their next update.
        for (const followerId of node.followers) {
          const follower = this.nodes[followerId]!;
          this.events.push(this.now + this.delay(), () => follower.scheduler?.setPeer(node.address, null));
        }
        return;
      }
    }
    this.pump(node);
  }
}
