// Iterative Chord lookups: ask the closest known node, step by step, routing around nodes that do not answer, and check the answer before believing it.

import { isP2PError, P2PError } from "../../protocol/errors";
import { inOpenInterval, type RingId } from "../../model/id";
import type { RoutingTable } from "./routing-table";
import type { LookupStep, Neighbours, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/** Contradicted answers one lookup sets aside (each time avoiding the peer that gave it) before it takes the last one anyway. */
export const MAX_CONTRADICTIONS = 3;
/** Witnesses from this node's own tables one check PINGs (each one that is silent is set aside for the next) before it believes one unasked. */
export const MAX_WITNESS_PINGS = 3;
/** A peer whose answers are contradicted is named in the log at most this often. */
const SUSPECT_WARNING_INTERVAL_MS = 60_000;
/**
 * How long a peer's answers may go on being contradicted before it is named at warn level. An honest
 * peer is contradicted while its tables are behind a join next to it, and catches up within a few
 * rounds of its upkeep (each at most its longest maintenance period, 8 s by default); one still
 * contradicted after this is lying, or stuck. Until then it is a debug line.
 */
export const STALE_TABLES_GRACE_MS = 30_000;
/** A first contradiction older than this is forgotten: a later one is another join's, and starts the grace again. */
const CONTRADICTION_MEMORY_MS = 5 * 60_000;
/** Suspects remembered for the rate limit above; past it the book starts again. */
const MAX_REMEMBERED_SUSPECTS = 256;

export type LookupResult = {
  peer: Peer;
  /** FIND_SUCCESSOR calls made. */
  hops: number;
  /** Calls made to check answers (GET_NEIGHBOURS of the claimed successor). */
  checks: number;
  /** The successor's own GET_NEIGHBOURS answer, when the check asked for it: its successors are the key's replicas. */
  neighbours?: Neighbours;
};

export type RouteOptions = {
  /** Also ask the claimed successor for its predecessor (one call): it must not lie between the key and itself. */
  confirm?: boolean;
};

export type LookupOptions = {
  maxLookupCalls: number;
  clock: () => number;
  /** A peer's answers went on being contradicted past STALE_TABLES_GRACE_MS: it is suspect. */
  warn: (message: string) => void;
  /** A contradicted answer within the grace: most likely tables behind a join. */
  debug?: (message: string) => void;
  /** Every contradicted answer, as it happens: a sign the ring is changing. */
  contradicted?: (from: Peer) => void;
};

/** Where a lookup walk ended: the answer and who gave it (null: this node's own tables). */
type Walk = { peer: Peer; hops: number; from: Peer | null };

export class Lookup {
  private readonly table: RoutingTable;
  private readonly transport: RingTransport;
  private readonly options: LookupOptions;
  /** address -> when it was last named in a warning. */
  private readonly warned = new Map<string, number>();
  /** address -> when its answers were first contradicted (within CONTRADICTION_MEMORY_MS). */
  private readonly firstContradicted = new Map<string, number>();

  constructor(table: RoutingTable, transport: RingTransport, options: LookupOptions) {
    this.table = table;
    this.transport = transport;
    this.options = options;
  }

  /**
   * Iterative lookup from `start` (null: this node's own tables). When a node does not answer it
   * is added to `avoid` and the last node that did answer is asked again for its next-best hop.
   *
   * From this node's own tables the answer is checked: a live node this node knows of that lies
   * strictly between the key and the claimed successor (this node itself, often: a peer that
   * answers "me" for every key sits before the key on our path) contradicts it, as does, with
   * `confirm`, the claimed successor naming a predecessor there. The peer that gave a contradicted
   * answer is added to `avoid` (suspect for the rest of this lookup) and the lookup starts again
   * from this node's tables. A lookup `start`ing elsewhere walks another ring (a merge probe, a
   * join): this node's tables say nothing about it, so it is not checked.
   */
  async route(start: Peer | null, key: RingId, avoid: Set<string>, options: RouteOptions = {}): Promise<LookupResult> {
    if (start !== null) {
      const walk = await this.walk(start, key, avoid);
      return { peer: walk.peer, hops: walk.hops, checks: 0 };
    }
    let hops = 0;
    let checks = 0;
    for (let contradictions = 0; ; contradictions++) {
      const walk = await this.walk(null, key, avoid);
      hops += walk.hops;
      if (walk.from === null) return { peer: walk.peer, hops, checks };
      const verdict = await this.check(key, walk.peer, avoid, options.confirm === true);
      checks += verdict.calls;
      if (verdict.witness === null) return { peer: walk.peer, hops, checks, neighbours: verdict.neighbours };
      const taken = contradictions >= MAX_CONTRADICTIONS;
      this.options.contradicted?.(walk.from);
      this.suspect(walk.from, key, walk.peer, verdict.witness, taken);
      if (taken) return { peer: walk.peer, hops, checks };
      avoid.add(walk.from.address);
    }
  }

  /** One walk to an answer; `from` is the peer whose answer it is. */
  private async walk(start: Peer | null, key: RingId, avoid: Set<string>): Promise<Walk> {
    const self = this.table.self;
    const answered: (Peer | null)[] = [];
    let asking: Peer | null = start;
    let hops = 0;
    for (let step = 0; step < 2 * this.options.maxLookupCalls; step++) {
      let answer: LookupStep;
      const remote = asking !== null && asking.address !== self.address;
      if (!remote) {
        answer = this.table.nextStep(key, avoid);
      } else {
        if (hops >= this.options.maxLookupCalls) break;
        hops++;
        try {
          answer = await this.transport.findSuccessorStep(asking!, key, [...avoid]);
        } catch (error) {
          this.table.noteFailure(error, asking!);
          avoid.add(asking!.address);
          const previous = answered.pop();
          if (previous === undefined) throw error;
          asking = previous;
          continue;
        }
      }
      if (answer.done) return { peer: answer.peer, hops, from: remote ? asking : null };
      answered.push(asking);
      asking = answer.peer;
    }
    throw new P2PError("UNAVAILABLE", `lookup of ${key} gave up after ${hops} calls`);
  }

  /**
   * A live node between `key` and `successor` that proves the answer wrong, or null. This node's
   * tables cost one PING, and only when they hold such a node (`liveWitness`); `confirm` adds one
   * GET_NEIGHBOURS to the successor, whose answer (its successors) the caller may reuse. A successor
   * that does not answer passes: the caller's own call to it fails next and routes around it.
   */
  private async check(key: RingId, successor: Peer, avoid: Set<string>, confirm: boolean): Promise<{ witness: Peer | null; calls: number; neighbours?: Neighbours }> {
    const { witness: known, calls } = await this.liveWitness(key, successor, avoid);
    if (known !== null || !confirm || successor.address === this.table.self.address) return { witness: known, calls };
    let neighbours: Neighbours;
    try {
      neighbours = await this.transport.getNeighbours(successor);
    } catch (error) {
      if (!isP2PError(error)) throw error;
      return { witness: null, calls: calls + 1 };
    }
    const predecessor = neighbours.predecessor;
    if (predecessor !== null && key !== successor.id && inOpenInterval(predecessor.id, key, successor.id)) {
      return { witness: predecessor, calls: calls + 1 };
    }
    return { witness: null, calls: calls + 1, neighbours };
  }

  /**
   * A node of this node's own tables between `key` and `successor` that answers a PING, or null. A peer of the
   * tables may have died since they were filled (a finger to a node just killed), and a dead node proves nothing:
   * taken as a witness it would set aside a true answer, and the lookup would end on a worse one. Each witness
   * that does not answer is added to `avoid`; after MAX_WITNESS_PINGS the next one is believed unasked.
   */
  private async liveWitness(key: RingId, successor: Peer, avoid: Set<string>): Promise<{ witness: Peer | null; calls: number }> {
    for (let calls = 0; ; calls++) {
      const witness = this.table.knownBetween(key, successor, avoid);
      if (witness === null || witness.address === this.table.self.address || calls >= MAX_WITNESS_PINGS) return { witness, calls };
      try {
        await this.transport.ping(witness);
        return { witness, calls: calls + 1 };
      } catch (error) {
        this.table.noteFailure(error, witness);
        avoid.add(witness.address);
      }
    }
  }

  /** Logs a contradicted answer: at debug while the peer may just be behind a join, at warn (rate-limited) once that no longer explains it. */
  private suspect(from: Peer, key: RingId, answer: Peer, witness: Peer, taken: boolean): void {
    const now = this.options.clock();
    const outcome = taken ? `no answer could be checked after ${MAX_CONTRADICTIONS} tries; taking it` : "routing around it for this lookup";
    const claim = `lookup of ${key.slice(0, 8)}: ${from.address} answered that ${answer.address} is its successor, but ${witness.address} lies between them`;
    const first = this.firstContradicted.get(from.address);
    if (first === undefined || now - first > CONTRADICTION_MEMORY_MS) {
      if (this.firstContradicted.size >= MAX_REMEMBERED_SUSPECTS) this.firstContradicted.clear();
      this.firstContradicted.set(from.address, now);
      this.options.debug?.(`${claim} (its tables are probably behind a join); ${outcome}`);
      return;
    }
    if (now - first < STALE_TABLES_GRACE_MS) return;
    const last = this.warned.get(from.address);
    if (last !== undefined && now - last < SUSPECT_WARNING_INTERVAL_MS) return;
    if (this.warned.size >= MAX_REMEMBERED_SUSPECTS) this.warned.clear();
    this.warned.set(from.address, now);
    this.options.warn(`${claim}, and its answers have been contradicted for ${Math.round((now - first) / 1000)} s (it lies, or its tables are stuck); ${outcome}`);
  }
}
