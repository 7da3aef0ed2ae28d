// Where a ring node stores its records (src/model/record.ts): entries merged last-writer-wins, with tombstones.

import { inHalfOpenInterval, type RingId } from "../../model/id";
import { isLive, type RecordEntry } from "../../model/record";

/**
 * Where a node keeps its records. Synchronous on purpose: the SQLite store implements the same
 * interface, and ring handlers must answer without waiting.
 */
export interface RecordStore {
  /** Merges last-writer-wins (ties keep the stored entry); returns how many entries changed. */
  merge(entries: readonly RecordEntry[]): number;
  /** The live members of `key`: not deleted, not expired at `now`. */
  get(key: RingId, now: number): RecordEntry[];
  /** Every entry, tombstones included, whose key lies in the arc (from, to]. */
  inRange(from: RingId, to: RingId): RecordEntry[];
  /** Every entry, tombstones included. */
  all(): RecordEntry[];
  /** Up to `limit` live entries after `after` in (key, member) order (from the first when null): one page of a scan. */
  liveAfter(after: RecordCursor | null, now: number, limit: number): RecordEntry[];
  /** How many entries are stored, tombstones included. */
  count(): number;
  /** Drops entries (live or tombstones) whose expiresAt has passed; returns how many. */
  pruneExpired(now: number): number;
}

/** A position in a scan of the store: the (key, member) of the last entry read. */
export interface RecordCursor {
  key: RingId;
  member: string;
}

/** Whether `incoming` should replace `stored` under last-writer-wins. */
export function supersedes(incoming: RecordEntry, stored: RecordEntry | undefined): boolean {
  return stored === undefined || incoming.updatedAt > stored.updatedAt;
}

export class MemoryRecordStore implements RecordStore {
  private readonly byKey = new Map<RingId, Map<string, RecordEntry>>();
  private size = 0;

  merge(entries: readonly RecordEntry[]): number {
    let changed = 0;
    for (const entry of entries) {
      let members = this.byKey.get(entry.key);
      if (members === undefined) {
        members = new Map();
        this.byKey.set(entry.key, members);
      }
      const stored = members.get(entry.member);
      if (!supersedes(entry, stored)) continue;
      if (stored === undefined) this.size++;
      members.set(entry.member, { ...entry });
      changed++;
    }
    return changed;
  }

  get(key: RingId, now: number): RecordEntry[] {
    const members = this.byKey.get(key);
    if (members === undefined) return [];
    return [...members.values()].filter((entry) => isLive(entry, now)).map((entry) => ({ ...entry }));
  }

  liveAfter(after: RecordCursor | null, now: number, limit: number): RecordEntry[] {
    // Byte order, as SQLite's BINARY collation sorts: UTF-16 order differs for some members.
    const bytes = (text: string) => Buffer.from(text);
    const order = (a: { key: string; member: string }, b: { key: string; member: string }) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : Buffer.compare(bytes(a.member), bytes(b.member)));
    return [...this.byKey.values()]
      .flatMap((members) => [...members.values()])
      .filter((entry) => isLive(entry, now) && (after === null || order(entry, after) > 0))
      .sort(order)
      .slice(0, limit)
      .map((entry) => ({ ...entry }));
  }

  inRange(from: RingId, to: RingId): RecordEntry[] {
    const found: RecordEntry[] = [];
    for (const [key, members] of this.byKey) {
      if (!inHalfOpenInterval(key, from, to)) continue;
      for (const entry of members.values()) found.push({ ...entry });
    }
    return found;
  }

  all(): RecordEntry[] {
    const found: RecordEntry[] = [];
    for (const members of this.byKey.values()) {
      for (const entry of members.values()) found.push({ ...entry });
    }
    return found;
  }

  count(): number {
    return this.size;
  }

  pruneExpired(now: number): number {
    let pruned = 0;
    for (const [key, members] of this.byKey) {
      for (const [member, entry] of members) {
        if (entry.expiresAt === null || entry.expiresAt > now) continue;
        members.delete(member);
        pruned++;
      }
      if (members.size === 0) this.byKey.delete(key);
    }
    this.size -= pruned;
    return pruned;
  }
}
