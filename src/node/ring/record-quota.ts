// What one node agrees to store for the ring: bounds per key, per holder and in all, so a flood of fake records costs it a bounded amount.

import { canonicalHolderAddress } from "../../protocol/relayed-address";
import type { RecordEntry } from "../../model/record";

/** Members one key may have on a node, tombstones included (a popular file's holders, a common word's files). */
export const MAX_MEMBERS_PER_KEY = 1_000;
/** Entries naming one holder (`<item>@<holder>`) that one node stores, across all keys. */
export const MAX_ENTRIES_PER_HOLDER = 10_000;
/** Signed entries (their member names a holder address) one node stores in all, tombstones included. */
export const MAX_STORED_ENTRIES = 100_000;
/** Bytes of members and values of signed entries one node stores in all. */
export const MAX_STORED_RECORD_BYTES = 64 * 1024 * 1024;
/**
 * Unsigned entries (plain `put`s, whose member names no holder) one node stores: a budget of their
 * own, beside the signed one, so that anyone's flood of them never locks out an announcement.
 */
export const MAX_UNSIGNED_ENTRIES = 10_000;
/** Bytes of members and values of unsigned entries one node stores. */
export const MAX_UNSIGNED_RECORD_BYTES = 8 * 1024 * 1024;

export interface QuotaLimits {
  membersPerKey: number;
  entriesPerHolder: number;
  entries: number;
  bytes: number;
  unsignedEntries: number;
  unsignedBytes: number;
}

export const DEFAULT_QUOTA: QuotaLimits = {
  membersPerKey: MAX_MEMBERS_PER_KEY,
  entriesPerHolder: MAX_ENTRIES_PER_HOLDER,
  entries: MAX_STORED_ENTRIES,
  bytes: MAX_STORED_RECORD_BYTES,
  unsignedEntries: MAX_UNSIGNED_ENTRIES,
  unsignedBytes: MAX_UNSIGNED_RECORD_BYTES,
};

/** The running totals of one budget: signed entries, or unsigned ones. */
type Totals = { entries: number; bytes: number };

/**
 * Running totals of what a store holds, and the decision whether one more entry fits. Updates of
 * a member already stored always fit unless they grow past the byte bound: refusing them would
 * keep stale values, and a tombstone must always be able to replace what it deletes.
 */
export class RecordQuota {
  readonly limits: QuotaLimits;
  private readonly signed: Totals = { entries: 0, bytes: 0 };
  private readonly unsigned: Totals = { entries: 0, bytes: 0 };
  private readonly perHolder = new Map<string, number>();
  /** Unsigned members of each key that has any (at most `unsignedEntries` in all), so they never crowd signed ones out of a key. */
  private readonly unsignedPerKey = new Map<string, number>();
  /** Entries refused since start, for status. */
  refused = 0;

  constructor(limits: Partial<QuotaLimits> = {}) {
    this.limits = { ...DEFAULT_QUOTA, ...limits };
  }

  /** Why `entry` may not be stored, or null when it fits. `storedBytes` is the size of the member it replaces, if any. */
  refusal(entry: RecordEntry, storedBytes: number | null, membersOfKey: number): string | null {
    const size = entrySize(entry);
    const holder = signerOf(entry.member);
    const totals = holder === null ? this.unsigned : this.signed;
    const [maxEntries, maxBytes] = holder === null ? [this.limits.unsignedEntries, this.limits.unsignedBytes] : [this.limits.entries, this.limits.bytes];
    const kind = holder === null ? "unsigned records (plain puts)" : "records";
    const bytesFull = () => `this node already stores ${Math.round(maxBytes / 1024 / 1024)} MiB of ${kind}, its limit`;
    if (storedBytes !== null) {
      return totals.bytes - storedBytes + size > maxBytes ? bytesFull() : null;
    }
    if (totals.entries >= maxEntries) return `this node already stores ${maxEntries} ${kind}, its limit`;
    if (totals.bytes + size > maxBytes) return bytesFull();
    // Unsigned members may fill a key; signed ones count only among themselves, so a key crowded by plain puts still takes announcements.
    const crowd = holder === null ? membersOfKey : membersOfKey - (this.unsignedPerKey.get(entry.key) ?? 0);
    if (crowd >= this.limits.membersPerKey) {
      return `key ${entry.key.slice(0, 12)} already has ${this.limits.membersPerKey} members, the most one key may hold`;
    }
    if (holder !== null && (this.perHolder.get(holder) ?? 0) >= this.limits.entriesPerHolder) {
      return `holder ${holder.slice(0, 64)} already has ${this.limits.entriesPerHolder} records on this node, the most one holder may have`;
    }
    return null;
  }

  added(key: string, member: string, size: number): void {
    const holder = signerOf(member);
    const totals = holder === null ? this.unsigned : this.signed;
    totals.entries++;
    totals.bytes += size;
    if (holder !== null) this.perHolder.set(holder, (this.perHolder.get(holder) ?? 0) + 1);
    else this.unsignedPerKey.set(key, (this.unsignedPerKey.get(key) ?? 0) + 1);
  }

  replaced(member: string, oldSize: number, newSize: number): void {
    (signerOf(member) === null ? this.unsigned : this.signed).bytes += newSize - oldSize;
  }

  removed(key: string, member: string, size: number): void {
    const holder = signerOf(member);
    const totals = holder === null ? this.unsigned : this.signed;
    totals.entries--;
    totals.bytes -= size;
    decrement(holder === null ? this.unsignedPerKey : this.perHolder, holder ?? key);
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

/**
 * The holder address a member names, in one canonical `ip:port` form, or null when it names none (an
 * unsigned plain record). Entries that name one are stored only with that holder's signature, so
 * per-holder counts are counts per signer, whatever spelling of its address a member uses.
 */
export function signerOf(member: string): string | null {
  if (!member.includes("@")) return null;
  try {
    return canonicalHolderAddress(holderOf(member), "holder");
  } catch {
    return null;
  }
}

function decrement(counts: Map<string, number>, name: string): void {
  const left = (counts.get(name) ?? 1) - 1;
  if (left > 0) counts.set(name, left);
  else counts.delete(name);
}
