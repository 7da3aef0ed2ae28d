// Which record entries a node believes: signed by the holder their member names (its key learnt from its own address), and not dated ahead.

import { ConnectBudget, hostOfAddress } from "../protocol/connect-budget";
import { isP2PError, P2PError } from "../protocol/errors";
import { canonicalHolderAddress } from "../protocol/relayed-address";
import { RING } from "../wire/ring";
import { verifyEntry } from "./identity";
import { holderOf } from "./ring/record-quota";
import type { RecordEntry } from "../model/record";
import type { RingTransport } from "../model/ring-transport";
import type { TcpTransport } from "./tcp-transport";

/** How far ahead of this node's clock an entry's updatedAt may be: more is a forged "newest" write, refused. */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** Holders whose keys a node remembers; past it the book starts again (keys are re-learnt on demand). */
export const MAX_KNOWN_HOLDER_KEYS = 10_000;
/** How a refusal for a holder that does not answer KEY ends (a departed holder, when the entry is a removal). */
const DEPARTED_HOLDER = ", which does not answer KEY";
/** Ends the reason of a record refused only because its holder's key was not fetched now (a budget): the sender may try again shortly. */
export const KEY_CHECK_DEFERRED = "send it again later";
/** How long a holder that did not answer KEY is not asked again: its entries are refused meanwhile. */
const UNREACHABLE_HOLDER_RETRY_MS = 2_000;
/** A cached key that fails to verify an entry is re-learnt from the holder at most this often (a holder with a new key). */
const KEY_REFRESH_MS = 10_000;
/** Holders asked for their key at once while checking one batch. */
const KEY_FETCH_CONCURRENCY = 16;
/**
 * Holders at one IP whose keys one batch may make this node ask for (those it already knows do not
 * count); entries naming more holders at that IP are refused for now. A real host runs one node or a
 * few, so only a batch aimed at making this node connect to one address many times is cut short.
 */
export const MAX_KEY_FETCHES_PER_HOST_PER_BATCH = 4;

/**
 * Holders' public keys, learnt by asking each holder's own address (KEY) and remembered: trust on first
 * contact, as only the node listening at an address can answer for it.
 */
export class HolderKeys {
  private readonly known = new Map<string, { key: string | null; at: number }>();
  private readonly pending = new Map<string, Promise<string | null>>();

  constructor(
    private readonly transport: Pick<TcpTransport, "send">,
    private readonly self: { address: string; publicKey: string },
    private readonly clock: () => number = Date.now,
    /** Pays for every KEY request, shared with the node's other checks of peers named by others. */
    private readonly budget = new ConnectBudget(clock),
  ) {}

  /** Whether `keyOf(address, fresh)` would answer from what this node already knows, without asking the holder. */
  knows(address: string, fresh = false): boolean {
    if (address === this.self.address) return true;
    const cached = this.known.get(address);
    const age = cached ? this.clock() - cached.at : Infinity;
    return cached !== undefined && (cached.key === null ? age < UNREACHABLE_HOLDER_RETRY_MS : !fresh || age < KEY_REFRESH_MS);
  }

  /**
   * The key of the node at `address`, or null when it does not answer. `fresh` asks again unless asked
   * recently. Throws UNAVAILABLE when asking would overspend the connection budget (nothing is sent).
   */
  async keyOf(address: string, fresh = false): Promise<string | null> {
    if (address === this.self.address) return this.self.publicKey;
    if (this.knows(address, fresh)) return this.known.get(address)!.key;
    let asking = this.pending.get(address);
    if (!asking) {
      asking = this.fetch(address).finally(() => this.pending.delete(address));
      this.pending.set(address, asking);
    }
    return asking;
  }

  private async fetch(address: string): Promise<string | null> {
    let key: string | null = null;
    let asked = false;
    try {
      // The holder is named by whoever sent the entry: one connection per holder address, paid from the budget.
      key = await this.budget.spend(hostOfAddress(address), null, () => {
        asked = true;
        return this.transport.send(address, RING.KEY, undefined);
      });
    } catch (error) {
      if (!isP2PError(error)) throw error;
      // Refused by the budget: nothing was asked, so nothing is learnt (the holder is not taken as silent).
      if (!asked) throw error;
    }
    if (this.known.size >= MAX_KNOWN_HOLDER_KEYS) this.known.clear();
    this.known.set(address, { key, at: this.clock() });
    return key;
  }
}

/**
 * The address an entry's member names as its holder (`<item>@<ip:port>`), in its one spelling
 * (`[ip]:port` for IPv6), or null for a member that names none.
 */
export function holderAddress(member: string): string | null {
  if (!member.includes("@")) return null;
  try {
    return canonicalHolderAddress(holderOf(member), "holder");
  } catch {
    return null;
  }
}

/**
 * Splits entries into those to believe and the reasons for the rest. An entry naming a holder must name
 * it in its one spelling (else one holder could be many members: `::ffff:127.0.0.1:7495`, ...) and carry
 * that holder's signature; one without a holder address is a plain record (the generic PUT) and is taken
 * unsigned. Nothing may be dated more than MAX_CLOCK_SKEW_MS ahead.
 */
export async function checkEntries(entries: readonly RecordEntry[], keys: HolderKeys, now: number): Promise<{ believed: RecordEntry[]; refused: string[] }> {
  const verdicts = new Array<string | null>(entries.length).fill(null);
  const byHolder = new Map<string, number[]>();
  entries.forEach((entry, index) => {
    if (entry.updatedAt > now + MAX_CLOCK_SKEW_MS) {
      verdicts[index] = `record ${index} is dated ${entry.updatedAt - now} ms ahead of this node's clock (at most ${MAX_CLOCK_SKEW_MS})`;
      return;
    }
    const holder = holderAddress(entry.member);
    if (holder === null) return;
    const written = holderOf(entry.member);
    if (written !== holder) {
      verdicts[index] = `record ${index} names holder ${written.slice(0, 80)}, which is not how that address is written: ${holder}`;
      return;
    }
    if (entry.signature === undefined) {
      verdicts[index] = `record ${index} names holder ${holder} but is not signed`;
      return;
    }
    const indexes = byHolder.get(holder);
    if (indexes) indexes.push(index);
    else byHolder.set(holder, [index]);
  });
  const holders = [...byHolder.keys()];
  // Each KEY request this batch may cause counts against its host's share, a fresh one (after a failed signature) too.
  const fetchesAt = new Map<string, number>();
  const mayAsk = (holder: string, fresh: boolean) => {
    if (keys.knows(holder, fresh)) return true;
    const host = hostOfAddress(holder);
    const asked = fetchesAt.get(host) ?? 0;
    if (asked >= MAX_KEY_FETCHES_PER_HOST_PER_BATCH) return false;
    fetchesAt.set(host, asked + 1);
    return true;
  };
  const notAsked = (index: number, holder: string, why: string) =>
    `record ${index} names holder ${holder}, whose key this node did not ask for now (${why}); ${KEY_CHECK_DEFERRED}`;
  for (let at = 0; at < holders.length; at += KEY_FETCH_CONCURRENCY) {
    await Promise.all(
      holders.slice(at, at + KEY_FETCH_CONCURRENCY).map(async (holder) => {
        const indexes = byHolder.get(holder)!;
        const refuse = (reason: (index: number) => string) => indexes.forEach((index) => (verdicts[index] = reason(index)));
        try {
          if (!mayAsk(holder, false)) return refuse((index) => notAsked(index, holder, `more than ${MAX_KEY_FETCHES_PER_HOST_PER_BATCH} unknown holders at ${hostOfAddress(holder)} in one batch`));
          let key = await keys.keyOf(holder);
          const fails = (index: number) => key === null || !verifyEntry(entries[index]!, key);
          if (key !== null && indexes.some(fails) && mayAsk(holder, true)) key = await keys.keyOf(holder, true);
          for (const index of indexes) {
            if (key === null) verdicts[index] = `record ${index} names holder ${holder}${DEPARTED_HOLDER}`;
            else if (fails(index)) verdicts[index] = `record ${index} is not signed by its holder ${holder}`;
          }
        } catch (error) {
          if (!isP2PError(error)) throw error;
          refuse((index) => notAsked(index, holder, error.message));
        }
      }),
    );
  }
  return {
    believed: entries.filter((_, index) => verdicts[index] === null),
    refused: verdicts.filter((verdict): verdict is string => verdict !== null),
  };
}

/**
 * What a PUT_RECORDS receiver stores: the believed entries; when none is, 422 with the first reason. A batch partly
 * refused is a warning, except when every refusal is a removal by a holder that no longer answers KEY: a node that
 * left gracefully withdrew its files first, and its removals travel on with replication after it has gone. They are
 * still refused (nothing can check them), as a debug line.
 */
export async function admitEntries(
  entries: RecordEntry[],
  keys: HolderKeys,
  now: number,
  warn: (message: string) => void,
  debug: (message: string) => void = warn,
): Promise<RecordEntry[]> {
  const { believed, refused } = await checkEntries(entries, keys, now);
  if (refused.length === 0) return believed;
  if (believed.length === 0) throw new P2PError("MALFORMED", `${refused.length} of ${entries.length} records refused: ${refused[0]}`);
  const kept = new Set(believed);
  const departed = refused.every((reason) => reason.endsWith(DEPARTED_HOLDER)) && entries.every((entry) => kept.has(entry) || entry.deleted);
  (departed ? debug : warn)(`refused ${refused.length} of ${entries.length} records: ${refused[0]}`);
  return believed;
}

/** `transport` whose GET_RECORDS answers are checked like stored entries: a lying peer cannot forge holders' entries. */
export function checkingReads(transport: RingTransport, keys: HolderKeys, clock: () => number): RingTransport {
  return {
    ...bindAll(transport),
    getRecords: async (to, key) => (await checkEntries(await transport.getRecords(to, key), keys, clock())).believed,
  };
}

function bindAll(transport: RingTransport): RingTransport {
  return {
    findSuccessorStep: (to, key, avoid) => transport.findSuccessorStep(to, key, avoid),
    getNeighbours: (to) => transport.getNeighbours(to),
    notify: (to, candidate) => transport.notify(to, candidate),
    ping: (to) => transport.ping(to),
    putRecords: (to, entries) => transport.putRecords(to, entries),
    getRecords: (to, key) => transport.getRecords(to, key),
    leaving: (to, leaver, predecessor, successors) => transport.leaving(to, leaver, predecessor, successors),
  };
}
