// Which entries a node takes in from peers at all, before their signatures are checked: only for keys it holds, and only with a bounded lifetime.

import { P2PError } from "../../protocol/errors";
import type { RingId } from "../../model/id";
import type { RecordEntry } from "../../model/record";

/**
 * Longest lifetime an entry may have when it arrives: `expiresAt` at most this far past its `updatedAt`
 * (an announcement lives twice the announce interval, at most 2 x 24 h; a tombstone 24 h). Nothing from
 * the wire lives forever, so whatever a flood stores is gone by then, restarts included.
 */
export const MAX_RECORD_LIFETIME_MS = 2 * 24 * 60 * 60 * 1000;

/** What a node keeps of a PUT_RECORDS batch before signatures are checked, and why it drops the rest. */
export type Screened = { admitted: RecordEntry[]; refused: { code: "MALFORMED" | "CONFLICT"; reason: string }[] };

/**
 * Splits a batch into the entries this node may store and the reasons for the rest: an entry must expire
 * (within MAX_RECORD_LIFETIME_MS of its write), and this node must hold its key as primary or replica, or
 * it must be a tombstone of an entry this node stores (`held`, see `holdsEntry`), so a replayed entry
 * cannot settle where nobody looks after it.
 */
export function screenEntries(entries: readonly RecordEntry[], held: (entry: RecordEntry) => boolean): Screened {
  const screened: Screened = { admitted: [], refused: [] };
  entries.forEach((entry, index) => {
    if (entry.expiresAt === null) {
      screened.refused.push({ code: "MALFORMED", reason: `record ${index} never expires (expiresAt null); every record must expire within ${hours(MAX_RECORD_LIFETIME_MS)} h` });
    } else if (entry.expiresAt - entry.updatedAt > MAX_RECORD_LIFETIME_MS) {
      screened.refused.push({ code: "MALFORMED", reason: `record ${index} lives ${hours(entry.expiresAt - entry.updatedAt)} h, at most ${hours(MAX_RECORD_LIFETIME_MS)} h` });
    } else if (!held(entry)) {
      screened.refused.push({ code: "CONFLICT", reason: `record ${index} is for key ${entry.key.slice(0, 12)}, which this node is neither the primary nor a replica of` });
    } else {
      screened.admitted.push(entry);
    }
  });
  return screened;
}

/**
 * The entries of a batch this node may store; when none is, the first reason as an error (422, or 409 for a key it does not hold).
 * A batch partly refused is logged through `note`, which hears whether every refusal was for a key this node does not hold.
 */
export function admitScreened(entries: RecordEntry[], held: (entry: RecordEntry) => boolean, note: (message: string, onlyUnheld: boolean) => void): RecordEntry[] {
  const { admitted, refused } = screenEntries(entries, held);
  if (refused.length === 0) return admitted;
  const first = refused[0]!;
  if (admitted.length === 0) throw new P2PError(first.code, `${refused.length} of ${entries.length} records refused: ${first.reason}`);
  note(`refused ${refused.length} of ${entries.length} records: ${first.reason}`, refused.every((refusal) => refusal.code === "CONFLICT"));
  return admitted;
}

/**
 * Whether a node takes `entry` in: its key is one the node holds (`holdsKey`), or the entry is a tombstone of
 * a live entry the node stores (`storesLive`). The second stores nothing new, and without it a node that kept a
 * copy while its tables were behind (a holder before it was leaving) refused the withdrawal and served the stale
 * copy as live to every read that merges it, until it expired.
 */
export function holdsEntry(entry: RecordEntry, holdsKey: (key: RingId) => boolean, storesLive: (key: RingId, member: string) => boolean): boolean {
  return holdsKey(entry.key) || (entry.deleted && storesLive(entry.key, entry.member));
}

/**
 * How long records may go on arriving for keys this node does not hold before it says so at warn level. While the
 * ring changes, the sender's tables or this node's are behind a join or a leave (a replica pushed to a node that does
 * not know yet that a holder before it left), which the next rounds put right; refusals that go on are a stuck node
 * or a replay.
 */
export const UNHELD_REFUSAL_GRACE_MS = 30_000;
/** A spell of such refusals ends after this long without one; the next starts the grace again. */
const UNHELD_REFUSAL_QUIET_MS = 5 * 60_000;
/** The warning is repeated at most this often. */
const UNHELD_REFUSAL_WARNING_INTERVAL_MS = 60_000;

/** Logs partly refused batches: at warn level, except refusals of unheld keys within their grace, which are debug lines. */
export class RefusalLog {
  private spellStart = -Infinity;
  private lastAt = -Infinity;
  private warnedAt = -Infinity;

  constructor(
    private readonly warn: (message: string) => void,
    private readonly debug: (message: string) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  note(message: string, onlyUnheld: boolean): void {
    if (!onlyUnheld) return this.warn(message);
    const now = this.clock();
    if (now - this.lastAt > UNHELD_REFUSAL_QUIET_MS) this.spellStart = now;
    this.lastAt = now;
    const lasted = now - this.spellStart;
    if (lasted < UNHELD_REFUSAL_GRACE_MS || now - this.warnedAt < UNHELD_REFUSAL_WARNING_INTERVAL_MS) return this.debug(message);
    this.warnedAt = now;
    this.warn(`${message} (records for keys it does not hold have kept arriving for ${Math.round(lasted / 1000)} s: a node's tables are stuck, or a peer replays records)`);
  }
}

function hours(ms: number): string {
  return (ms / 3_600_000).toFixed(ms % 3_600_000 === 0 ? 0 : 1);
}
