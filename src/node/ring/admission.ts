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
 * (within MAX_RECORD_LIFETIME_MS of its write), and its key must be one this node holds as primary or
 * replica (`responsible`), so a replayed entry cannot settle where nobody looks after it.
 */
export function screenEntries(entries: readonly RecordEntry[], responsible: (key: RingId) => boolean): Screened {
  const screened: Screened = { admitted: [], refused: [] };
  entries.forEach((entry, index) => {
    if (entry.expiresAt === null) {
      screened.refused.push({ code: "MALFORMED", reason: `record ${index} never expires (expiresAt null); every record must expire within ${hours(MAX_RECORD_LIFETIME_MS)} h` });
    } else if (entry.expiresAt - entry.updatedAt > MAX_RECORD_LIFETIME_MS) {
      screened.refused.push({ code: "MALFORMED", reason: `record ${index} lives ${hours(entry.expiresAt - entry.updatedAt)} h, at most ${hours(MAX_RECORD_LIFETIME_MS)} h` });
    } else if (!responsible(entry.key)) {
      screened.refused.push({ code: "CONFLICT", reason: `record ${index} is for key ${entry.key.slice(0, 12)}, which this node is neither the primary nor a replica of` });
    } else {
      screened.admitted.push(entry);
    }
  });
  return screened;
}

/** The entries of a batch this node may store; when none is, the first reason as an error (422, or 409 for a key it does not hold). */
export function admitScreened(entries: RecordEntry[], responsible: (key: RingId) => boolean, warn: (message: string) => void): RecordEntry[] {
  const { admitted, refused } = screenEntries(entries, responsible);
  if (refused.length === 0) return admitted;
  const first = refused[0]!;
  if (admitted.length === 0) throw new P2PError(first.code, `${refused.length} of ${entries.length} records refused: ${first.reason}`);
  warn(`refused ${refused.length} of ${entries.length} records: ${first.reason}`);
  return admitted;
}

function hours(ms: number): string {
  return (ms / 3_600_000).toFixed(ms % 3_600_000 === 0 ? 0 : 1);
}
