// An in-process network of ring nodes for tests and simulation: deterministic, copy-only calls.

import { mulberry32 } from "../../random";
import { isP2PError, P2PError } from "../../protocol/errors";
import type { RingId } from "../../model/id";
import type { RecordEntry } from "../../model/record";
import type { LookupStep, Neighbours, RingHandlers, RingTransport } from "../../model/ring-transport";
import type { Peer } from "../../model/peer";

/**
 * Delivers every call on a later microtask, with arguments and results copied so no object is
 * shared between nodes. Nothing here uses timers or wall time, so a run is a pure function of
 * the seed and the order of calls.
 */
export class MemoryNetwork {
  /** The seeded generator simulations draw from (node choice, keys, failures). */
  readonly random: () => number;
  private readonly nodes = new Map<string, RingHandlers>();
  private readonly killed = new Set<string>();
  private readonly callsByOp = new Map<string, number>();

  constructor(seed = 1) {
    this.random = mulberry32(seed);
  }

  /** The transport the node at `address` calls through. */
  transportFor(address: string): RingTransport {
    return {
      findSuccessorStep: (to: Peer, key: RingId, avoid: string[]): Promise<LookupStep> =>
        this.deliver(address, to, "FIND_SUCCESSOR_STEP", (node) => node.handleFindSuccessorStep(copy(key), copy(avoid))),
      getNeighbours: (to: Peer): Promise<Neighbours> =>
        this.deliver(address, to, "GET_NEIGHBOURS", (node) => node.handleGetNeighbours()),
      notify: (to: Peer, candidate: Peer): Promise<void> =>
        this.deliver(address, to, "NOTIFY", (node) => node.handleNotify(copy(candidate), address === candidate.address)),
      ping: (to: Peer): Promise<void> => this.deliver(address, to, "PING", () => undefined),
      putRecords: (to: Peer, entries: RecordEntry[]): Promise<number> =>
        this.deliver(address, to, "PUT_RECORDS", (node) => node.handlePutRecords(copy(entries))),
      getRecords: (to: Peer, key: RingId): Promise<RecordEntry[]> =>
        this.deliver(address, to, "GET_RECORDS", (node) => node.handleGetRecords(copy(key))),
      leaving: (to: Peer, leaver: Peer, predecessor: Peer | null, successors: Peer[]): Promise<void> =>
        this.deliver(address, to, "LEAVING", (node) =>
          node.handleLeaving(copy(leaver), copy(predecessor), copy(successors)),
        ),
    };
  }

  /** Makes `handlers` answer calls addressed to `address`. */
  listen(address: string, handlers: RingHandlers): void {
    this.nodes.set(address, handlers);
    this.killed.delete(address);
  }

  /** A crash: the node stops answering and its own calls fail too. */
  kill(address: string): void {
    this.killed.add(address);
  }

  /** A node that left gracefully stops listening. */
  remove(address: string): void {
    this.nodes.delete(address);
  }

  isReachable(address: string): boolean {
    return this.nodes.has(address) && !this.killed.has(address);
  }

  /** How many calls were delivered so far. */
  get calls(): number {
    let total = 0;
    for (const count of this.callsByOp.values()) total += count;
    return total;
  }

  /** How many calls of one op (e.g. "FIND_SUCCESSOR_STEP") were delivered so far. */
  callsOf(op: string): number {
    return this.callsByOp.get(op) ?? 0;
  }

  private async deliver<T>(from: string, to: Peer, op: string, invoke: (node: RingHandlers) => T): Promise<T> {
    // A real network never answers within the caller's turn; neither does this one.
    await undefined;
    if (this.killed.has(from)) throw new P2PError("CLOSED", `${op} from ${from}: the caller is down`);
    const node = this.killed.has(to.address) ? undefined : this.nodes.get(to.address);
    if (node === undefined) throw new P2PError("UNREACHABLE", `${op} to ${to.address}: nothing answers`);
    this.callsByOp.set(op, (this.callsByOp.get(op) ?? 0) + 1);
    try {
      return copy(invoke(node));
    } catch (error) {
      // What crosses a wire is a status and a message, never the error object itself.
      if (isP2PError(error)) throw new P2PError(error.code, error.message);
      throw new P2PError("ERROR", `${op} to ${to.address} failed: ${String(error)}`);
    }
  }
}


function copy<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

export { mulberry32 };
