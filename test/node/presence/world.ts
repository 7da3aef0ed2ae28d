// Nodes with their presence in one process: ring nodes on the memory transport, a DNS in memory, a network that can be cut, time moved by hand.

import { KnownPeers } from "../../../src/node/known-peers";
import { ChordNode } from "../../../src/node/ring/chord";
import { MemoryNetwork } from "../../../src/node/ring/memory-transport";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import { settle, simAddress, sortedById } from "../../../src/node/ring/sim/simulation";
import { peerAt, type Peer } from "../../../src/model/peer";
import type { RingTransport } from "../../../src/model/ring-transport";
import { type PresenceOptions, RingPresence } from "../../../src/node/ring-presence";
import type { Cancel, Timers } from "../../../src/node/timers";
import { P2PError } from "../../../src/protocol/errors";
import { tempDir } from "../../helpers/wait";

export const HEARTBEAT_MS = 2_000;
export const RETRY_MS = 500;
/** Time between two maintenance rounds, as a node's default `--stabilize`. */
export const ROUND_MS = 500;
/** Bound on the timers one `advance` may run: a timer that keeps re-arming itself at zero delay would spin forever. */
const MAX_TIMERS_PER_ADVANCE = 10_000;

/** Timers and a clock that move only when a test says so; every task a timer starts settles before the next timer runs. */
export class ManualTime implements Timers {
  now = 1_700_000_000_000;
  private readonly pending = new Set<{ at: number; every: number | null; task: () => void }>();

  readonly clock = (): number => this.now;

  after(ms: number, task: () => void): Cancel {
    return this.add({ at: this.now + ms, every: null, task });
  }

  every(ms: number, task: () => void): Cancel {
    return this.add({ at: this.now + ms, every: ms, task });
  }

  /** Timers set and neither fired (one-shot) nor cancelled. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves the clock `ms` forward and fires nothing on the way, as a stopped process sees it: due timers fire late, at the next `advance`. */
  freeze(ms: number): void {
    this.now += ms;
  }

  /** Moves the clock `ms` forward, running each timer due on the way at its time, in order. */
  async advance(ms: number, idle: () => Promise<void> = flush): Promise<void> {
    const end = this.now + ms;
    // Work started before this call sets its timers first, at the time it was started.
    await idle();
    for (let fired = 0; fired < MAX_TIMERS_PER_ADVANCE; fired++) {
      const next = [...this.pending].filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.now = Math.max(this.now, next.at); // a timer overdue after `freeze` fires late, at the present
      if (next.every === null) this.pending.delete(next);
      else next.at += next.every;
      next.task();
      await idle();
    }
    this.now = end;
    await idle();
  }

  private add(timer: { at: number; every: number | null; task: () => void }): Cancel {
    this.pending.add(timer);
    return () => this.pending.delete(timer);
  }
}

/** Lets every promise chain started so far run to its end (the memory network answers on microtasks only). */
export async function flush(): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** An introducer in memory, with the contract of `Introducers`: JOIN registers and lists up to 5 others, LEAVE forgets. */
export class FakeDns {
  readonly address = "127.0.0.1:7494";
  /** Down: every call fails as an unreachable DNS does. */
  down = false;
  /** Which registered peers it lists to whom (a test splits the world with it); every one by default. */
  lists: (asker: Peer, peer: Peer) => boolean = () => true;
  readonly registered = new Map<string, Peer>();
  /** Each JOIN as it arrived, answered or not: when (the world's clock) and from whom. */
  readonly joins: { at: number; address: string }[] = [];

  constructor(private readonly clock: () => number) {}

  async join(self: Peer): Promise<{ peers: Peer[]; failed: { address: string; error: P2PError }[] }> {
    this.joins.push({ at: this.clock(), address: self.address });
    await undefined;
    if (this.down) throw new P2PError("UNREACHABLE", `cannot connect to ${this.address}`);
    this.registered.set(self.address, self);
    const peers = [...this.registered.values()].filter((peer) => peer.address !== self.address && this.lists(self, peer));
    return { peers: peers.slice(0, 5), failed: [] };
  }

  async leave(peerId: string): Promise<void> {
    await undefined;
    if (this.down) throw new P2PError("UNREACHABLE", `cannot connect to ${this.address}`);
    for (const [address, peer] of this.registered) if (peer.id === peerId) this.registered.delete(address);
  }
}

/** One node: its ring, its presence, and what the presence did to it. */
export class WorldNode {
  readonly presence: RingPresence;
  /** Aborting it stops the node's presence, as `leave()` does in a real node. */
  readonly stopping = new AbortController();
  /** Whether the presence has the ring's maintenance running (a round maintains only these). */
  maintaining = false;
  /** How many times it merged into another ring. */
  merges = 0;

  constructor(
    readonly ring: ChordNode,
    readonly dataDir: string,
    options: Omit<PresenceOptions, "ring" | "maintenance" | "onMerged" | "signal">,
  ) {
    this.presence = new RingPresence({
      ...options,
      ring,
      maintenance: { start: () => (this.maintaining = true), stop: () => (this.maintaining = false) },
      signal: this.stopping.signal,
      onMerged: () => this.merges++,
    });
  }
}

/** One network, one DNS, one clock, and the nodes on them; `close()` removes their data directories. */
export class World {
  readonly time = new ManualTime();
  readonly network: MemoryNetwork;
  readonly dns = new FakeDns(this.time.clock);
  readonly nodes: WorldNode[] = [];
  /** Pairs of addresses that cannot reach each other (a partition); consulted on every ring call. */
  blocked: (from: string, to: string) => boolean = () => false;
  /** The longest wait between heartbeats for nodes added from now on (unset: heartbeats do not back off). */
  heartbeatMaxMs: number | undefined = undefined;
  private readonly dirs: { remove(): void }[] = [];

  constructor(seed = 1) {
    this.network = new MemoryNetwork(seed);
  }

  /** A node at the `index`-th simulated address, not yet started; `dataDir` reuses a stopped node's known-peers.json. */
  addNode(index: number, dataDir?: string): WorldNode {
    const address = simAddress(index);
    const self = peerAt(address);
    const transport = this.cuttable(address, this.network.transportFor(address));
    const ring = new ChordNode(self, transport, new MemoryRecordStore(), { clock: this.time.clock });
    this.network.listen(address, ring);
    const dir = dataDir ?? this.newDir();
    const node = new WorldNode(ring, dir, {
      dns: this.dns,
      transport,
      knownPeers: new KnownPeers(dir),
      heartbeatMs: HEARTBEAT_MS,
      heartbeatMaxMs: this.heartbeatMaxMs,
      retryMs: RETRY_MS,
      clock: this.time.clock,
      timers: this.time,
    });
    this.nodes.push(node);
    return node;
  }

  /** Starts `node`'s presence and moves time until it has joined (or failed), at most `maxMs`. */
  async start(node: WorldNode, maxMs = 60_000): Promise<void> {
    let outcome: { error: unknown } | null = null;
    node.presence.start().then(() => (outcome = { error: null }), (error: unknown) => (outcome = { error }));
    for (let waited = 0; outcome === null && waited <= maxMs; waited += 100) await this.advance(100);
    const result = outcome as { error: unknown } | null;
    if (result === null) throw new Error(`${node.ring.self.address} had not joined after ${maxMs} ms`);
    if (result.error !== null) throw result.error;
  }

  /** The node exits: its presence stops and nothing answers at its address. */
  remove(node: WorldNode): void {
    node.stopping.abort();
    this.network.remove(node.ring.self.address);
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  /** Moves time `ms` forward, every node's background work settling after each timer. */
  advance(ms: number): Promise<void> {
    return this.time.advance(ms, () => this.idle());
  }

  /** Maintenance rounds (time moving on by ROUND_MS after each, presence timers firing) until `done`, at most `maxRounds`. */
  async roundsUntil(done: () => boolean, maxRounds: number): Promise<number> {
    for (let round = 1; round <= maxRounds; round++) {
      for (const node of this.nodes) if (node.maintaining) await node.ring.maintain();
      await this.advance(ROUND_MS);
      if (done()) return round;
    }
    throw new Error(`not done after ${maxRounds} rounds`);
  }

  close(): void {
    for (const node of this.nodes) node.stopping.abort();
    for (const dir of this.dirs.splice(0)) dir.remove();
  }

  private async idle(): Promise<void> {
    await flush();
    await settle(this.nodes.map((node) => node.ring));
  }

  private newDir(): string {
    const dir = tempDir("p2p-presence-");
    this.dirs.push(dir);
    return dir.path;
  }

  /** `transport`, failing every call this world's `blocked` forbids as an unreachable peer does. */
  private cuttable(from: string, transport: RingTransport): RingTransport {
    const checked = <Args extends unknown[], Result>(call: (to: Peer, ...args: Args) => Promise<Result>) =>
      async (to: Peer, ...args: Args): Promise<Result> => {
        if (this.blocked(from, to.address)) {
          await undefined;
          throw new P2PError("UNREACHABLE", `${to.address} is cut off from ${from}`);
        }
        return call(to, ...args);
      };
    return {
      findSuccessorStep: checked(transport.findSuccessorStep),
      getNeighbours: checked(transport.getNeighbours),
      notify: checked(transport.notify),
      ping: checked(transport.ping),
      putRecords: checked(transport.putRecords),
      getRecords: checked(transport.getRecords),
      leaving: checked(transport.leaving),
    };
  }
}

/** Whether `nodes` form one ring: each one's predecessor and successor list are the true ones among them. */
export function isOneRing(nodes: readonly WorldNode[], successorListLength = 4): boolean {
  const sorted = sortedById(nodes.map((node) => node.ring));
  return sorted.every((ring, k) => {
    const { predecessor, successors } = ring.neighbours();
    if (sorted.length === 1) return successors.every((peer) => peer.address === ring.self.address);
    if (predecessor?.address !== sorted[(k - 1 + sorted.length) % sorted.length]!.self.address) return false;
    const expected = Math.min(successorListLength, sorted.length - 1);
    return successors.length === expected && successors.every((peer, s) => peer.address === sorted[(k + 1 + s) % sorted.length]!.self.address);
  });
}
