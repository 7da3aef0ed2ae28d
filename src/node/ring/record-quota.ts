// What one node agrees to store for the ring: bounds per key, per holder and in all, so a flood of fake records costs it a bounded amount.

import type { RecordEntry } from "./records";

/** Members one key may have on a node, tombstones included (a popular file's holders, a common word's files). */
export const MAX_MEMBERS_PER_KEY = 1_000;
/** Entries naming one holder (`<item>@<holder>`) that one node stores, across all keys. */
export const MAX_ENTRIES_PER_HOLDER = 10_000;
/** Entries one node stores in all, tombstones included. */
export const MAX_STORED_ENTRIES = 100_000;
/** Bytes of members and values one node stores in all. */
export const MAX_STORED_RECORD_BYTES = 64 * 1024 * 1024;

export interface QuotaLimits {
  membersPerKey: number;
  entriesPerHolder: number;
  entries: number;
  bytes: number;
}

export const DEFAULT_QUOTA: QuotaLimits = {
  membersPerKey: MAX_MEMBERS_PER_KEY,
  entriesPerHolder: MAX_ENTRIES_PER_HOLDER,
  entries: MAX_STORED_ENTRIES,
  bytes: MAX_STORED_RECORD_BYTES,
};

/**
 * Running totals of what a store holds, and the decision whether one more entry fits. Updates of
 * a member already stored always fit unless they grow past the byte bound: refusing them would
 * keep stale values, and a tombstone must always be able to replace what it deletes.
 */
export class RecordQuota {
  readonly limits: QuotaLimits;
  private entries = 0;
  private bytes = 0;
  private readonly perHolder = new Map<string, number>();
  /** Entries refused since start, for status. */
  refused = 0;

  constructor(limits: Partial<QuotaLimits> = {}) {
    this.limits = { ...DEFAULT_QUOTA, ...limits };
  }

  /** Why `entry` may not be stored, or null when it fits. `storedBytes` is the size of the member it replaces, if any. */
  refusal(entry: RecordEntry, storedBytes: number | null, membersOfKey: number): string | null {
    const size = entrySize(entry);
    if (storedBytes !== null) {
      return this.bytes - storedBytes + size > this.limits.bytes ? this.bytesFull() : null;
    }
    if (this.entries >= this.limits.entries) return `this node already stores ${this.limits.entries} records, its limit`;
    if (this.bytes + size > this.limits.bytes) return this.bytesFull();
    if (membersOfKey >= this.limits.membersPerKey) {
      return `key ${entry.key.slice(0, 12)} already has ${this.limits.membersPerKey} members, the most one key may hold`;
    }
    const holder = holderOf(entry.member);
    if ((this.perHolder.get(holder) ?? 0) >= this.limits.entriesPerHolder) {
      return `holder ${holder.slice(0, 64)} already has ${this.limits.entriesPerHolder} records on this node, the most one holder may have`;
    }
    return null;
  }

  added(member: string, size: number): void {
    this.entries++;
    this.bytes += size;
    const holder = holderOf(member);
    this.perHolder.set(holder, (this.perHolder.get(holder) ?? 0) + 1);
  }

  replaced(oldSize: number, newSize: number): void {
    this.bytes += newSize - oldSize;
  }

  removed(member: string, size: number): void {
    this.entries--;
    this.bytes -= size;
    const holder = holderOf(member);
    const left = (this.perHolder.get(holder) ?? 1) - 1;
    if (left > 0) this.perHolder.set(holder, left);
    else this.perHolder.delete(holder);
  }

  private bytesFull(): string {
    return `this node already stores ${Math.round(this.limits.bytes / 1024 / 1024)} MiB of records, its limit`;
  }
}

/** Bytes an entry costs in the quota: its member and value (the key and numbers are fixed-size). */
export function entrySize(entry: Pick<RecordEntry, "member" | "value">): number {
  return entry.member.length + entry.value.length;
}

/** Members are `<item>@<holder address>`; a member without '@' is its own holder. */
export function holderOf(member: string): string {
  const at = member.lastIndexOf("@");
  return at < 0 ? member : member.slice(at + 1);
}
